"""Target of the ``verl.plugins`` entry point: ``import verl`` imports this in every process.

verl swallows entry-point errors at DEBUG level, so a failure here is logged at WARNING with
its traceback; training then stops at the first advantage step with verl's "Unknown advantage
estimator", and this warning says why.
"""

import logging

try:
    from polyepo_plugin.verl_glue import register

    register()
except Exception:  # noqa: BLE001 - any failure must be reported, not swallowed by verl
    logging.getLogger("polyepo_plugin").warning(
        "polyepo: could not register the poly_epo advantage estimator with verl", exc_info=True
    )
