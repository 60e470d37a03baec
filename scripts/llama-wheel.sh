#!/usr/bin/env bash
# Build llama-cpp-python from source once, with the project's portable flags, into a
# wheelhouse folder keyed by version, flags, Python and compiler; print that folder.
#
# Why a keyed wheelhouse: pip's own wheel cache is keyed by the sdist alone, so a wheel built
# natively (-march=native) on another machine, or with other CMAKE_ARGS, would be reused
# silently, and such a build crashes or computes garbage on AVX-512/AMX CPUs.
#
#   scripts/llama-wheel.sh PYTHON VERSION "CMAKE_ARGS" WHEELHOUSE
set -euo pipefail
python=$1 version=$2 cmake_args=$3 wheelhouse=$4

tag=$("$python" -c 'import sys; print(sys.implementation.cache_tag)')
compiler=$( (${CC:-cc} --version 2>/dev/null || echo none) | head -n1)
key=$(printf '%s\n' "$version" "$cmake_args" "$tag" "$compiler" | sha256sum | cut -c1-16)
dir="$wheelhouse/llama-cpp-python-$version-$key"

if compgen -G "$dir/llama_cpp_python-$version-*.whl" > /dev/null; then
    echo "    llama-cpp-python $version: reusing the wheel built with these flags in $dir" >&2
    echo "$dir"
    exit 0
fi

mkdir -p "$wheelhouse"
tmp=$(mktemp -d "$wheelhouse/.build-XXXXXX")
log="$tmp/build.log"
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
{
    echo "    Compiling llama-cpp-python $version from source with CMAKE_ARGS=\"$cmake_args\"."
    echo "    This takes about 4-6 minutes on 2 cores, once per machine (the wheel is kept in"
    echo "    $dir). Full log: $log"
} >&2
start=$SECONDS
CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
    "$python" -m pip wheel --no-deps --no-binary llama-cpp-python --no-cache-dir \
    --progress-bar off -v -w "$tmp/wheel" "llama-cpp-python==$version" > "$log" 2>&1 &
build=$!
while kill -0 "$build" 2> /dev/null; do
    sleep 30
    if kill -0 "$build" 2> /dev/null; then
        # ninja prints [done/total], make prints [ NN%]
        step=$(grep -oE '^ *\[[0-9]+/[0-9]+\]|\[ *[0-9]+%\]' "$log" | tail -n1 | tr -d ' ' || true)
        echo "    ... still compiling ($((SECONDS - start)) s so far${step:+, step $step})" >&2
    fi
done
if ! wait "$build"; then
    echo "    llama-cpp-python failed to build; the end of the log:" >&2
    tail -n 40 "$log" >&2
    echo "    Fix: install a C/C++ compiler and CMake (apt-get install build-essential cmake), then run make again." >&2
    exit 1
fi
mkdir -p "$dir"
mv "$tmp"/wheel/*.whl "$dir/"
echo "    built in $((SECONDS - start)) s" >&2
echo "$dir"
