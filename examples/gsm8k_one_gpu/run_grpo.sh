#!/usr/bin/env bash
# GRPO baseline (Dr.GRPO-style: no std normalisation) on GSM8K with Qwen2.5-0.5B-Instruct,
# one 80 GB GPU, vLLM rollouts. Settings: common.sh and examples/common/recipe.sh. From the
# repository root:
#
#   python examples/gsm8k_one_gpu/prepare_gsm8k.py --out-dir $HOME/data/gsm8k
#   bash examples/gsm8k_one_gpu/run_grpo.sh [hydra overrides...]
#
# POLYEPO_DRY_RUN=1 prints the trainer's overrides instead of training.
set -euo pipefail  # launch_trainer traces the launch command itself

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_arm grpo "$@"
