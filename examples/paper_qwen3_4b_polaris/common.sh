# Settings shared by run_grpo.sh, run_poly_epo.sh and run_grpo_div.sh (sourced, never run).
#
# The paper's setting: Qwen3-4B-Base trained on POLARIS-53k, 128 prompts a step x 8 rollouts,
# PPO minibatch 64 prompts, responses up to 4096 tokens, about 850 steps, 4 GPUs with vLLM
# rollouts; poly_epo and grpo_div label strategies with the LLM judge served by
# examples/judge/serve_judge.sh. The algorithm settings common to all recipes are in
# examples/common/recipe.sh. Every variable below can be set from the environment.

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$RECIPE_DIR/../.." && pwd)
source "$REPO_ROOT/examples/common/recipe.sh"

# Model and data (prepare_polaris.py writes the parquet files).
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen3-4B-Base}
DATA_DIR=${DATA_DIR:-$HOME/data/polaris}
TRAIN_FILES=${TRAIN_FILES:-$DATA_DIR/train.parquet}
VAL_FILES=${VAL_FILES:-[$DATA_DIR/aime24.parquet,$DATA_DIR/aime25.parquet]}
# Binary 0/1 reward by math-verify (verl's built-in AIME/DAPO reward gives -1 to wrong answers).
REWARD_FILE=${REWARD_FILE:-$RECIPE_DIR/math_reward.py}
REWARD_NAME=${REWARD_NAME:-compute_score}

# Sizes (the paper's).
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-128}
PPO_MINI_BATCH_SIZE=${PPO_MINI_BATCH_SIZE:-64}
MAX_PROMPT_LENGTH=${MAX_PROMPT_LENGTH:-1024}
MAX_RESPONSE_LENGTH=${MAX_RESPONSE_LENGTH:-4096}
TOTAL_EPOCHS=${TOTAL_EPOCHS:-10}
TOTAL_STEPS=${TOTAL_STEPS:-850}

# Hardware: one node, 4 GPUs for training (the judge needs a GPU of its own, see README.md).
N_GPUS=${N_GPUS:-4}
NNODES=${NNODES:-1}
ROLLOUT_TP=${ROLLOUT_TP:-1}
ROLLOUT_GPU_MEMORY=${ROLLOUT_GPU_MEMORY:-0.7}
ACTOR_SEQUENCES_PER_GPU=${ACTOR_SEQUENCES_PER_GPU:-4}
OFFLOAD=${OFFLOAD:-False}

# Validation and logging.
VAL_N=${VAL_N:-8}
TEST_FREQ=${TEST_FREQ:-50}
SAVE_FREQ=${SAVE_FREQ:-50}
PROJECT_NAME=${PROJECT_NAME:-polyepo}
EXPERIMENT_PREFIX=${EXPERIMENT_PREFIX:-qwen3_4b_polaris}
LOGGER=${LOGGER:-[console,wandb]}

# Strategy labels for poly_epo and grpo_div: the judge with the paper's settings (JUDGE_HOST,
# JUDGE_PORT and the rest: examples/judge/judge_overrides.sh, their one home).
source "$REPO_ROOT/examples/judge/judge_overrides.sh"
DIVERSITY_OVERRIDES=("${JUDGE_OVERRIDES[@]}")
