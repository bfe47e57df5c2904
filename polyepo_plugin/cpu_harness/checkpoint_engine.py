"""A CPU checkpoint engine: the actor's weights to the harness's rollout server through Ray.

verl's trainers that keep the actor and the rollout in separate processes (one-step-off-policy,
fully async, v1 ``separate_async``) move weights with a checkpoint engine. Those verl 0.9.1 ships
need CUDA (``nccl`` imports cupy) or run the rollout inside the actor process (``naive``). This
one is registered in verl's own registry under ``BACKEND`` and named by the run::

    actor_rollout_ref.rollout.checkpoint_engine.backend=cpu_harness
    +actor_rollout_ref.rollout.checkpoint_engine.custom_backend_module=polyepo_plugin.cpu_harness.checkpoint_engine

so verl imports this module (in the trainer, the actor workers and the rollout's checkpoint
workers) only in a run that asks for it. One weight sync, as verl's ``CheckpointEngineManager``
drives it:

1. ``prepare`` on every worker: each answers with its own Ray actor handle;
2. ``build_topology``: the actor's rank 0 gets the rollout side's handles;
3. ``send_weights`` (actor): every rank drains the weights generator (FSDP's ``full_tensor`` is a
   collective); rank 0 delivers the whole state dict to each rollout-side engine;
4. ``receive_weights`` (rollout): waits for the delivery and yields it to the rollout's
   ``HFServerAdapter``, which loads it into the ``HFRolloutServer``;
5. ``finalize``: drops what is left of the step's weights.

TEST/DEMO only: a whole state dict goes through Ray's object store each sync, fine for the
harness's tiny models.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

import ray
import torch

from verl.checkpoint_engine.base import CheckpointEngine, CheckpointEngineRegistry
from verl.workers.rollout.utils import ensure_async_iterator

BACKEND = "cpu_harness"
CHECKPOINT_ENGINE_OVERRIDES = [
    f"actor_rollout_ref.rollout.checkpoint_engine.backend={BACKEND}",
    f"+actor_rollout_ref.rollout.checkpoint_engine.custom_backend_module={__name__}",
]
# How often a rollout-side engine looks for the actor's delivery while it waits.
_POLL_S = 0.01


@CheckpointEngineRegistry.register(BACKEND)
class RayObjectCheckpointEngine(CheckpointEngine):
    """Weights from the actor's rank 0 to every rollout-side engine as Ray method arguments."""

    def __init__(self, bucket_size: int, is_master: bool = False, **_engine_kwargs) -> None:
        self.is_master = is_master
        self.receivers: list[Any] = []
        self.delivered: dict[str, torch.Tensor] | None = None

    def prepare(self) -> dict[str, Any]:
        # The worker that holds this engine: the actor's rank 0 calls it back with the weights.
        return {"handle": ray.get_runtime_context().current_actor}

    @classmethod
    def build_topology(
        cls, actor_wg_world_size: int, rollout_world_size: int, metadata: list[dict]
    ) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
        receivers = [entry["handle"] for entry in metadata[actor_wg_world_size:]]
        return {"receivers": [receivers] * actor_wg_world_size}, {}

    def init_process_group(self, receivers: list[Any] | None = None) -> None:
        self.receivers = list(receivers or [])

    def finalize(self) -> None:
        self.receivers, self.delivered = [], None

    async def send_weights(
        self, weights: Generator[tuple[str, torch.Tensor], None, None], global_steps: int | None = None
    ) -> dict:
        state = {}
        async for name, tensor in ensure_async_iterator(weights):
            state[name] = tensor.detach().to("cpu").clone()
        if self.is_master:
            # The receivers are verl's CheckpointEngineWorker actors: their execute_checkpoint_engine
            # calls a method of the engine they hold.
            await asyncio.gather(*[r.execute_checkpoint_engine.remote("deliver", state) for r in self.receivers])
        return {}

    def deliver(self, state: dict[str, torch.Tensor]) -> None:
        self.delivered = state

    async def receive_weights(self, global_steps: int | None = None) -> AsyncGenerator[tuple[str, torch.Tensor], None]:
        while self.delivered is None:
            await asyncio.sleep(_POLL_S)
        state, self.delivered = self.delivered, None
        for name, tensor in state.items():
            yield name, tensor
