"""TEST/BENCHMARK knobs: make a stage of every training step at least N seconds longer.

On CPU the tiny model's stages take a fraction of a second, too short to show what labelling
hides behind. In the process that runs the trainer, both trainers' (legacy and v1)

- ``_compute_old_log_prob`` sleeps ``POLYEPO_HARNESS_OLD_LOG_PROB_DELAY_S`` seconds first,
  standing in for a large model's log-prob stages, which come after the rollout and before the
  advantages;
- ``_update_actor`` sleeps ``POLYEPO_HARNESS_UPDATE_ACTOR_DELAY_S`` seconds first, standing in
  for a large model's update, which comes after the advantages (what a trainer whose rollout runs
  apart, the fully async one, does while the next step's groups are generated).
"""

from __future__ import annotations

import functools
import os
import time

ENV_VAR = "POLYEPO_HARNESS_OLD_LOG_PROB_DELAY_S"
UPDATE_ENV_VAR = "POLYEPO_HARNESS_UPDATE_ACTOR_DELAY_S"
STAGES = {ENV_VAR: "_compute_old_log_prob", UPDATE_ENV_VAR: "_update_actor"}
TRAINERS = {"verl.trainer.ppo.ray_trainer": "RayPPOTrainer", "verl.trainer.ppo.v1.trainer_base": "PPOTrainer"}


def install() -> None:
    from polyepo_plugin.integration.import_hook import patch_after_import

    for env_var, stage in STAGES.items():
        delay_s = float(os.environ.get(env_var, "0") or 0)
        if delay_s <= 0:
            continue
        for module, trainer in TRAINERS.items():
            patch_after_import(module, functools.partial(_slow_down, trainer=trainer, stage=stage, delay_s=delay_s))


def _slow_down(module, trainer: str, stage: str, delay_s: float) -> None:
    cls = getattr(module, trainer)
    original = getattr(cls, stage)
    if getattr(original, "__polyepo_stage_delay__", False):
        return

    @functools.wraps(original)
    def slowed(self, *args, **kwargs):
        time.sleep(delay_s)
        return original(self, *args, **kwargs)

    slowed.__polyepo_stage_delay__ = True
    setattr(cls, stage, slowed)
