"""The only module that touches verl internals.

``register()`` binds the estimator names to verl's advantage-estimator registry
(``verl.trainer.ppo.core_algos``). It is safe to call any number of times in any process: it
looks at verl's registry itself and leaves a name alone when it already holds our function.
"""

from __future__ import annotations

import logging

from polyepo_plugin.estimator import compute_poly_epo_advantage

logger = logging.getLogger(__name__)

ESTIMATORS = {"poly_epo": compute_poly_epo_advantage}


def register() -> None:
    from verl.trainer.ppo import core_algos

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
        # Either new, or our own function from an earlier import of this module (a reload):
        # replace it directly, since register_adv_est refuses a second, different object.
        core_algos.ADV_ESTIMATOR_REGISTRY.pop(name, None)
        core_algos.register_adv_est(name)(function)


def _same_function(a, b) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)
