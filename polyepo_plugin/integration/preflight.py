"""``polyepo-check``: a run's start-up checks on a CPU, before any cluster or model exists.

    polyepo-check [--reach-judge] OVERRIDE...      (the overrides ``verl.trainer.main_ppo`` gets)

Composes verl's ``ppo_trainer`` config from the overrides as ``verl.trainer.main_ppo`` does
(hydra; no Ray, no model), then runs what the run checks before its first step, in its order:

1. verl's own ``validate_config`` (what ``main_ppo`` runs before starting Ray);
2. the trainer the run would build (``trainer.use_v1``, ``trainer.v1.trainer_mode``): importing
   it lets the import hook check every function polyepo wraps there;
3. ``checks.validate_run``, the function that trainer's ``__init__`` calls: the options (one
   parse), the set size against ``rollout.n``, the backend and its packages, the notes; the
   judge's endpoint only with ``--reach-judge`` (run it where verl's TaskRunner will run).

A failure prints the run's own message and exits 1. The recipes' dry run
(``POLYEPO_DRY_RUN=1``) calls this with ``--print-launch``, which prints the checked launch
command on stdout, one override a line, ready to paste.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import sys
import warnings

CONFIG_NAME = "ppo_trainer"
LAUNCH_MODULE = "verl.trainer.main_ppo"


def compose_run_config(overrides: list[str]):
    """verl's ``ppo_trainer`` config with ``overrides`` applied, as ``main_ppo``'s hydra builds it."""
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(CONFIG_NAME, overrides=overrides)


def run_trainer(config) -> type:
    """The trainer class ``main_ppo`` builds for ``config`` (importing it applies polyepo's wrappers)."""
    if config.trainer.use_v1:
        from verl.trainer.ppo.v1 import get_trainer_cls

        return get_trainer_cls(config.trainer.v1.trainer_mode)
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer

    return RayPPOTrainer


def check_run(overrides: list[str], reach_judge: bool = False) -> str:
    """Compose and check a run; returns a one-line summary. Raises the run's own error."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    from polyepo_plugin.integration.checks import validate_run

    config = compose_run_config(overrides)
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    trainer = run_trainer(config)
    options = validate_run(config, reach_judge=reach_judge)
    name = config.algorithm.adv_estimator
    summary = f"algorithm.adv_estimator={name}, trainer {trainer.__module__}.{trainer.__qualname__}"
    if options is None:
        return summary + " (not a polyepo estimator: only verl's checks apply)"
    n = int(config.actor_rollout_ref.rollout.n)
    if name == "poly_epo":
        summary += f", rollout.n={n}, set size k={options.set_size_for(n)}"
    backend = options.diversity.backend
    if options.uses_strategies or name != "poly_epo":
        reached = " (endpoint not asked: add --reach-judge)" if backend == "judge" and not reach_judge else ""
        summary += f", diversity.backend={backend}{reached}"
    return summary


def launch_command(python: str, overrides: list[str]) -> str:
    """The shell command that trains with ``overrides``: one word a line, quoted for bash."""
    words = [shlex.quote(python), "-m", LAUNCH_MODULE]
    return " \\\n  ".join([" ".join(words), *map(shlex.quote, overrides)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="polyepo-check",
        description="Check a verl run's configuration on CPU before launching it: compose verl's config from "
        "the overrides main_ppo would get and run every start-up check the run would (no Ray, no model).",
        epilog="Example: polyepo-check algorithm.adv_estimator=poly_epo actor_rollout_ref.rollout.n=8 "
        "++algorithm.poly_epo.set_size=4",
    )
    parser.add_argument("overrides", nargs="*", help="hydra overrides, as given to python -m verl.trainer.main_ppo")
    parser.add_argument(
        "--reach-judge",
        action="store_true",
        help="also ask the judge endpoint (diversity.backend=judge) to serve its model, as the run does; run it on "
        "the node where verl's TaskRunner will run",
    )
    parser.add_argument(
        "--print-launch",
        metavar="PYTHON",
        help=f"after the checks pass, print 'PYTHON -m {LAUNCH_MODULE} OVERRIDES' on stdout (the recipes' dry run)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # polyepo's notes stay; verl's remarks on this CPU-only process (no accelerator, optional
    # engines absent) say nothing about the run.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("VERL_LOGGING_LEVEL", "ERROR")  # verl's modules set their loggers' level from it
    warnings.filterwarnings("ignore", category=UserWarning)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout holds the launch command only
            summary = check_run(args.overrides, reach_judge=args.reach_judge)
    except (ValueError, RuntimeError, ImportError, AssertionError, HydraException, OmegaConfBaseException) as error:
        print(f"polyepo-check: FAILED: {error}", file=sys.stderr)
        return 1
    print(f"polyepo-check: ok: {summary}", file=sys.stderr)
    if args.print_launch:
        print(launch_command(args.print_launch, args.overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main())
