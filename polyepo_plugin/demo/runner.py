"""One demo arm = one ``python -m verl.trainer.main_ppo`` subprocess on CPU, watched live.

The run uses the opt-in CPU harness (set in the child's environment only, with every GPU hidden
from it: on a GPU node it still runs on CPU), the legacy trainer,
and dumps every step's rollouts and the final held-out validation samples as JSONL, which
the demo reads back for its strategy counts and pass@k.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from polyepo_plugin.cpu_harness import overrides as harness
from polyepo_plugin.cpu_harness.console import parse_step_line
from polyepo_plugin.demo import task

REPO_ROOT = Path(__file__).resolve().parents[2]
ARMS = {
    "grpo": ["algorithm.adv_estimator=grpo", "algorithm.norm_adv_by_std_in_grpo=False"],
    "poly_epo": ["algorithm.adv_estimator=poly_epo"],
    "grpo_div": ["algorithm.adv_estimator=grpo_div"],
    "poly_epo_labels": ["algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=labels"],
    "poly_epo_ngram": ["algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=ngram"],
}
# What each arm is, for the demo's --help.
ARM_DESCRIPTIONS = {
    "grpo": "the paper's GRPO baseline, r - mean(r), no std division",
    "poly_epo": "Poly-EPO as a user runs it: the default strategy backend, reading the responses' text",
    "grpo_div": "the paper's GRPO+DIV baseline, with the same default backend",
    "poly_epo_labels": "Poly-EPO with the true strategies from the reward: an upper bound on strategy detection",
    "poly_epo_ngram": "Poly-EPO with the ngram backend (token n-gram overlap)",
}
DEFAULT_ARMS = ("grpo", "poly_epo")


@dataclass
class Settings:
    steps: int
    seed: int
    batch: int = 16
    rollout_n: int = 8
    val_n: int = 16
    lr: float = 3e-4
    mini_batch: int = 8
    max_response_length: int = 16


@dataclass
class ArmRun:
    arm: str
    seed: int
    returncode: int
    wall_s: float
    metrics: dict[int, dict[str, float]] = field(default_factory=dict)
    log: str = ""
    rollout_dir: str = ""
    validation_dir: str = ""


def arm_overrides(arm: str, model: str, train: str, test: str, reward: str, s: Settings, work: str) -> list[str]:
    ours = {
        "data.max_prompt_length": "32",
        "data.seed": str(s.seed),
        "actor_rollout_ref.rollout.seed": str(s.seed),
        "actor_rollout_ref.actor.optim.lr": str(s.lr),
        "actor_rollout_ref.actor.ppo_mini_batch_size": str(s.mini_batch),
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": str(s.mini_batch * s.rollout_n),
        # The paper's loss: Dr.GRPO aggregation over the max response length, clip 0.20 / 0.28, no KL/entropy.
        "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-sum-norm",
        "actor_rollout_ref.actor.loss_scale_factor": str(s.max_response_length),
        "actor_rollout_ref.actor.clip_ratio_low": "0.2",
        "actor_rollout_ref.actor.clip_ratio_high": "0.28",
        "actor_rollout_ref.actor.entropy_coeff": "0",
        # A stable request id per sample (verl's own switch), from which the harness's rollout
        # seeds that sample's draws: two runs of one seed then repeat each other.
        "actor_rollout_ref.rollout.full_determinism": "True",
        # Held-out evaluation inside verl's validation loop, after the last step only.
        "trainer.test_freq": str(s.steps),
        "trainer.validation_data_dir": os.path.join(work, "validation"),
        "actor_rollout_ref.rollout.val_kwargs.n": str(s.val_n),
        "actor_rollout_ref.rollout.val_kwargs.do_sample": "True",
        "actor_rollout_ref.rollout.val_kwargs.temperature": "1.0",
        "trainer.project_name": "polyepo_demo",
        "trainer.experiment_name": f"{arm}_seed{s.seed}",
        "trainer.default_local_dir": os.path.join(work, "checkpoints"),
    }
    base = harness.cpu_overrides(
        model,
        train,
        test,
        reward,
        steps=s.steps,
        use_v1=False,
        train_batch_size=s.batch,
        rollout_n=s.rollout_n,
        max_response_length=s.max_response_length,
        rollout_data_dir=os.path.join(work, "rollouts"),
    )
    kept = [o for o in base if o.split("=", 1)[0] not in ours]  # hydra rejects a key given twice
    return [*ARMS[arm], *kept, *(f"{k}={v}" for k, v in ours.items())]


def run_arm(
    arm: str, model: str, train: str, test: str, reward: str, s: Settings, work: str, log=print, timeout_s: float = 1800
) -> ArmRun:
    """Run one arm to completion, printing a progress line per training step."""
    os.makedirs(work, exist_ok=True)
    cmd = [sys.executable, "-m", "verl.trainer.main_ppo", *arm_overrides(arm, model, train, test, reward, s, work)]
    env = run_env(os.environ)
    log_path = Path(work) / "main_ppo.log"
    run = ArmRun(
        arm,
        s.seed,
        -1,
        0.0,
        rollout_dir=os.path.join(work, "rollouts"),
        validation_dir=os.path.join(work, "validation"),
    )
    start = time.time()
    # Output to a file, polled: a pipe could be held open by a stray Ray process. Own session,
    # so a hung run is killed with everything it started and nothing else.
    with open(log_path, "w") as out, open(log_path) as follow:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        log(f"[{arm} seed{s.seed}] started verl (legacy trainer), log: {log_path}")
        while True:
            done = proc.poll() is not None
            for line in follow.readlines():
                _follow_line(line, run, s, start, log)
            if done:
                break
            if time.time() - start > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                log(f"[{arm} seed{s.seed}] killed after {timeout_s:.0f}s")
                break
            time.sleep(0.5)
    run.returncode = proc.returncode
    run.wall_s = time.time() - start
    run.log = log_path.read_text(errors="replace")
    return run


def run_env(base: Mapping[str, str]) -> dict:
    """The environment of one arm's verl run: ``base`` with the CPU harness named for this child
    (and its Ray workers) only, and every GPU hidden from them (``harness.hide_gpus``)."""
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env[harness.ENV_VAR] = harness.MODULE
    harness.hide_gpus(env)
    env.setdefault("OMP_NUM_THREADS", "1")  # several torch processes on 2 cores: more threads is slower
    env.setdefault("RAY_DEDUP_LOGS", "0")
    return env


def _follow_line(line: str, run: ArmRun, s: Settings, start: float, log) -> None:
    parsed = parse_step_line(line)
    if parsed is None:
        return
    step, metrics = parsed
    run.metrics[step] = metrics
    extra = (
        f" distinct correct {metrics['poly_epo/distinct_correct_strategies_mean']:.2f}"
        if "poly_epo/distinct_correct_strategies_mean" in metrics
        else ""
    )
    log(
        f"[{run.arm} seed{s.seed}] step {step}/{s.steps} reward {metrics.get('critic/score/mean', float('nan')):.3f}"
        f"{extra} ({metrics.get('timing_s/step', float('nan')):.2f}s/step, {time.time() - start:.0f}s)"
    )


def read_jsonl_dir(path: str) -> dict[int, list[dict]]:
    """verl's generation dumps: ``<step>.jsonl`` -> rows."""
    out = {}
    for f in Path(path).glob("*.jsonl"):
        out[int(f.stem)] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return dict(sorted(out.items()))


def groups_from_dump(rows: list[dict]) -> list[dict]:
    """Rows of one dump grouped by prompt, in the form ``evaluation.summarize_groups`` reads."""
    by_prompt: dict[str, dict] = {}
    for row in rows:
        g = by_prompt.setdefault(
            row["input"], {"prompt": row["input"], "responses": [], "scores": [], "answers": [], "strategies": []}
        )
        g["responses"].append(row["output"])
        g["scores"].append(float(row["score"]))
        g["answers"].append(task.parse_answer(row["output"]))
        g["strategies"].append(int(row["strategy"]))
    return list(by_prompt.values())
