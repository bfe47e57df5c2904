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
set -xeuo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODEL=${1:?usage: evaluate.sh MODEL_OR_ACTOR_CHECKPOINT [polyepo-eval flags...]}
shift

DATA_DIR=${DATA_DIR:-$HOME/data/polaris}
EVAL_SETS=${EVAL_SETS:-aime24 aime25 math500}
N_SAMPLES=${N_SAMPLES:-64}
EVAL_BACKEND=${EVAL_BACKEND:-ngram}
REWARD_FILE=${REWARD_FILE:-$RECIPE_DIR/math_reward.py}
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
    --reward-path "$REWARD_FILE" \
    --reward-name compute_score \
    --backend "$EVAL_BACKEND" \
    --out "$OUT_DIR/$name" \
    "$@"
done
