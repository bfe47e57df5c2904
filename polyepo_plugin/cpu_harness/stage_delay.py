"""TEST/BENCHMARK knob: make the old-log-prob stage of every step at least N seconds longer.

On CPU the tiny model's log-prob stages take a fraction of a second, too short to show that
labelling started earlier hides behind them. With ``POLYEPO_HARNESS_OLD_LOG_PROB_DELAY_S=N``
in the environment, the harness makes both trainers' ``_compute_old_log_prob`` sleep N seconds
first (in the process that runs the trainer), standing in for a large model's stage.
"""

from __future__ import annotations

import functools
import os
import time

ENV_VAR = "POLYEPO_HARNESS_OLD_LOG_PROB_DELAY_S"
TRAINERS = {"verl.trainer.ppo.ray_trainer": "RayPPOTrainer", "verl.trainer.ppo.v1.trainer_base": "PPOTrainer"}


def install() -> None:
    delay_s = float(os.environ.get(ENV_VAR, "0") or 0)
    if delay_s <= 0:
        return
    from polyepo_plugin.integration.import_hook import patch_after_import

    for module, trainer in TRAINERS.items():
        patch_after_import(module, functools.partial(_slow_down, trainer=trainer, delay_s=delay_s))


def _slow_down(module, trainer: str, delay_s: float) -> None:
    cls = getattr(module, trainer)
    original = cls._compute_old_log_prob
    if getattr(original, "__polyepo_stage_delay__", False):
        return

    @functools.wraps(original)
    def _compute_old_log_prob(self, *args, **kwargs):
        time.sleep(delay_s)
        return original(self, *args, **kwargs)

    _compute_old_log_prob.__polyepo_stage_delay__ = True
    cls._compute_old_log_prob = _compute_old_log_prob
