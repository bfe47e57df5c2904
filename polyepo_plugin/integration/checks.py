"""Start-up checks: stop a misconfigured ``poly_epo``/``grpo_div`` run before any model loads.

Called from both trainers' ``__init__`` (wrapped by the import hook), in the process that
computes advantages (verl's TaskRunner), and by ``polyepo-check`` (``preflight``) before any
cluster exists: one path, one parse of the options. Hard errors only; ``notes`` says once where
a run differs from the paper's settings.
"""

from __future__ import annotations

from polyepo_plugin.config import PolyEpoConfig, parse_config
from polyepo_plugin.diversity import check_backend_ready, make_backend
from polyepo_plugin.estimator import GROUP_ESTIMATORS, check_group_size, load_custom_objective
from polyepo_plugin.integration import notes, served_judge
from polyepo_plugin.integration.patching import problems

TESTED_VERL_VERSIONS = ("0.9.1",)


def validate_run(config, reach_judge: bool = True) -> PolyEpoConfig | None:
    """Raise on a run that cannot train as configured; then give the one-time notes. Returns the
    parsed options (None for an estimator that is not polyepo's).

    ``reach_judge=False`` (``polyepo-check`` without ``--reach-judge``) builds the ``judge``
    backend (its packages and prompt) without asking its endpoint, which the node running the
    check may not reach; the trainer always asks."""
    algorithm = config.algorithm
    name = algorithm.get("adv_estimator")
    if name not in GROUP_ESTIMATORS:
        return None
    if problems:
        raise RuntimeError(
            f"polyepo cannot hand prompt groups to {name} in this verl "
            f"({verl_version()}; tested: {', '.join(TESTED_VERL_VERSIONS)}): " + "; ".join(problems)
        )
    options = parse_config(algorithm)
    if options.objective == "custom":
        load_custom_objective(options)  # a bad path or name fails here, not mid-step
    if name != "poly_epo" or options.uses_strategies:
        # Building the backend checks its name and loads what it needs (a custom file,
        # math-verify, the judge's prompt); check_ready probes what only exists at run time
        # (the judge endpoint, the embedding model and its device).
        if reach_judge or options.diversity.backend != "judge":
            check_backend_ready(options.diversity)
        else:
            make_backend(options.diversity)
        if served_judge.served_by_verl(options.diversity):
            served_judge.check_config(config, options.diversity)
    check_group_size(name, options, int(config.actor_rollout_ref.rollout.n), "actor_rollout_ref.rollout.n")
    notes.note_run(config, name, options, verl_version(), TESTED_VERL_VERSIONS)
    return options


def verl_version() -> str:
    import verl

    return getattr(verl, "__version__", "unknown")
