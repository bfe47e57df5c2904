#!/usr/bin/env bash
# pass@k of models on the AIME/MATH-style sets written by prepare_polaris.py, with polyepo-eval:
# N_SAMPLES responses per problem, scored by REWARD_FILE's REWARD_NAME (math_reward.py's
# compute_score), pass@k and majority@k for k up to N_SAMPLES, and distinct strategies among the
# correct responses. Every model given is evaluated in one polyepo-eval call per set, so each set
# gets one report (eval.json) and one plot (pass_at_k.png) comparing them. From the repository root:
#
#   bash examples/paper_qwen3_4b_polaris/evaluate.sh Qwen/Qwen3-4B-Base \
#       checkpoints/polyepo/qwen3_4b_polaris_poly_epo/global_step_400/actor \
#       checkpoints/polyepo/qwen3_4b_polaris_poly_epo/global_step_850/actor [-- polyepo-eval flags...]
#
# A model is a Hugging Face model (name or directory) or a verl FSDP actor checkpoint, which is
# merged into a Hugging Face model first (into CHECKPOINT/merged_hf, once, with verl's model
# merger). A checkpoint is named after its step (step_400, step_850), any other model after its
# last path component (Qwen3-4B-Base); NAME=PATH names it yourself, e.g. to compare two runs at
# one step: grpo=checkpoints/.../qwen3_4b_polaris_grpo/global_step_850/actor. The first argument
# that starts with '-' (or a '--') ends the models; the rest go to polyepo-eval.
#
# Results go to OUT_DIR/<set>/ (default eval/<set>/; a later call overwrites them). EVAL_BACKEND
# picks the strategy backend (default: polyepo-eval's, the training default `semantic`, which needs
# no server); EVAL_BACKEND=judge uses the judge of examples/judge/serve_judge.sh (start it and
# wait for it first, see examples/judge/wait_for_judge.py). POLYEPO_DRY_RUN=1 prints the commands
# instead.
#
# Responses are sampled as the paper's training rollouts were: up to MAX_RESPONSE_LENGTH new
# tokens (4096, from common.sh), temperature 1.0 (examples/common/recipe.sh), top-p 1.0 and top-k
# off (-1), verl's rollout defaults, which the recipe keeps. A shorter budget would cut the
# reasoning and measure the budget instead; polyepo-eval reports the fraction of responses cut
# and warns when it is over half.
set -xeuo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USAGE="usage: evaluate.sh MODEL_OR_ACTOR_CHECKPOINT [MORE ...] [-- polyepo-eval flags...]"
[[ $# -gt 0 && "$1" != -* ]] || { echo "$USAGE" >&2; exit 2; }

# The recipe's settings: DATA_DIR, REWARD_FILE (math_reward.py), REWARD_NAME, MAX_RESPONSE_LENGTH (4096).
source "$RECIPE_DIR/common.sh"

EVAL_SETS=${EVAL_SETS:-aime24 aime25 math500}
N_SAMPLES=${N_SAMPLES:-64}
# Sampling: the paper's training rollouts' settings (see the top of this file).
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-$MAX_RESPONSE_LENGTH}
EVAL_TEMPERATURE=${EVAL_TEMPERATURE:-1.0}
EVAL_TOP_P=${EVAL_TOP_P:-1.0}
EVAL_TOP_K=${EVAL_TOP_K:--1}
OUT_DIR=${OUT_DIR:-eval}
DRY_RUN=${POLYEPO_DRY_RUN:-0}

run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    echo "$*"
  else
    "$@"
  fi
}

model_args=()
while [[ $# -gt 0 && "$1" != -* ]]; do
  spec=$1
  shift
  # NAME=PATH as polyepo-eval reads it: NAME is what precedes the first '=' and holds no '/'.
  name=""
  path=$spec
  if [[ "$spec" =~ ^([^/=]+)=(.*)$ ]]; then
    name=${BASH_REMATCH[1]}
    path=${BASH_REMATCH[2]}
  fi
  # A verl actor checkpoint holds FSDP shards: merge them into a Hugging Face model once. The
  # merged model's path keeps the checkpoint's global_step_N, which polyepo-eval names it by.
  if [[ -d "$path" ]] && compgen -G "$path/model_world_size_*" > /dev/null; then
    merged=${path%/}/merged_hf
    if [[ ! -f "$merged/config.json" ]]; then
      run "${PYTHON:-python3}" -m verl.model_merger merge --backend fsdp --local_dir "$path" --target_dir "$merged"
    fi
    path=$merged
  fi
  model_args+=(--model "${name:+$name=}$path")
done
if [[ "${1:-}" == "--" ]]; then
  shift
fi

backend_args=()
if [[ -n "${EVAL_BACKEND:-}" ]]; then
  backend_args=(--backend "$EVAL_BACKEND")
fi

# polyepo-eval exits 1 when a model failed (its error is in eval.json, the other models'
# results stay): go on with the next set and exit 1 at the end. Any other failure stops here.
sets_with_a_failed_model=()
for name in $EVAL_SETS; do
  status=0
  run polyepo-eval \
    "${model_args[@]}" \
    --data "$DATA_DIR/$name.parquet" \
    --n "$N_SAMPLES" \
    --max-new-tokens "$EVAL_MAX_NEW_TOKENS" \
    --temperature "$EVAL_TEMPERATURE" \
    --top-p "$EVAL_TOP_P" \
    --top-k "$EVAL_TOP_K" \
    --reward-path "$REWARD_FILE" \
    --reward-name "$REWARD_NAME" \
    "${backend_args[@]}" \
    --out "$OUT_DIR/$name" \
    "$@" || status=$?
  if [[ $status == 1 ]]; then
    sets_with_a_failed_model+=("$name")
  elif [[ $status != 0 ]]; then
    exit "$status"
  fi
done
if [[ ${#sets_with_a_failed_model[@]} -gt 0 ]]; then
  echo "a model failed on: ${sets_with_a_failed_model[*]} (its error: $OUT_DIR/<set>/eval.json)" >&2
  exit 1
fi
