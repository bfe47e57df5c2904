"""The demo's task through TRL: GRPO (TRL's ``GRPOTrainer``) against Poly-EPO (``PolyEpoGRPOTrainer``).

    python examples/trl/demo_task.py                       # seed 0, 40 steps (CPU)
    python examples/trl/demo_task.py --seeds 0 1 2 --out trl_demo_out

The same problems, base model (``polyepo-demo``'s, pre-trained locally and cached) and settings as
``polyepo-demo``'s verl runs: 16 prompts x 8 responses per step, two optimizer updates per step,
lr 3e-4, Dr.GRPO loss over the 16-token budget, clip 0.2 / 0.28, no KL, advantages not divided by
a standard deviation (GRPO: ``scale_rewards="none"``), Poly-EPO with its defaults (the
``semantic`` backend, k = N/2 = 4). What differs from verl: TRL's trainer and its HF generation,
and the held-out evaluation, here ``polyepo_plugin.evaluation.evaluate`` (HF sampling, 16
samples at temperature 1, strategies = the method in the reason) after training. Prints the
demo's table and targets and writes ``results.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from polyepo_plugin import evaluation
from polyepo_plugin.demo import base_policy, report, task
from polyepo_plugin.demo.cli import FULL, N_TRAIN
from polyepo_plugin.demo.runner import Settings
from polyepo_plugin.trl import PolyEpoGRPOConfig, PolyEpoGRPOTrainer

ARMS = ("grpo", "poly_epo")


def verified_method(completions, ground_truth, **_):
    """The demo's reward: 1 when the reason's method finds a prime that divides T and the answer is 0."""
    return [task.compute_score(None, c[-1]["content"], t)["score"] for c, t in zip(completions, ground_truth)]


def train_arm(arm: str, base: str, train, seed: int, steps: int, out: str) -> str:
    s = Settings(steps=steps, seed=seed)
    updates_per_step = s.batch // s.mini_batch  # verl: ppo_mini_batch_size prompts per update
    common = {
        "output_dir": out,
        "max_steps": steps * updates_per_step,
        "per_device_train_batch_size": s.mini_batch * s.rollout_n,
        "steps_per_generation": updates_per_step,
        "num_generations": s.rollout_n,
        "max_completion_length": s.max_response_length,
        "temperature": 1.0,
        "learning_rate": s.lr,
        "lr_scheduler_type": "constant",
        "weight_decay": 0.01,
        "beta": 0.0,
        "epsilon": 0.2,
        "epsilon_high": 0.28,
        "loss_type": "dr_grpo",
        "scale_rewards": "none",
        "bf16": False,
        "use_cpu": True,
        "seed": seed,
        "data_seed": seed,
        "logging_steps": updates_per_step,
        "report_to": [],
        "save_strategy": "no",
    }
    args = GRPOConfig(**common) if arm == "grpo" else PolyEpoGRPOConfig(**common, advantage_estimator=arm)
    trainer_class = GRPOTrainer if arm == "grpo" else PolyEpoGRPOTrainer
    dataset = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": task.question(t)}] for t, _ in train],
            "ground_truth": [str(t) for t, _ in train],
        }
    )
    trainer = trainer_class(model=base, reward_funcs=verified_method, args=args, train_dataset=dataset)
    trainer.train()
    trainer.save_model(out)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=FULL["steps"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--out", default="trl_demo_out")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the demo: on a shared small machine more threads run slower
    out = os.path.abspath(args.out)
    started = time.time()
    train, test = task.split_problems(N_TRAIN, FULL["n_test"], seed=0)
    test_data = task.write_parquet(test, os.path.join(out, "data", "test.parquet"), "test")
    base = base_policy.cached_base_model(train)

    def held_out(model_dir: str) -> dict:
        return evaluation.evaluate(
            model_dir,
            test_data,
            n=FULL["val_n"],
            reward=task.compute_score,
            backend="labels",  # strategies = the method in the reason, from the reward, as the demo's runs count them
            max_new_tokens=Settings.max_response_length,
            seed=0,
            progress=False,
        )

    rows = []
    base_row = report.seed_row("base", None, held_out(base))
    for arm in args.arms:
        for seed in args.seeds:
            arm_started = time.time()
            model_dir = train_arm(arm, base, train, seed, args.steps, os.path.join(out, "runs", f"{arm}_seed{seed}"))
            train_s = time.time() - arm_started
            rows.append(report.seed_row(arm, seed, held_out(model_dir), wall_s=round(train_s, 1)))
            print(f"[trl demo] {arm} seed {seed}: trained in {train_s:.0f}s", flush=True)
    stats = report.across_seeds(rows)
    checks = report.target_checks(rows)
    wall = time.time() - started
    print(
        f"\nheld-out: {len(test)} problems, {FULL['val_n']} samples each; base model: pass@1 {base_row['pass@1']:.3f}, "
        f"pass@{FULL['val_n']} {base_row['pass@n']:.3f}, distinct correct {base_row['distinct_correct']:.2f}"
    )
    print(report.format_runs(rows, stats, FULL["val_n"]))
    print(report.format_targets(checks))
    print(f"wall {wall:.0f}s (wall s per row: training only)")
    results = {"trainer": "TRL GRPOTrainer / PolyEpoGRPOTrainer", "steps": args.steps, "base": base_row, "runs": rows}
    results.update(across_seeds=stats, targets=checks, wall_s=round(wall, 1))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
