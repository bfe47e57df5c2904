"""How much of the judge's latency a training step waits for, end to end through verl on CPU.

    python benchmarks/bench_overlap.py [--delay 3] [--stage-delay 4] [--update-delay 0] [--steps 4]
        [--trainers legacy v1 v1_colocate_async separate_async one_step_off fully_async]
        [--judge-concurrency 32] [--staleness X]

Runs each trainer (``python -m verl.trainer.main_ppo``: legacy, v1 in its ``sync`` mode (``v1``),
``colocate_async`` and ``separate_async``; verl's one-step-off-policy and fully async trainers
as their own modules) with the CPU harness (tiny model, toy task) for these arms, each on the
same data and seed:

- ``labels``: the reward's labels (no judge): the reference step time;
- ``judge, in step``: a stand-in judge on 127.0.0.1 answering after ``--delay`` D seconds, with
  ``diversity.early_start=false`` (labelling inside the advantage stage, as before);
- ``judge, early``: the same judge, labelling started early (the default): at the reward stage
  (legacy), or each group as it is complete (fully async: in the rollouter, before the group is
  queued; v1: seen finished by the replay buffer's poll of TransferQueue).

each without and (``--stage-delay`` > 0) with the old-log-prob stage made S seconds slower
(``POLYEPO_HARNESS_OLD_LOG_PROB_DELAY_S``, a harness knob), standing in for a large model's
log-prob stages (``--stage-delay 0``: without only). ``--judge-concurrency``: the judge's
``max_concurrency`` (at 1 the step's groups are labelled one after another, as when a step has
many more groups than the judge takes at once). ``--update-delay`` U: every arm's actor update
made U seconds slower (``POLYEPO_HARNESS_UPDATE_ACTOR_DELAY_S``), the stage during which the
fully async rollouter generates (and labels) the next step's groups; ``--staleness``: the fully
async trainer's ``async_training.staleness_threshold`` (how far its rollouter may run ahead;
verl's default when not given). Reports per arm the mean ``timing_s/step`` over
steps 2..N (step 1 warms up; the fully async trainer's steps by ``training/global_step``) and their range,
``poly_epo/diversity_latency_s`` and ``poly_epo/diversity_wait_s``, then the extra step time
over the ``labels`` arm as a multiple of D and wait / latency. Expected: in-step extra ~ 1 x D;
early extra ~ max(0, D - overlapped time) / D, i.e. ~0 when S >= D.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from polyepo_plugin.cpu_harness import overrides, tiny_assets
from polyepo_plugin.cpu_harness.console import step_metrics
from polyepo_plugin.cpu_harness.stage_delay import ENV_VAR as STAGE_DELAY_ENV
from polyepo_plugin.cpu_harness.stage_delay import UPDATE_ENV_VAR

REPO = Path(__file__).resolve().parents[1]
FAKE_JUDGE = REPO / "tests" / "fake_judge.py"
# v1: sync mode; v1_colocate_async: that mode; the others as overrides.APART_TRAINERS runs them.
TRAINERS = ("legacy", "v1", "v1_colocate_async", "separate_async", "one_step_off", "fully_async")


def run_arm(
    paths: dict, trainer: str, steps: int, extra: list[str], stage_delay_s: float, update_delay_s: float, workdir: Path
) -> dict:
    apart = trainer if trainer in overrides.APART_TRAINERS else None
    use_v1 = trainer.startswith("v1")
    cmd = [
        sys.executable,
        "-m",
        overrides.APART_TRAINERS[apart] if apart else "verl.trainer.main_ppo",
        "algorithm.adv_estimator=poly_epo",
        *overrides.cpu_overrides(
            paths["model"], paths["train"], paths["val"], paths["reward"], steps=steps, use_v1=use_v1, apart=apart
        ),
        *(["trainer.v1.trainer_mode=colocate_async"] if trainer == "v1_colocate_async" else []),
        *extra,
    ]
    env = {
        **os.environ,
        overrides.ENV_VAR: overrides.MODULE,
        STAGE_DELAY_ENV: str(stage_delay_s),
        UPDATE_ENV_VAR: str(update_delay_s),
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"main_ppo failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    metrics = step_metrics(proc.stdout)
    if apart:  # logged at the next weight sync: by the step they describe
        metrics = {int(m["training/global_step"]): m for m in metrics.values() if "training/global_step" in m}
    measured = [metrics[s] for s in range(2, steps + 1)]

    def mean(key):
        values = [m[key] for m in measured if key in m]
        return sum(values) / len(values) if values else None  # a metric this arm does not log

    step_times = [m["timing_s/step"] for m in measured]
    return {
        "step_s": mean("timing_s/step"),
        "step_s_range": [min(step_times), max(step_times)],
        "streamed_groups": mean("poly_epo/diversity_streamed_groups"),
        "labelled_apart_groups": mean("poly_epo/diversity_labelled_apart_groups"),
        "latency_s": mean("poly_epo/diversity_latency_s"),
        "wait_s": mean("poly_epo/diversity_wait_s"),
        "in_step": mean("poly_epo/diversity_labelled_in_step"),
        "wall_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=3.0, help="the judge's answer delay D (s)")
    parser.add_argument("--stage-delay", type=float, default=4.0, help="extra old-log-prob time S (s)")
    parser.add_argument("--update-delay", type=float, default=0.0, help="extra actor-update time U (s), every arm")
    parser.add_argument("--staleness", type=float, default=None, help="fully async: async_training.staleness_threshold")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--trainers", nargs="+", default=list(TRAINERS), choices=TRAINERS)
    parser.add_argument("--judge-concurrency", type=int, default=32, help="diversity.judge.max_concurrency")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="polyepo_overlap_"))
    paths = tiny_assets.build_all(str(workdir / "assets"))
    judge = subprocess.Popen([sys.executable, str(FAKE_JUDGE), str(args.delay)], stdout=subprocess.PIPE, text=True)
    results = []
    try:
        base_url = judge.stdout.readline().strip()
        judge_options = [
            "+algorithm.poly_epo.diversity.backend=judge",
            f"+algorithm.poly_epo.diversity.judge.base_url={base_url}",
            f"+algorithm.poly_epo.diversity.judge.timeout_s={10 * args.delay + 10}",
            f"+algorithm.poly_epo.diversity.judge.max_concurrency={args.judge_concurrency}",
        ]
        arms = {
            "labels": ["+algorithm.poly_epo.diversity.backend=labels"],
            "judge, in step": [*judge_options, "+algorithm.poly_epo.diversity.early_start=false"],
            "judge, early": judge_options,
        }
        staleness = [] if args.staleness is None else [f"async_training.staleness_threshold={args.staleness}"]
        for trainer in args.trainers:
            for stage_delay in dict.fromkeys((0.0, args.stage_delay)):
                row = {}
                for arm, extra in arms.items():
                    extra = extra + (staleness if trainer == "fully_async" else [])
                    row[arm] = run_arm(paths, trainer, args.steps, extra, stage_delay, args.update_delay, workdir)
                    print(f"[{trainer} S={stage_delay:g}] {arm}: {json.dumps(row[arm])}", flush=True)
                results.append({"trainer": trainer, "stage_delay_s": stage_delay, "arms": row})
    finally:
        judge.kill()

    print(
        f"\nD = {args.delay:g} s judge delay, judge max_concurrency {args.judge_concurrency}; steps 2..{args.steps} "
        f"averaged; S = extra old-log-prob time; U = {args.update_delay:g} s extra update time"
    )
    print(f"{'trainer':11} {'S':>4} {'arm':16} {'step s':>7} {'extra/D':>8} {'latency':>8} {'wait':>6} {'wait/lat':>8}")
    for result in results:
        reference = result["arms"]["labels"]["step_s"]
        for arm, m in result["arms"].items():
            extra = (m["step_s"] - reference) / args.delay
            ratio = m["wait_s"] / m["latency_s"] if m["latency_s"] else float("nan")
            print(
                f"{result['trainer']:11} {result['stage_delay_s']:>4g} {arm:16} {m['step_s']:7.2f} {extra:8.2f} "
                f"{m['latency_s']:8.2f} {m['wait_s']:6.2f} {ratio:8.2f}"
            )
    if args.out:
        summary = {
            "delay_s": args.delay,
            "update_delay_s": args.update_delay,
            "staleness_threshold": args.staleness,
            "judge_concurrency": args.judge_concurrency,
            "steps": args.steps,
        }
        Path(args.out).write_text(json.dumps({**summary, "results": results}, indent=1, allow_nan=False))


if __name__ == "__main__":
    main()
