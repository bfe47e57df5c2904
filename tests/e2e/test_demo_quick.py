"""``polyepo-demo --quick`` end to end: every arm trains through verl's real trainer on CPU and
the results are well formed. Which arm wins is not asserted here (see the demo's full run).
About 5 minutes (Ray start-up per arm dominates; the base model is pre-trained once and cached).

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

REPO_ROOT = Path(__file__).resolve().parents[2]
ARMS = ("grpo", "poly_epo_labels", "poly_epo_ngram")


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
    assert set(results["arms"]) == {"base", *ARMS}
    steps = results["settings"]["steps"]
    n = results["settings"]["val_n"]
    for name, arm in results["arms"].items():
        pooled = arm["pooled"]
        assert len(pooled["pass_at_k"]) == n and pooled["units"] == results["settings"]["test_problems"]
        means = [p["mean"] for p in pooled["pass_at_k"]]
        assert all(0 <= a <= b <= 1 for a, b in itertools.pairwise(means)), name
        assert 0 <= pooled["distinct_correct_strategies"]["mean"] <= pooled["distinct_strategies"]["mean"] <= n
        if name == "base":
            continue
        (run,) = arm["runs"]
        # Ran through verl: its per-step console metrics for every step, its rollout dumps per step.
        assert run["verl_steps_seen"] == steps
        assert "critic/score/mean" in run["last_step_metrics"]
        assert sorted(map(int, run["distinct_correct_over_training"])) == list(range(1, steps + 1))
        has_poly = any(k.startswith("poly_epo/") for k in run["last_step_metrics"])
        assert has_poly == name.startswith("poly_epo"), name
    for png in ("pass_at_k.png", "strategies.png"):
        assert (out / png).stat().st_size > 0
    for arm in ARMS:
        assert f"[{arm} seed0] step {steps}/{steps}" in text  # progress was shown
