#!/usr/bin/env bash
# Poly-EPO arm of the paper's setting (set size 4 of 8 rollouts, LLM judge):
# Qwen3-4B-Base on POLARIS-53k, 4 GPUs, vLLM rollouts. Settings: common.sh and
# examples/common/recipe.sh. From the repository root:
#
#   python examples/paper_qwen3_4b_polaris/prepare_polaris.py --out-dir $HOME/data/polaris
#   JUDGE_GPU=4 bash examples/judge/serve_judge.sh &   # first: the strategy judge (a GPU of its own)
#   CUDA_VISIBLE_DEVICES=0,1,2,3 bash examples/paper_qwen3_4b_polaris/run_poly_epo.sh [hydra overrides...]
#
# POLYEPO_DRY_RUN=1 prints the trainer's overrides instead of training.
set -euo pipefail  # launch_trainer traces the launch command itself

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_arm poly_epo "$@"
