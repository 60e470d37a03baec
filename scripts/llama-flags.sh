#!/usr/bin/env bash
# The CMAKE_ARGS for llama-cpp-python on this machine (see the Makefile for why these).
# x86-64 with AVX2+FMA+F16C: the portable AVX2 baseline, no -march=native, no AVX-512/AMX.
# x86-64 without them (pre-2013 Intel, some Atom/Celeron): SSE4.2 kernels only.
# Other architectures: llama.cpp's defaults for them, still without -march=native.
set -euo pipefail
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
case "$(uname -m)" in
    x86_64 | amd64)
        if [[ " $flags " == *" avx2 "* && " $flags " == *" fma "* && " $flags " == *" f16c "* ]]; then
            echo "-DGGML_NATIVE=OFF"
        else
            echo "-DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF"
        fi
        ;;
    *)
        echo "-DGGML_NATIVE=OFF"
        ;;
esac
