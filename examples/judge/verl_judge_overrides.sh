#!/usr/bin/env bash
# Hydra overrides that make verl serve the strategy judge itself, as its reward model, on a pool
# of its own: one command trains with the judge, no second server to start. Source it from a
# run script, then add "${VERL_JUDGE_OVERRIDES[@]}" to the trainer's arguments.
#
# verl starts JUDGE_GPUS vLLM servers (tensor parallel 1) on JUDGE_GPUS GPUs besides the
# trainer's trainer.n_gpus_per_node, and a router in front of them; poly_epo's judge sends its
# requests there (diversity.judge.base_url=verl). The servers never sleep (free_cache_engine=False:
# nothing else uses their GPUs, and nothing would wake them). The task's reward must be a
# function (reward.custom_reward_function.path): without one verl would score with the judge.
# JUDGE_MAX_MODEL_LEN must hold one group's request (rollout.n responses of
# data.max_response_length, the prompt and the instructions); polyepo checks it at start-up.
# JUDGE_MAX_CONCURRENCY: see judge_overrides.sh (the same estimate holds for verl's judge servers).
VERL_JUDGE_OVERRIDES=(
  ++algorithm.poly_epo.diversity.backend=judge
  ++algorithm.poly_epo.diversity.judge.base_url=verl
  ++algorithm.poly_epo.diversity.judge.max_concurrency="${JUDGE_MAX_CONCURRENCY:-64}"
  ++algorithm.poly_epo.diversity.judge.max_tokens="${JUDGE_MAX_TOKENS:-1024}"
  ++algorithm.poly_epo.diversity.judge.fallback="${JUDGE_FALLBACK:-one_strategy}"
  reward.reward_model.enable=True
  reward.reward_model.model_path="${JUDGE_MODEL:-Qwen/Qwen3-4B-Instruct-2507}"
  reward.reward_model.enable_resource_pool=True
  reward.reward_model.nnodes=1
  reward.reward_model.n_gpus_per_node="${JUDGE_GPUS:-1}"
  reward.reward_model.rollout.name=vllm
  reward.reward_model.rollout.tensor_model_parallel_size=1
  reward.reward_model.rollout.gpu_memory_utilization="${JUDGE_GPU_MEMORY_UTILIZATION:-0.85}"
  reward.reward_model.rollout.max_model_len="${JUDGE_MAX_MODEL_LEN:-40960}"
  reward.reward_model.rollout.free_cache_engine=False
)
