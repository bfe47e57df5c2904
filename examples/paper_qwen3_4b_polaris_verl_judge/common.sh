# The paper's recipe (examples/paper_qwen3_4b_polaris) with the judge served by verl on a GPU of
# its own: 4 GPUs train, 1 serves the judge, one command (sourced by the run scripts, never run).
# Every setting of the paper's recipe applies; the judge's are in examples/judge/verl_judge_overrides.sh.

EXPERIMENT_PREFIX=${EXPERIMENT_PREFIX:-qwen3_4b_polaris_verl_judge}
source "$(dirname "${BASH_SOURCE[0]}")/../paper_qwen3_4b_polaris/common.sh"
source "$REPO_ROOT/examples/judge/verl_judge_overrides.sh"
DIVERSITY_OVERRIDES=("${VERL_JUDGE_OVERRIDES[@]}")
