"""``polyepo-demo --quick`` end to end: both default arms train through verl's real trainer on
CPU and the results, the targets and the backend agreement figures are well formed. Which arm
wins is not asserted here (see the demo's full run). About 3 minutes (Ray start-up per run
dominates; the base model is pre-trained once, a minute, and cached).

    pytest -m slow tests/e2e/test_demo_quick.py -s
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from polyepo_plugin.demo import task

REPO_ROOT = Path(__file__).resolve().parents[2]
ARMS = ("grpo", "poly_epo")


@pytest.mark.slow
def test_demo_quick(tmp_path):
    pytest.importorskip("verl")
    import torch

    if torch.cuda.is_available():
        pytest.skip("the demo's CPU harness is inert when CUDA is available")
    out = tmp_path / "demo"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "polyepo_plugin.demo.cli", "--quick", "--out", str(out)]
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=900)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log_path.read_text(errors="replace")
    assert proc.returncode == 0, f"polyepo-demo --quick exited {proc.returncode}\n{text[-20000:]}"

    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "quick" and results["failed"] == []
    settings = results["settings"]
    steps, n, (seed,) = settings["steps"], settings["val_n"], settings["seeds"]
    assert settings["arms"] == list(ARMS)
    runs = {row["arm"]: row for row in results["runs"]}
    assert set(runs) == set(ARMS) and len(results["runs"]) == len(ARMS)
    for name, row in [("base", results["base"]), *runs.items()]:
        means = row["pass_at_k"]
        assert len(means) == n and means[0] == row["pass@1"] and means[-1] == row["pass@n"]
        assert row["problems"] == settings["test_problems"], name  # every held-out problem was evaluated
        assert all(0 <= a <= b <= 1 for a, b in itertools.pairwise(means)), name
        assert 0 <= row["distinct_correct"] <= min(row["distinct"], task.CORRECT_PER_PROBLEM)
    for name, row in runs.items():
        assert row["seed"] == seed
        # Ran through verl: its per-step console metrics for every step, its rollout dumps per step.
        assert "critic/score/mean" in row["last_step_metrics"]
        assert sorted(map(int, row["distinct_correct_over_training"])) == list(range(1, steps + 1))
        has_poly = any(k.startswith("poly_epo/") for k in row["last_step_metrics"])
        assert has_poly == (name == "poly_epo"), name
        assert f"[{name} seed{seed}] step {steps}/{steps}" in text  # progress was shown
    for arm, stats in results["across_seeds"].items():
        assert stats["pass@1"] == {"mean": runs[arm]["pass@1"], "std": None, "runs": 1}
    assert [p["seed"] for p in results["targets"]["per_seed"]] == [seed]
    agreement = results["backend_agreement"]
    # Steps 1 and the last of both runs, rollout_n responses per prompt of each batch.
    assert agreement["groups"] == 2 * len(ARMS) * settings["batch"]
    assert agreement["responses"] == agreement["groups"] * settings["rollout_n"]
    assert set(agreement["backends"]) == {"answer", "ngram", "embedding", "semantic"}
    for all_responses in agreement["backends"].values():
        for scores in (all_responses, all_responses["correct_only"]):
            assert 0 < scores["groups"] <= agreement["groups"] and -1 <= scores["ari"] <= 1
            assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
    # Every response ends in the same answer: reading it alone links everything, ARI 0.
    assert agreement["backends"]["answer"]["correct_only"]["ari"] == pytest.approx(0.0, abs=1e-9)
    assert results["baseline_collapse"] is None  # too few steps to judge
    assert "targets (poly_epo vs grpo)" in text and "strategy backends vs the true strategies" in text
    for png in ("pass_at_k.png", "strategies.png"):
        assert (out / png).stat().st_size > 0
