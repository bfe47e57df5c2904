"""Target of the ``verl.plugins`` entry point: ``import verl`` imports this in every process.

Binds ``poly_epo`` and ``grpo_div`` in verl's advantage-estimator registry and installs the
import hook that wraps verl's trainers when they are imported. Safe on repeated imports and
reloads: it looks at verl's registry itself. verl swallows entry-point errors at DEBUG level,
so a failure here is logged at WARNING with its traceback; training would then stop at the
first advantage step with verl's "Unknown advantage estimator", and this warning says why.
"""

from __future__ import annotations

import logging

from polyepo_plugin.estimator import ESTIMATORS

logger = logging.getLogger(__name__)


def register() -> None:
    from verl.trainer.ppo import core_algos

    from polyepo_plugin.integration.import_hook import install_import_hook

    for name, function in ESTIMATORS.items():
        current = core_algos.ADV_ESTIMATOR_REGISTRY.get(name)
        if current is function:
            continue
        if current is not None and not _same_function(current, function):
            logger.warning(
                "polyepo: advantage estimator %r is already registered to %s.%s; leaving it in place",
                name,
                current.__module__,
                current.__qualname__,
            )
            continue
        # Either new, or our own function from an earlier import of the estimator (a reload):
        # replace it directly, since register_adv_est refuses a second, different object.
        core_algos.ADV_ESTIMATOR_REGISTRY.pop(name, None)
        core_algos.register_adv_est(name)(function)
    install_import_hook()


def _same_function(a, b) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


try:
    register()
except Exception:  # noqa: BLE001 - any failure must be reported, not swallowed by verl
    logger.warning("polyepo: could not register the poly_epo advantage estimator with verl", exc_info=True)
