"""The v1 trainer's advantage step with a real TransferQueue: stock verl (runtime wrappers)
and verl patched with patches/ (native support) both hand poly_epo the groups' responses and
reward extra info, and write back what the core functions compute."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transfer_queue", reason="the v1 trainer needs TransferQueue (installed by .ci/install.sh)")

PROBE = Path(__file__).with_name("v1_advantage_probe.py")


def run_probe(pythonpath=None):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True, env=env, timeout=300, cwd="/")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def check(report):
    for backend in ("labels", "ngram"):
        got = report[backend]
        assert got["constant_per_response"]
        assert got["written"] == pytest.approx(got["expected"], abs=1e-6), backend
        assert any(abs(a) > 1e-6 for a in got["written"]), backend
        assert got["metrics"]["poly_epo/groups"] == 3
    assert report["labels"]["metrics"]["poly_epo/distinct_strategies_mean"] == 3  # labels 0,1,2 reached it
    assert report["ngram"]["metrics"]["poly_epo/distinct_strategies_mean"] >= 2


def test_stock_v1_with_runtime_integration():
    check(run_probe())


def test_v1_patched_with_the_upstream_patch(patched_verl):
    check(run_probe(pythonpath=patched_verl))
