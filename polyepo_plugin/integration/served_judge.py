"""The LLM judge served by verl: ``diversity.judge.base_url: verl``.

verl 0.9.1 hosts generative reward models: with ``reward.reward_model.enable=True`` its
``RewardLoopManager`` starts ``reward.reward_model.rollout.name`` servers (vLLM on GPUs) as Ray
actors, and a router in front of them that forwards OpenAI-style requests
(``RewardLoopManager.reward_router_address``, ``host:port``). With ``base_url: verl`` the judge
sends its ``/v1/chat/completions`` requests to that router, under the name the servers serve
the model as (the ``model_path`` given to ``vllm serve``, as verl's own reward requests do).

- ``check_config``: start-up errors, before any model loads (called by ``checks.validate_run``);
- ``connect``: once a trainer has built its reward loop (legacy and separation trainers: after
  ``init_workers``; v1: after ``_setup``; the fully async trainer: its rollouter, after its
  ``init_workers``), hands the router to the judge backend and has it label a test group under
  the served model's name (``JudgeClient.check_ready``).

Pools. verl puts a reward model's servers either on a pool of their own
(``enable_resource_pool=True``) or on the actor's GPUs (colocated). Either way
``RewardModelManager`` puts them to sleep right after start-up when
``rollout.free_cache_engine`` is true (vLLM sleep level 1: weights offloaded to CPU memory, KV
cache freed) and wakes them only inside ``compute_rm_score``, which a trainer calls only for a
colocated reward model, and only around reward scoring. Labelling runs after that (from the
reward stage to the advantage stage), when a colocated server is asleep and the actor's GPUs
hold its FSDP shards, gradients and optimizer state, or the rollout engine woken for the next
step. So:

- own pool: supported; ``free_cache_engine=False`` is required (sleeping on a pool nobody else
  uses frees nothing, and nothing would wake the servers again);
- colocated: refused. Waking the judge for labelling would put a second engine (a 4B judge in
  bf16: ~8 GB of weights plus its KV cache at ``gpu_memory_utilization``) on GPUs the actor is
  using, and cost a wake-up and a sleep per step (reloading ~8 GB from host memory, seconds);
  keeping it awake instead takes its memory from training for the whole run.
"""

from __future__ import annotations

import json
import os

from polyepo_plugin.config import CONFIG_ROOT, SERVED_BY_VERL, DiversityConfig, parse_config
from polyepo_plugin.diversity import make_backend
from polyepo_plugin.diversity.judge import request_tokens, serve_through_verl
from polyepo_plugin.estimator import GROUP_ESTIMATORS

# Architectures vLLM serves for pooling (scores, classes), not for chat completions.
POOLING_ARCHITECTURES = ("ForSequenceClassification", "ForTokenClassification", "ForRewardModel")
STANDALONE_POOL = (
    "reward.reward_model.enable_resource_pool=True reward.reward_model.nnodes=1 reward.reward_model.n_gpus_per_node=1"
)


def served_by_verl(diversity: DiversityConfig) -> bool:
    return diversity.backend == "judge" and diversity.judge.base_url == SERVED_BY_VERL


def check_config(config, diversity: DiversityConfig) -> None:
    """Raise when verl cannot serve this judge as configured; say which overrides to add."""
    reward_model = config.reward.reward_model
    where = f"{CONFIG_ROOT}.diversity.judge.base_url=verl"
    if not reward_model.enable:
        raise ValueError(
            f"{where} needs verl to serve the judge as its reward model: add reward.reward_model.enable=True "
            f"reward.reward_model.model_path=<judge model> reward.reward_model.rollout.name=vllm {STANDALONE_POOL}"
        )
    if config.reward.custom_reward_function.get("path") is None:
        raise ValueError(
            f"{where}: without reward.custom_reward_function.path verl scores responses with the reward model "
            "itself, as a discriminative model (its /classify endpoint), and the judge needs it generative. "
            "Set reward.custom_reward_function.path (and .name) to the task's reward function."
        )
    model_config = _local_model_config(reward_model.model_path)
    architectures = model_config.get("architectures") or []
    if any(name.endswith(POOLING_ARCHITECTURES) for name in architectures):
        raise ValueError(
            f"{where}: reward.reward_model.model_path={reward_model.model_path} is a {architectures[0]}, which "
            "verl's servers run for classification only; the judge needs a generative (causal LM) model there."
        )
    if not reward_model.enable_resource_pool:
        raise ValueError(
            f"{where}: a colocated reward model sleeps on the actor's GPUs between reward scorings, and labelling "
            f"runs while it sleeps; give the judge a pool of its own: add {STANDALONE_POOL}"
        )
    rollout = reward_model.rollout
    if rollout.free_cache_engine:
        raise ValueError(
            f"{where}: with reward.reward_model.rollout.free_cache_engine=True verl puts the judge's servers to "
            "sleep after start-up and, on a pool of their own, never wakes them; "
            "add reward.reward_model.rollout.free_cache_engine=False"
        )
    _check_context(config, diversity, model_config)


def _check_context(config, diversity: DiversityConfig, model_config: dict) -> None:
    needed = request_tokens(
        diversity.judge,
        num_responses=int(config.actor_rollout_ref.rollout.n),
        prompt_tokens=int(config.data.max_prompt_length),
        response_tokens=int(config.data.max_response_length),
    )
    max_model_len = config.reward.reward_model.rollout.max_model_len
    source = "reward.reward_model.rollout.max_model_len"
    if max_model_len is None:  # verl's servers then take the model's max_position_embeddings
        max_model_len = model_config.get("max_position_embeddings")
        source = "the judge model's max_position_embeddings (reward.reward_model.rollout.max_model_len unset)"
        if max_model_len is None:
            raise ValueError(
                f"{CONFIG_ROOT}.diversity.judge.base_url=verl: the judge model's context length is unknown before "
                f"it loads; set reward.reward_model.rollout.max_model_len (at least {needed} tokens for a group's "
                "request)"
            )
    if int(max_model_len) < needed:
        raise ValueError(
            f"{CONFIG_ROOT}.diversity.judge.base_url=verl: a group's request to the judge can take about {needed} "
            f"tokens (actor_rollout_ref.rollout.n={config.actor_rollout_ref.rollout.n} responses of "
            f"data.max_response_length={config.data.max_response_length}, the prompt, the instructions and "
            f"judge.max_tokens={diversity.judge.max_tokens}), more than {source}={max_model_len}. Set "
            f"reward.reward_model.rollout.max_model_len={needed} or more (within the model's context), or lower "
            f"{CONFIG_ROOT}.diversity.judge.max_response_chars or judge.max_tokens."
        )


def _local_model_config(model_path: str | None) -> dict:
    """The model's ``config.json`` when ``model_path`` is a local directory (no download here)."""
    path = os.path.join(os.path.expanduser(str(model_path)), "config.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as config_file:
        return json.load(config_file)


def served_judge_of(trainer) -> DiversityConfig | None:
    """The diversity options of ``trainer``'s run when its judge is served by verl, else None."""
    if trainer.config.algorithm.get("adv_estimator") not in GROUP_ESTIMATORS:
        return None
    diversity = parse_config(trainer.config.algorithm).diversity
    return diversity if served_by_verl(diversity) else None


def connect_if_served(trainer) -> None:
    """``connect`` where ``trainer``'s judge is served by verl."""
    diversity = served_judge_of(trainer)
    if diversity is not None:
        connect(trainer, diversity)


def connect(trainer, diversity: DiversityConfig) -> None:
    """Point the judge at the trainer's reward-model router; check that it serves the model and
    labels a test group (``JudgeClient.check_ready``, before the first training step)."""
    address = trainer.reward_loop_manager.reward_router_address
    serve_through_verl(f"http://{address}/v1", str(trainer.config.reward.reward_model.model_path))
    make_backend(diversity).client.check_ready()
