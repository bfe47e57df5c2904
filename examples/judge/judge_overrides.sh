#!/usr/bin/env bash
# Hydra overrides that point poly_epo (and grpo_div) at the judge from serve_judge.sh.
# Source it from a run script, then add "${JUDGE_OVERRIDES[@]}" to the trainer's arguments:
#
#   source examples/judge/judge_overrides.sh
#   python -m verl.trainer.main_ppo ... algorithm.adv_estimator=poly_epo "${JUDGE_OVERRIDES[@]}"
#
# Advantages are computed in verl's TaskRunner Ray actor, so the judge's address must be
# reachable from the node it runs on, and POLYEPO_JUDGE_API_KEY (if the judge needs one) must be
# in that actor's environment: export it before launching (a local Ray cluster inherits the
# launcher's environment) or, on a multi-node cluster, before `ray start` on every node. Never
# pass the key as a hydra override: verl prints its whole config.
# JUDGE_MAX_CONCURRENCY (requests in flight, default 64) should be at least what the judge
# server(s) run at once; requests beyond that wait in the server's queue, and that wait counts
# toward diversity.judge.timeout_s (120 s). Our estimate for a 4B judge and the paper's requests
# of 15-20 k tokens: about 20-25 fit in an 80 GB GPU's KV cache at once, 40-50 in an H200's, so
# 64 covers one or two 80 GB judge GPUs or one H200; with more, raise it, up to the groups a step
# sends (data.train_batch_size, 128 in the paper).
JUDGE_HOST=${JUDGE_HOST:-127.0.0.1}
JUDGE_PORT=${JUDGE_PORT:-8000}
JUDGE_OVERRIDES=(
  ++algorithm.poly_epo.diversity.backend=judge
  ++algorithm.poly_epo.diversity.judge.base_url="http://${JUDGE_HOST}:${JUDGE_PORT}/v1"
  ++algorithm.poly_epo.diversity.judge.model="${JUDGE_SERVED_NAME:-judge}"
  ++algorithm.poly_epo.diversity.judge.max_concurrency="${JUDGE_MAX_CONCURRENCY:-64}"
  ++algorithm.poly_epo.diversity.judge.max_tokens="${JUDGE_MAX_TOKENS:-1024}"
  ++algorithm.poly_epo.diversity.judge.fallback="${JUDGE_FALLBACK:-one_strategy}"
)
