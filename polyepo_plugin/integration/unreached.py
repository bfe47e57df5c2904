"""verl's trainers that the integration does not reach: a ``poly_epo``/``grpo_div`` run stops there.

verl 0.9.1 has two more trainers, each with a ``fit`` of its own (an async loop) and an
``__init__`` that never calls the legacy trainer's: ``OneStepOffRayTrainer``
(``verl.experimental.one_step_off_policy.main_ppo``) and ``FullyAsyncTrainer``
(``verl.experimental.fully_async_policy.fully_async_main``). Both compute advantages through
the separation trainer's ``_fit_compute_advantage``, whose ``compute_advantage`` is wrapped,
but outside any wrapped ``fit``: the estimator would get no tokenizer (every backend that reads
text fails mid-step), no start-up checks and no early labelling. So their ``__init__`` (run in
the process that builds the trainer, before any worker or model exists) stops such a run,
naming the trainers that are supported. Other estimators train on them as if polyepo were absent.
"""

from __future__ import annotations

import functools

from polyepo_plugin.estimator import GROUP_ESTIMATORS
from polyepo_plugin.integration.patching import wrap_attribute

# module -> the trainer class it defines
UNREACHED_TRAINERS = {
    "verl.experimental.one_step_off_policy.ray_trainer": "OneStepOffRayTrainer",
    "verl.experimental.fully_async_policy.fully_async_trainer": "FullyAsyncTrainer",
}
SUPPORTED_TRAINERS = (
    "verl.trainer.main_ppo with the v1 trainers (trainer.v1.trainer_mode: PPOTrainerSync, PPOTrainerColocateAsync, "
    "PPOTrainerSeparateAsync) or, with trainer.use_v1=false, the legacy RayPPOTrainer; and "
    "SeparateRayPPOTrainer (verl.experimental.separation) with its own fit"
)


def refuse(trainer: str, config) -> None:
    """Stop a run of a group estimator on ``trainer``; any other estimator passes."""
    name = config.algorithm.get("adv_estimator")
    if name in GROUP_ESTIMATORS:
        raise ValueError(
            f"algorithm.adv_estimator={name} cannot train with verl's {trainer}: it runs its own fit, which polyepo "
            f"does not reach (its advantage stage would get no tokenizer, no checks and no early labelling). "
            f"Supported: {SUPPORTED_TRAINERS}."
        )


def patch_unreached_trainer(module) -> None:
    class_name = UNREACHED_TRAINERS[module.__name__]
    trainer = getattr(module, class_name, None)
    if trainer is None:
        return  # nothing to refuse in this verl

    def wrap(original):
        @functools.wraps(original)
        def __init__(self, config, *args, **kwargs):
            refuse(class_name, config)
            original(self, config, *args, **kwargs)

        return __init__

    wrap_attribute(trainer, "__init__", wrap, ("config",), f"{module.__name__}.{class_name}")
