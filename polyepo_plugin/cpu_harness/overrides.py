"""The single home of the hydra overrides a CPU run of ``verl.trainer.main_ppo`` needs.

Each group says why it is there; the patches in this package cover what overrides can't.
TEST/DEMO only.
"""

from __future__ import annotations

from collections.abc import MutableMapping

ENV_VAR = "VERL_USE_EXTERNAL_MODULES"
MODULE = "polyepo_plugin.cpu_harness.activate"
# CUDA_VISIBLE_DEVICES of a harness run on a machine with GPUs. The harness switches itself off
# where CUDA sees a device, and verl 0.9.1 has no `hf` rollout of its own, so the run must not
# see one; "-1" hides every GPU from CUDA yet is still one device id to Ray, which hands the
# run's logical "GPU" (ray_init.num_gpus=1 below) to a worker as CUDA_VISIBLE_DEVICES=-1 (an
# empty value would make Ray refuse num_gpus=1).
HIDDEN_GPUS = "-1"
# verl's trainers that keep the rollout apart from the actor, and the module each runs as
# (``python -m MODULE``); ``cpu_overrides(apart=...)`` names one.
APART_TRAINERS = {
    "one_step_off": "verl.experimental.one_step_off_policy.main_ppo",
    "fully_async": "verl.experimental.fully_async_policy.fully_async_main",
    "separate_async": "verl.trainer.main_ppo",  # the v1 trainer's separate_async mode
}


def hide_gpus(env: MutableMapping[str, str]) -> None:
    """Make ``env`` (``os.environ`` or a child's environment) a CPU-only one for CUDA and Ray."""
    env["CUDA_VISIBLE_DEVICES"] = HIDDEN_GPUS


def cpu_overrides(
    model_dir: str,
    train_files: str,
    val_files: str,
    reward_path: str,
    steps: int = 2,
    use_v1: bool = False,
    reward_name: str = "compute_score",
    train_batch_size: int = 4,
    rollout_n: int = 4,
    max_prompt_length: int = 32,
    max_response_length: int = 16,
    rollout_data_dir: str | None = None,
    function_tool_path: str | None = None,
    apart: str | None = None,
) -> list[str]:
    """Hydra overrides (``key=value`` strings) for a tiny CPU run; add the estimator yourself.

    ``use_v1`` picks verl's v1 trainer (needs the ``TransferQueue`` package) over the legacy one.
    ``rollout_data_dir``, if given, makes verl dump each step's generations, scores and
    reward extra info (e.g. ``strategy``) as JSONL there. ``function_tool_path`` gives verl's
    tool agent loop its ``@function_tool`` file (``toy_tool_agent.TOOLS_FILE``), for rows whose
    ``agent_name`` is ``tool_agent``. ``apart`` names one of ``APART_TRAINERS``, to be run
    as its module (``separate_async`` is the v1 trainer's mode: it sets ``use_v1``).
    """
    use_v1 = use_v1 or apart == "separate_async"
    samples = train_batch_size * rollout_n
    out = [
        # Data: tiny local parquet files, no dataloader subprocesses.
        f"data.train_files={train_files}",
        f"data.val_files={val_files}",
        # The fully async trainer batches prompts itself (see _apart_overrides).
        f"data.train_batch_size={0 if apart == 'fully_async' else train_batch_size}",
        f"data.max_prompt_length={max_prompt_length}",
        f"data.max_response_length={max_response_length}",
        "data.dataloader_num_workers=0",
        # Model: local random Qwen2; no flash-attn and no remove-padding kernels on CPU.
        f"actor_rollout_ref.model.path={model_dir}",
        "+actor_rollout_ref.model.override_config.attn_implementation=eager",
        "actor_rollout_ref.model.use_remove_padding=False",
        # FSDP1 needs an accelerator; FSDP2 runs on a gloo process group.
        "actor_rollout_ref.actor.strategy=fsdp2",
        "actor_rollout_ref.actor.fsdp_config.strategy=fsdp2",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={train_batch_size}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={samples}",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "algorithm.use_kl_in_reward=False",
        # Rollout: the harness's transformers server, one process, one agent-loop worker.
        "actor_rollout_ref.rollout.name=hf",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        f"actor_rollout_ref.rollout.n={rollout_n}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={samples}",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        # Reward: the toy rule reward, one reward worker.
        f"reward.custom_reward_function.path={reward_path}",
        f"reward.custom_reward_function.name={reward_name}",
        "reward.num_workers=1",
        # Trainer: one logical "GPU" on one node; console metrics; no validation or checkpoints.
        "trainer.device=cpu",
        "trainer.nnodes=1",
        "trainer.n_gpus_per_node=1",
        f"trainer.total_training_steps={steps}",
        "trainer.total_epochs=100",
        "trainer.val_before_train=False",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        "trainer.logger=[console]",
        "trainer.project_name=polyepo_cpu_smoke",
        "trainer.experiment_name=cpu",
        f"trainer.use_v1={use_v1}",
        # Ray: verl's placement asks for {GPU: 1, CPU: 3} per worker, so declare logical
        # resources; with the real 2 CPUs scheduling hangs.
        f"+ray_kwargs.ray_init.num_gpus={2 if apart else 1}",
        f"ray_kwargs.ray_init.num_cpus={40 if apart else 16 if use_v1 else 8}",
    ]
    if rollout_data_dir:
        out.append(f"trainer.rollout_data_dir={rollout_data_dir}")
    if function_tool_path:
        out.append(f"actor_rollout_ref.rollout.multi_turn.function_tool_path={function_tool_path}")
    if apart:
        out += _apart_overrides(apart, train_batch_size, steps)
    if use_v1:
        # TransferQueue's default 8 storage units (1 CPU each) don't fit; tq.init() then hangs.
        out.append("transfer_queue.backend.SimpleStorage.num_data_storage_units=1")
    return out


def _apart_overrides(trainer: str, train_batch_size: int, steps: int) -> list[str]:
    """What a trainer with the rollout apart from the actor needs beyond the tiny run's overrides."""
    if trainer not in APART_TRAINERS:
        raise ValueError(f"apart={trainer!r}: expected one of {sorted(APART_TRAINERS)}")
    from polyepo_plugin.cpu_harness.checkpoint_engine import CHECKPOINT_ENGINE_OVERRIDES

    # Weights to the rollout server through Ray (their configs ask for nccl, CUDA only). The
    # actor on one logical GPU, the rollout's checkpoint worker on another (the Ray resources
    # above: 2 GPUs; the experimental trainer and rollouter actors ask for 10 CPUs each).
    out = list(CHECKPOINT_ENGINE_OVERRIDES)
    if trainer == "separate_async":
        # It keeps the colocated rollout too: hybrid_engine=False stops verl 0.9.1 in _setup
        # (a logger.info(..., flush=True) call, a TypeError). One update per weight sync.
        return out + [
            "trainer.v1.trainer_mode=separate_async",
            "actor_rollout_ref.rollout.nnodes=1",
            "actor_rollout_ref.rollout.n_gpus_per_node=1",
            "trainer.v1.separate_async.parameter_sync_step=1",
        ]
    out += ["actor_rollout_ref.hybrid_engine=False", "rollout.nnodes=1", "rollout.n_gpus_per_node=1"]
    if trainer == "one_step_off":
        # Its config searches a path relative to verl's source tree.
        out.append("hydra.searchpath=[pkg://verl.trainer.config]")
    else:
        # The rollouter samples one prompt at a time and the trainer takes a batch of
        # train_batch_size prompts per step, syncing weights after each. It logs a step's metrics
        # at the next sync, so one step more is generated than ``steps`` shows.
        out += [
            "data.gen_batch_size=1",
            f"rollout.total_rollout_steps={train_batch_size * (steps + 1)}",
            "async_training.trigger_parameter_sync_step=1",
            "async_training.require_batches=1",
        ]
    return out
