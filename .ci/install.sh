#!/usr/bin/env bash
# Installs polyepo with its test dependencies into the current Python environment.
#   bash .ci/install.sh            (PYTHON=python3.11 bash .ci/install.sh to pick an interpreter)
#
# torch comes first and on its own (skipped when the interpreter already imports torch): verl
# does not pin it, and pip would otherwise pick whatever torch the rest resolves to. What it
# installs is TORCH_SPEC, default `torch==2.13.0` from the package index pip is configured with.
# From PyPI on Linux x86_64 that is the CUDA build (several GB with its nvidia-* wheels); the
# CPU build, all the tests need, comes from PyTorch's CPU index:
#   TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" bash .ci/install.sh
# TORCH_SPEC is split at spaces into pip arguments, so it may carry pip options like that. (A
# machine whose pip index or wheel cache already holds a CPU wheel gets it with the default.)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
  read -r -a torch_spec <<< "${TORCH_SPEC:-torch==2.13.0}"
  echo "[install] torch: pip install ${torch_spec[*]}"
  if [[ -z "${TORCH_SPEC:-}" ]]; then
    echo "[install] (from the configured index: the CUDA build on stock Linux; for the CPU build set"
    echo "[install]  TORCH_SPEC=\"torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu\")"
  fi
  "$PYTHON" -m pip install "${torch_spec[@]}"
else
  echo "[install] torch: keeping the installed $("$PYTHON" -c "import torch; print(torch.__version__)")"
fi
"$PYTHON" -m pip install -e ".[test]"
# The patch test applies patches/ with the standard 'patch' program.
if ! command -v patch >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq patch
fi
# pyenv exposes new console scripts (polyepo-demo, polyepo-eval) only after a rehash.
if command -v pyenv >/dev/null 2>&1; then
  pyenv rehash
fi
