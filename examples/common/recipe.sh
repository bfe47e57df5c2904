# Shared by every recipe under examples/ (sourced by a recipe's common.sh, never run itself).
#
# It holds, once:
#   - the paper's algorithm settings (Poly-EPO, arXiv 2604.17654), the same for every arm;
#   - the three arms: grpo, poly_epo and grpo_div (the paper's GRPO+DIV baseline);
#   - the hydra overrides built from a recipe's variables (model, data, sizes, hardware);
#   - the launcher, with a dry run.
#
# A recipe's common.sh sets the variables listed in recipe_overrides below (with
# ${VAR:-default}, so each can be changed from the environment) and DIVERSITY_OVERRIDES (how
# poly_epo and grpo_div label strategies), then a run script calls `run_arm ARM "$@"`.
#
# Dry run: POLYEPO_DRY_RUN=1 makes run_arm check the run (polyepo-check: verl's config composed
# on CPU, every start-up check) and print the command it would launch on stdout, one override a
# line in the order the trainer gets them, ready to paste; it launches nothing:
#
#   POLYEPO_DRY_RUN=1 bash examples/gsm8k_one_gpu/run_poly_epo.sh trainer.total_epochs=1
#
# Overrides given on the command line come last, so they win. algorithm.poly_epo.* options are
# not in verl's config, so they take hydra's "++" (set the key, whether or not it exists yet):
# the same form works for an option the script already sets and for one it does not.
#   bash run_poly_epo.sh ++algorithm.poly_epo.set_size=2 ++algorithm.poly_epo.objective=max

POLYEPO_ARMS=(grpo poly_epo grpo_div)

# The paper's algorithm settings, identical in every arm: 8 rollouts at temperature 1.0, lr 1e-6,
# no KL (neither in the reward nor as a loss), no entropy bonus, clip 0.20 low / 0.28 high,
# advantages not divided by a standard deviation, and the Dr.GRPO-style loss aggregation
# (sum over a response's tokens, divided by a constant: the maximum response length).
paper_algorithm_overrides() {
  local max_response_length=$1
  PAPER_ALGORITHM=(
    actor_rollout_ref.rollout.n=8
    actor_rollout_ref.rollout.temperature=1.0
    actor_rollout_ref.actor.optim.lr=1e-6
    algorithm.use_kl_in_reward=False
    actor_rollout_ref.actor.use_kl_loss=False
    actor_rollout_ref.actor.entropy_coeff=0
    actor_rollout_ref.actor.clip_ratio_low=0.20
    actor_rollout_ref.actor.clip_ratio_high=0.28
    algorithm.norm_adv_by_std_in_grpo=False
    actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm
    actor_rollout_ref.actor.loss_scale_factor="$max_response_length"
  )
}

# What differs between the arms. poly_epo: set size 4 of the 8 rollouts (the paper's k).
# grpo_div: r_i + lambda * d_i, then GRPO; lambda is DIVERSITY_BONUS_WEIGHT (the paper's value
# was not reachable to us; 0.5 is this plugin's default). Both label strategies with
# DIVERSITY_OVERRIDES, set by the recipe.
arm_overrides() {
  case "$1" in
    grpo)
      ARM_OVERRIDES=(algorithm.adv_estimator=grpo)
      ;;
    poly_epo)
      ARM_OVERRIDES=(
        algorithm.adv_estimator=poly_epo
        ++algorithm.poly_epo.set_size="${SET_SIZE:-4}"
        "${DIVERSITY_OVERRIDES[@]}"
      )
      ;;
    grpo_div)
      ARM_OVERRIDES=(
        algorithm.adv_estimator=grpo_div
        ++algorithm.poly_epo.diversity_bonus_weight="${DIVERSITY_BONUS_WEIGHT:-0.5}"
        "${DIVERSITY_OVERRIDES[@]}"
      )
      ;;
    *)
      echo "unknown arm '$1'; expected one of: ${POLYEPO_ARMS[*]}" >&2
      return 2
      ;;
  esac
}

# The overrides every arm of a recipe shares, from the recipe's variables. REWARD_FILE may be
# empty: verl's built-in reward for the data's data_source is used then.
recipe_overrides() {
  paper_algorithm_overrides "$MAX_RESPONSE_LENGTH"
  local tokens_per_gpu=$((ACTOR_SEQUENCES_PER_GPU * (MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH)))
  COMMON_OVERRIDES=(
    data.train_files="$TRAIN_FILES"
    data.val_files="$VAL_FILES"
    data.train_batch_size="$TRAIN_BATCH_SIZE"
    data.max_prompt_length="$MAX_PROMPT_LENGTH"
    data.max_response_length="$MAX_RESPONSE_LENGTH"
    data.filter_overlong_prompts=True
    data.truncation=error
    actor_rollout_ref.model.path="$MODEL_PATH"
    actor_rollout_ref.model.use_remove_padding=True
    actor_rollout_ref.model.enable_gradient_checkpointing=True
    actor_rollout_ref.actor.ppo_mini_batch_size="$PPO_MINI_BATCH_SIZE"
    actor_rollout_ref.actor.use_dynamic_bsz=True
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu="$tokens_per_gpu"
    actor_rollout_ref.actor.fsdp_config.param_offload="$OFFLOAD"
    actor_rollout_ref.actor.fsdp_config.optimizer_offload="$OFFLOAD"
    actor_rollout_ref.rollout.name=vllm
    actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP"
    actor_rollout_ref.rollout.gpu_memory_utilization="$ROLLOUT_GPU_MEMORY"
    actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True
    actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu="$((2 * tokens_per_gpu))"
    actor_rollout_ref.rollout.val_kwargs.n="$VAL_N"
    actor_rollout_ref.rollout.val_kwargs.do_sample=True
    actor_rollout_ref.rollout.val_kwargs.temperature=1.0
    "${PAPER_ALGORITHM[@]}"
    trainer.n_gpus_per_node="$N_GPUS"
    trainer.nnodes="$NNODES"
    trainer.project_name="$PROJECT_NAME"
    trainer.logger="$LOGGER"
    trainer.total_epochs="$TOTAL_EPOCHS"
    trainer.total_training_steps="$TOTAL_STEPS"
    trainer.test_freq="$TEST_FREQ"
    trainer.save_freq="$SAVE_FREQ"
    trainer.val_before_train=True
  )
  if [[ -n "$REWARD_FILE" ]]; then
    COMMON_OVERRIDES+=(
      reward.custom_reward_function.path="$REWARD_FILE"
      reward.custom_reward_function.name="$REWARD_NAME"
    )
  fi
}

# Check and print the launch command (POLYEPO_DRY_RUN=1), or replace this shell with the trainer.
# The dry run composes verl's config and runs the run's start-up checks (polyepo-check, on CPU,
# no Ray); POLYEPO_CHECK_JUDGE=1 also asks the judge's endpoint. It prints nothing when a check
# fails (the error goes to stderr, exit 1).
launch_trainer() {
  if [[ "${POLYEPO_DRY_RUN:-0}" == 1 ]]; then
    local reach_judge=()
    [[ "${POLYEPO_CHECK_JUDGE:-0}" == 1 ]] && reach_judge=(--reach-judge)
    exec "${PYTHON:-python3}" -m polyepo_plugin.integration.preflight "${reach_judge[@]}" \
      --print-launch "${PYTHON:-python3}" -- "$@"
  fi
  set -x
  exec "${PYTHON:-python3}" -m verl.trainer.main_ppo "$@"
}

# run_arm ARM [hydra overrides...]: the recipe's overrides, the arm's, then the caller's.
run_arm() {
  local arm=$1
  shift
  recipe_overrides
  arm_overrides "$arm"
  launch_trainer \
    "${COMMON_OVERRIDES[@]}" \
    "${ARM_OVERRIDES[@]}" \
    trainer.experiment_name="${EXPERIMENT_NAME:-${EXPERIMENT_PREFIX}_${arm}}" \
    "$@"
}
