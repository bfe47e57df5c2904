#!/usr/bin/env bash
# pass@k of a model on the AIME/MATH-style sets written by prepare_polaris.py, with polyepo-eval:
# N_SAMPLES responses per problem, scored by math_reward.py, pass@k for k up to N_SAMPLES, and
# distinct strategies among the correct responses (EVAL_BACKEND labels them). From the repository
# root, for the base model and for a trained checkpoint (a verl FSDP actor checkpoint is merged
# to a Hugging Face model first, with verl's model merger):
#
#   bash examples/paper_qwen3_4b_polaris/evaluate.sh Qwen/Qwen3-4B-Base
#   bash examples/paper_qwen3_4b_polaris/evaluate.sh \
#       checkpoints/polyepo/qwen3_4b_polaris_poly_epo/global_step_850/actor [polyepo-eval flags...]
#
# EVAL_BACKEND=judge labels strategies with the judge of examples/judge/serve_judge.sh (start it
# first); the default, ngram, needs no server. POLYEPO_DRY_RUN=1 prints the commands instead.
#
# Responses are sampled as the paper's training rollouts were: up to MAX_RESPONSE_LENGTH new
# tokens (4096, from common.sh), temperature 1.0 (examples/common/recipe.sh), top-p 1.0 and top-k
# off (-1), verl's rollout defaults, which the recipe keeps. A shorter budget would cut the
# reasoning and measure the budget instead; polyepo-eval reports the fraction of responses cut
# and warns when it is over half.
set -xeuo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODEL=${1:?usage: evaluate.sh MODEL_OR_ACTOR_CHECKPOINT [polyepo-eval flags...]}
shift

# The recipe's settings: DATA_DIR, REWARD_FILE (math_reward.py), MAX_RESPONSE_LENGTH (4096).
source "$RECIPE_DIR/common.sh"

EVAL_SETS=${EVAL_SETS:-aime24 aime25 math500}
N_SAMPLES=${N_SAMPLES:-64}
EVAL_BACKEND=${EVAL_BACKEND:-ngram}
# Sampling: the paper's training rollouts' settings (see the top of this file).
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-$MAX_RESPONSE_LENGTH}
EVAL_TEMPERATURE=${EVAL_TEMPERATURE:-1.0}
EVAL_TOP_P=${EVAL_TOP_P:-1.0}
EVAL_TOP_K=${EVAL_TOP_K:--1}
OUT_DIR=${OUT_DIR:-eval/${MODEL//\//_}}
DRY_RUN=${POLYEPO_DRY_RUN:-0}

run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    echo "$*"
  else
    "$@"
  fi
}

# A verl actor checkpoint holds FSDP shards: merge them into a Hugging Face model once.
if [[ -d "$MODEL" ]] && compgen -G "$MODEL/model_world_size_*" > /dev/null; then
  MERGED=${MERGED_DIR:-$MODEL/merged_hf}
  if [[ ! -f "$MERGED/config.json" ]]; then
    run "${PYTHON:-python3}" -m verl.model_merger merge --backend fsdp --local_dir "$MODEL" --target_dir "$MERGED"
  fi
  MODEL=$MERGED
fi

for name in $EVAL_SETS; do
  run polyepo-eval \
    --model "$MODEL" \
    --data "$DATA_DIR/$name.parquet" \
    --n "$N_SAMPLES" \
    --max-new-tokens "$EVAL_MAX_NEW_TOKENS" \
    --temperature "$EVAL_TEMPERATURE" \
    --top-p "$EVAL_TOP_P" \
    --top-k "$EVAL_TOP_K" \
    --reward-path "$REWARD_FILE" \
    --reward-name compute_score \
    --backend "$EVAL_BACKEND" \
    --out "$OUT_DIR/$name" \
    "$@"
done
