"""``polyepo-demo``: GRPO vs Poly-EPO through verl's real trainer on CPU, seed by seed.

    polyepo-demo                          # GRPO and Poly-EPO (default backend), seeds 0 1
    polyepo-demo --seeds 0 1 2 3 4 5      # the per-seed table of the README (about an hour)
    polyepo-demo --arms grpo poly_epo grpo_div poly_epo_labels --seeds 0 1 2
    polyepo-demo --quick                  # CI smoke run: both arms, one seed, a few steps

It runs on CPU only, also on a GPU machine (its processes see no GPU): the default run takes
about 20-26 minutes on 2 CPU cores (each run 4-6.5 minutes: 40 steps, by when GRPO has
collapsed), --quick about 3 minutes; time grows with arms x seeds x steps. The targets are
judged on the mean over six seeds; two seeds can miss the 3x mean (seeds 0 1: 2.90x).

Every run (arm, seed) starts from the same base model and trains on the same problems for
the same number of steps; the held-out evaluation is verl's own validation after the last
step. Prints one row per run, each arm's mean ± std across seeds, the targets and how well
each strategy backend recovers the true strategies from the demo's responses; writes
``results.json``, ``pass_at_k.png`` and ``strategies.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import threading
import time

from polyepo_plugin import evaluation
from polyepo_plugin.cpu_harness import overrides as harness
from polyepo_plugin.demo import base_policy, report, runner, task
from polyepo_plugin.evaluation.cli import HelpFormatter

# 40 steps: GRPO's distinct correct strategies in training fall to about one by step 30 (6 seeds).
FULL = {"steps": 40, "n_test": 64, "val_n": 16, "seeds": [0, 1]}
QUICK = {"steps": 3, "n_test": 16, "val_n": 8, "seeds": [0]}
N_TRAIN = 320


class PeakMemory(threading.Thread):
    """Samples the machine's used memory; the peak above the start covers Ray's processes too."""

    def __init__(self):
        super().__init__(daemon=True)
        import psutil

        self._vm = psutil.virtual_memory
        self.start_used = self._used()
        self.peak_used = self.start_used
        self.stop = threading.Event()

    def _used(self) -> int:
        vm = self._vm()
        return vm.total - vm.available

    def run(self):
        while not self.stop.wait(0.5):
            self.peak_used = max(self.peak_used, self._used())


def log(msg: str) -> None:
    print(msg, flush=True)


def distinct_correct_over_training(rollout_groups: dict[int, list[dict]]) -> dict[int, float]:
    """Per training step: distinct correct strategies per prompt among its N rollouts (mean over prompts)."""
    return {
        step: evaluation.summarize_groups(groups)["summary"]["distinct_correct_strategies"]["mean"]
        for step, groups in rollout_groups.items()
    }


def agreement_groups(rollouts: list[dict[int, list[dict]]]) -> list[dict]:
    """The groups the backends are scored on: every run's first and last training step (the
    base policy's responses, and the trained policy's, as the backend met them in training)."""
    return [g for per_step in rollouts for step in sorted({min(per_step), max(per_step)}) for g in per_step[step]]


def build_parser() -> argparse.ArgumentParser:
    arms = "\n".join(f"  {name:<16} {text}" for name, text in runner.ARM_DESCRIPTIONS.items())
    parser = argparse.ArgumentParser(
        prog="polyepo-demo",
        description="\n\n".join(__doc__.split("\n\n")[:3]),
        epilog=f"arms (--arms):\n{arms}",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"CI smoke run: the default arms, {QUICK['steps']} steps, seed 0 (~3 min)"
    )
    parser.add_argument(
        "--steps", type=int, help=f"training steps per run (default {FULL['steps']}; --quick: {QUICK['steps']})"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help=f"one run per arm and seed (default {FULL['seeds']}; --quick: {QUICK['seeds']})",
    )
    parser.add_argument(
        "--arms",
        nargs="+",
        default=list(runner.DEFAULT_ARMS),
        choices=list(runner.ARMS),
        metavar="ARM",
        help=f"one or more of {', '.join(runner.ARMS)} (listed below)",
    )
    parser.add_argument("--lr", type=float, default=runner.Settings.lr, help="learning rate, the same for every arm")
    parser.add_argument("--out", default="polyepo_demo_out", help="results.json and the figures go here")
    parser.add_argument("--cache-dir", help="where the base model is cached (default: ~/.cache/polyepo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # CPU only, GPU or not: the harness's rollout exists only where CUDA sees no device.
    harness.hide_gpus(os.environ)
    mode = QUICK if args.quick else FULL
    steps = args.steps or mode["steps"]
    seeds = list(dict.fromkeys(args.seeds or mode["seeds"]))  # a seed given twice is one run
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    memory = PeakMemory()
    memory.start()
    start = time.time()

    train, test = task.split_problems(N_TRAIN, mode["n_test"], seed=0)
    data = {
        "train": task.write_parquet(train, os.path.join(out, "data", "train.parquet"), "train"),
        "test": task.write_parquet(test, os.path.join(out, "data", "test.parquet"), "test"),
    }
    base = base_policy.cached_base_model(train, cache_root=args.cache_dir, log=log)
    log(
        f"[demo] task: is T prime?, a method then the answer (0); {len(train)} train / {len(test)} held-out "
        f"problems, {task.CORRECT_PER_PROBLEM} of {len(task.STRATEGY_PRIMES)} methods correct each; {steps} steps x arms "
        f"{args.arms} x seeds {seeds}"
    )
    log("[demo] evaluating the base model with polyepo-eval (HF sampling)")
    base_eval = evaluation.evaluate(
        base,
        data["test"],
        n=mode["val_n"],
        reward=task.compute_score,
        backend="labels",  # the reward's true strategies, as every run is counted
        max_new_tokens=runner.Settings.max_response_length,
        seed=0,
        progress=False,
    )
    rows, rollouts, failed = [], [], []
    rollouts_by_arm: dict[str, list] = {}
    for arm in args.arms:
        for seed in seeds:
            row, per_step = _run(arm, seed, args, mode, steps, base, data, out)
            if row is None:
                failed.append(f"{arm} seed{seed}")
            else:
                rows.append(row)
                rollouts.append(per_step)
                rollouts_by_arm.setdefault(arm, []).append(per_step)

    agreement, scored, splits = {}, [], {}
    if rollouts:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base)
        scored = agreement_groups(rollouts)
        log(f"[demo] scoring the strategy backends on {len(scored)} training groups")
        agreement = report.backend_agreement(scored, tokenizer=tokenizer)
        by_arm = {arm: agreement_groups(per_arm) for arm, per_arm in rollouts_by_arm.items()}
        splits = report.wording_splits(by_arm, tokenizer=tokenizer)
    memory.stop.set()
    wall = time.time() - start
    stats = report.across_seeds(rows)
    checks = report.target_checks(rows)
    collapse = report.collapse_check(rows)
    results = {
        "measured": (
            "per run (arm, seed): verl's validation after the last step on held-out problems, N samples each at "
            "temperature 1; pass@k unbiased (Chen et al. 2021), means over problems; across seeds: mean and sample std; "
            "strategies = the method named in the reasoning (the task's true labels, from the reward)"
        ),
        "command": " ".join(["polyepo-demo", *(argv if argv is not None else sys.argv[1:])]),
        "mode": "quick" if args.quick else "full",
        "trainer": "verl legacy trainer (trainer.use_v1=False) via python -m verl.trainer.main_ppo",
        "settings": {
            "arms": args.arms,
            "steps": steps,
            "seeds": seeds,
            "lr": args.lr,
            "train_problems": len(train),
            "test_problems": len(test),
            "rollout_n": runner.Settings.rollout_n,
            "val_n": mode["val_n"],
            "batch": runner.Settings.batch,
            "set_size": runner.Settings.rollout_n // 2,
            "max_response_length": runner.Settings.max_response_length,
        },
        "base_model": base,
        "base": report.seed_row("base", None, base_eval, source="polyepo_plugin.evaluation.evaluate (HF sampling)"),
        "runs": rows,
        "across_seeds": stats,
        "targets": checks,
        "baseline_collapse": collapse,
        "backend_agreement": {
            "groups": len(scored),
            "responses": sum(len(g["responses"]) for g in scored),
            "backends": agreement,
            "wording_splits": splits,
        },
        "failed": failed,
        "wall_s": round(wall, 1),
        "peak_memory_above_start_gib": round((memory.peak_used - memory.start_used) / 2**30, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()},
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1, allow_nan=False)
    report.write_figures(results, out)
    base_row = results["base"]
    log(
        f"\n[demo] held-out: {len(test)} problems, {mode['val_n']} samples each; base model: pass@1 "
        f"{base_row['pass@1']:.3f}, pass@{mode['val_n']} {base_row['pass@n']:.3f}, distinct correct "
        f"{base_row['distinct_correct']:.2f}"
    )
    log(report.format_runs(rows, stats, mode["val_n"]))
    log(report.format_targets(checks))
    log(report.format_collapse(collapse))
    if agreement:
        log(report.format_agreement(agreement, len(scored), results["backend_agreement"]["responses"]))
        log(report.format_wording_splits(splits))
    log(
        f"[demo] wall {wall:.0f}s, peak memory +{results['peak_memory_above_start_gib']} GiB; wrote {out}/results.json, "
        f"pass_at_k.png, strategies.png"
    )
    if failed:
        log(f"[demo] FAILED runs: {failed}")
    log(report.verdict(checks))
    return 1 if failed else 0


def _run(arm, seed, args, mode, steps, base, data, out):
    """One run (arm, seed): its row of results and its training groups per step, or (None, None)
    when it failed."""
    settings = runner.Settings(steps=steps, seed=seed, val_n=mode["val_n"], lr=args.lr)
    work = os.path.join(out, "runs", f"{arm}_seed{seed}")
    shutil.rmtree(work, ignore_errors=True)  # an earlier run's dumps must not count as this run's
    run = runner.run_arm(arm, base, data["train"], data["test"], task.__file__, settings, work, log=log)
    validation = runner.read_jsonl_dir(run.validation_dir)
    per_step = {step: runner.groups_from_dump(dump) for step, dump in runner.read_jsonl_dir(run.rollout_dir).items()}
    if run.returncode != 0 or len(run.metrics) != steps or not validation or len(per_step) != steps:
        log(f"[demo] {arm} seed{seed} FAILED (exit {run.returncode}); last lines of its log:\n{run.log[-4000:]}")
        return None, None
    held_out = evaluation.summarize_groups(runner.groups_from_dump(validation[max(validation)]))
    row = report.seed_row(
        arm,
        seed,
        held_out,
        wall_s=round(run.wall_s, 1),
        last_step_metrics={
            k: v for k, v in run.metrics[steps].items() if k.startswith(("poly_epo/", "critic/score", "timing_s/step"))
        },
        distinct_correct_over_training=distinct_correct_over_training(per_step),
    )
    log(
        f"[demo] {arm} seed{seed}: pass@1 {row['pass@1']:.3f}, pass@{mode['val_n']} {row['pass@n']:.3f}, "
        f"distinct correct {row['distinct_correct']:.2f} ({run.wall_s:.0f}s)"
    )
    return row, per_step


if __name__ == "__main__":
    raise SystemExit(main())
