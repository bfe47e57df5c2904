# Settings shared by run_grpo.sh, run_poly_epo.sh and run_grpo_div.sh (sourced, never run).
#
# A small, cheap version of the paper's comparison: Qwen2.5-0.5B-Instruct on GSM8K, one 80 GB
# GPU (actor, vLLM rollouts and strategy labelling all on it), with the paper's algorithm
# settings (examples/common/recipe.sh) at a smaller batch and response length. Every variable
# below can be set from the environment.

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$RECIPE_DIR/../.." && pwd)
source "$REPO_ROOT/examples/common/recipe.sh"

# Model and data (prepare_gsm8k.py writes the parquet files). data_source is openai/gsm8k, so
# verl's built-in GSM8K reward scores the responses (1 for the right "#### <number>", else 0).
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}
DATA_DIR=${DATA_DIR:-$HOME/data/gsm8k}
TRAIN_FILES=${TRAIN_FILES:-$DATA_DIR/train.parquet}
VAL_FILES=${VAL_FILES:-$DATA_DIR/test.parquet}
REWARD_FILE=${REWARD_FILE:-}
REWARD_NAME=${REWARD_NAME:-compute_score}

# Sizes: 64 prompts x 8 rollouts a step, minibatch 32 prompts, responses up to 1024 tokens;
# 3 epochs of GSM8K's 7,473 training problems are about 350 steps.
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-64}
PPO_MINI_BATCH_SIZE=${PPO_MINI_BATCH_SIZE:-32}
MAX_PROMPT_LENGTH=${MAX_PROMPT_LENGTH:-512}
MAX_RESPONSE_LENGTH=${MAX_RESPONSE_LENGTH:-1024}
TOTAL_EPOCHS=${TOTAL_EPOCHS:-3}
TOTAL_STEPS=${TOTAL_STEPS:-null}

# Hardware: one GPU.
N_GPUS=${N_GPUS:-1}
NNODES=${NNODES:-1}
ROLLOUT_TP=${ROLLOUT_TP:-1}
ROLLOUT_GPU_MEMORY=${ROLLOUT_GPU_MEMORY:-0.5}
ACTOR_SEQUENCES_PER_GPU=${ACTOR_SEQUENCES_PER_GPU:-16}
OFFLOAD=${OFFLOAD:-False}

# Validation and logging.
VAL_N=${VAL_N:-4}
TEST_FREQ=${TEST_FREQ:-25}
SAVE_FREQ=${SAVE_FREQ:-100}
PROJECT_NAME=${PROJECT_NAME:-polyepo}
EXPERIMENT_PREFIX=${EXPERIMENT_PREFIX:-qwen2.5_0.5b_gsm8k}
LOGGER=${LOGGER:-[console,wandb]}

# Strategy labels for poly_epo and grpo_div: the ngram backend, which needs no second server
# and no GPU. It links responses whose token 3-gram sets overlap (Jaccard >= 0.4), so two
# correct responses that reason differently count as two strategies. The answer backend would
# put every correct response to a GSM8K problem (one number) into one class, so its diversity
# would only come from wrong answers.
DIVERSITY_OVERRIDES=(
  ++algorithm.poly_epo.diversity.backend=ngram
  ++algorithm.poly_epo.diversity.ngram.n="${NGRAM_N:-3}"
  ++algorithm.poly_epo.diversity.ngram.threshold="${NGRAM_THRESHOLD:-0.4}"
)
