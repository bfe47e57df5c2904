#!/usr/bin/env bash
# Installs polyepo with its test dependencies into the current Python environment.
#   bash .ci/install.sh            (PYTHON=python3.11 bash .ci/install.sh to pick an interpreter)
# torch comes first and on its own: verl does not pin it, and an unpinned torch pulls a
# multi-GB CUDA build. Set TORCH_SPEC to choose another build (default: torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
  "$PYTHON" -m pip install "${TORCH_SPEC:-torch==2.13.0}"
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
