#!/usr/bin/env bash
# The paper's poly_epo arm with the judge served by verl (one node, 5 GPUs: 4 train, 1 judge). From
# the repository root, after examples/paper_qwen3_4b_polaris/prepare_polaris.py:
#
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4 bash examples/paper_qwen3_4b_polaris_verl_judge/run_poly_epo.sh [hydra overrides...]
#
# POLYEPO_DRY_RUN=1 prints the trainer's overrides instead of training.
set -euo pipefail  # launch_trainer traces the launch command itself

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_arm poly_epo "$@"
