"""``polyepo-demo``: GRPO vs Poly-EPO through verl's real trainer on CPU, then pass@k and strategies.

    polyepo-demo                 # full demo (about 20 minutes on 2 CPU cores)
    polyepo-demo --quick         # CI smoke run: every arm for a few steps (about 5 minutes)

Same data, seed and step budget for every arm; writes ``results.json``, ``pass_at_k.png`` and
``strategies.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time

from polyepo_plugin import evaluation
from polyepo_plugin.demo import base_policy, runner, task

FULL = {"steps": 80, "n_test": 96, "val_n": 16}
QUICK = {"steps": 3, "n_test": 32, "val_n": 8}
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


def distinct_correct_over_training(rollout_dir: str) -> dict[int, float]:
    """Per training step: distinct correct strategies per prompt among its N rollouts (mean over prompts)."""
    out = {}
    for step, rows in runner.read_jsonl_dir(rollout_dir).items():
        summary = evaluation.summarize_groups(runner.groups_from_dump(rows))["summary"]
        out[step] = summary["distinct_correct_strategies"]["mean"]
    return out


def pooled(per_seed: list[dict]) -> dict:
    """Pass@k and strategy counts pooled over (held-out problem, seed) pairs, with standard errors."""
    prompts = [p for result in per_seed for p in result["per_prompt"]]
    n = len(prompts[0]["pass_at_k"])
    return {
        "units": len(prompts),
        "pass_at_k": [evaluation.mean_se([p["pass_at_k"][k] for p in prompts]) for k in range(n)],
        "majority_at_k": (  # unavailable when an evaluation found no answer to vote on
            None
            if any(p["majority_at_k"] is None for p in prompts)
            else [evaluation.mean_se([p["majority_at_k"][k] for p in prompts]) for k in range(n)]
        ),
        "distinct_strategies": evaluation.mean_se([p["distinct_strategies"] for p in prompts]),
        "distinct_correct_strategies": evaluation.mean_se([p["distinct_correct_strategies"] for p in prompts]),
    }


def plot_strategies(curves: dict[str, dict[int, float]], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        steps = sorted(curve)
        ax.plot(steps, [curve[s] for s in steps], label=name)
    return evaluation.save_figure(
        fig,
        ax,
        path,
        "training step",
        "distinct correct strategies / prompt",
        "training rollouts (N per prompt), mean over the batch",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyepo-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per arm (CI)")
    parser.add_argument("--out", default="polyepo_demo_out")
    parser.add_argument("--steps", type=int, help="training steps per arm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--arms", nargs="+", default=list(runner.ARMS), choices=list(runner.ARMS))
    parser.add_argument("--lr", type=float, default=runner.Settings.lr)
    parser.add_argument("--cache-dir", help="where the base model is cached (default ~/.cache/polyepo)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    steps = args.steps or mode["steps"]
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
        f"[demo] task: name a prime factor of T; {len(train)} train / {len(test)} held-out problems, 3 of 8 primes "
        f"correct each; {steps} steps x {len(args.arms)} arms x seeds {args.seeds}"
    )
    log("[demo] evaluating the base model with polyepo-eval (HF sampling)")
    base_eval = evaluation.evaluate(
        base, data["test"], n=mode["val_n"], reward=task.compute_score, max_new_tokens=4, seed=0
    )
    arms: dict[str, dict] = {"base": {"pooled": pooled([base_eval]), "source": "polyepo_plugin.evaluation.evaluate"}}
    curves: dict[str, dict[int, float]] = {}
    failed = []
    for arm in args.arms:
        per_seed, runs = [], []
        for seed in args.seeds:
            settings = runner.Settings(steps=steps, seed=seed, val_n=mode["val_n"], lr=args.lr)
            run = runner.run_arm(
                arm,
                base,
                data["train"],
                data["test"],
                task.__file__,
                settings,
                os.path.join(out, "runs", f"{arm}_seed{seed}"),
                log=log,
            )
            validation = runner.read_jsonl_dir(run.validation_dir)
            ok = run.returncode == 0 and len(run.metrics) == steps and bool(validation)
            if not ok:
                failed.append(f"{arm} seed{seed}")
                log(
                    f"[demo] {arm} seed{seed} FAILED (exit {run.returncode}); last lines of the log:\n{run.log[-4000:]}"
                )
                continue
            per_seed.append(evaluation.summarize_groups(runner.groups_from_dump(validation[max(validation)])))
            last = run.metrics[steps]
            runs.append(
                {
                    "seed": seed,
                    "wall_s": round(run.wall_s, 1),
                    "verl_steps_seen": len(run.metrics),
                    "last_step_metrics": {
                        k: v for k, v in last.items() if k.startswith(("poly_epo/", "critic/score", "timing_s/step"))
                    },
                    "distinct_correct_over_training": distinct_correct_over_training(run.rollout_dir),
                }
            )
            curves.setdefault(arm, {})
            for step_, value in runs[-1]["distinct_correct_over_training"].items():  # mean over seeds
                curves[arm][step_] = curves[arm].get(step_, 0.0) + value / len(args.seeds)
        if per_seed:
            arms[arm] = {
                "pooled": pooled(per_seed),
                "runs": runs,
                "source": "verl validation (trainer.validation_data_dir)",
            }

    memory.stop.set()
    wall = time.time() - start
    results = {
        "measured": (
            "held-out problems, N samples each at temperature 1; pass@k unbiased (Chen et al. 2021); "
            "SE over (problem, seed) pairs; strategies = the prime named (the task's own labels)"
        ),
        "command": " ".join(["polyepo-demo", *(argv if argv is not None else sys.argv[1:])]),
        "mode": "quick" if args.quick else "full",
        "trainer": "verl legacy trainer (trainer.use_v1=False) via python -m verl.trainer.main_ppo",
        "settings": {
            "steps": steps,
            "seeds": args.seeds,
            "lr": args.lr,
            "train_problems": len(train),
            "test_problems": len(test),
            "rollout_n": runner.Settings.rollout_n,
            "val_n": mode["val_n"],
            "batch": runner.Settings.batch,
            "set_size": runner.Settings.rollout_n // 2,
        },
        "base_model": base,
        "arms": arms,
        "failed": failed,
        "wall_s": round(wall, 1),
        "peak_memory_above_start_gib": round((memory.peak_used - memory.start_used) / 2**30, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    evaluation.plot_pass_at_k({k: v["pooled"] for k, v in arms.items()}, os.path.join(out, "pass_at_k.png"))
    plot_strategies(curves, os.path.join(out, "strategies.png"))
    log(
        f"\n[demo] measured on {len(test)} held-out problems x seeds {args.seeds}, {mode['val_n']} samples each "
        f"(mean ± SE over problem-seed pairs):"
    )
    log(f"{'arm':<18}{'pass@1':>16}{'pass@' + str(mode['val_n']):>16}{'distinct correct':>20}")
    for name, arm in arms.items():
        p = arm["pooled"]
        first, lastk, dc = p["pass_at_k"][0], p["pass_at_k"][-1], p["distinct_correct_strategies"]
        log(
            f"{name:<18}{first['mean']:>9.3f} ±{first['se']:.3f}{lastk['mean']:>9.3f} ±{lastk['se']:.3f}"
            f"{dc['mean']:>13.2f} ±{dc['se']:.2f}"
        )
    log(
        f"[demo] wall {wall:.0f}s, peak memory +{results['peak_memory_above_start_gib']} GiB; wrote {out}/results.json, "
        f"pass_at_k.png, strategies.png"
    )
    if failed:
        log(f"[demo] FAILED runs: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
