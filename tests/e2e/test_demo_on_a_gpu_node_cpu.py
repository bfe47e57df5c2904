"""A demo run where CUDA is visible (faked, tests/fake_cuda.py) still trains on CPU: the run hides
the GPU from verl's trainer and its Ray workers, so the CPU harness applies in each of them. One
arm, one step; about 1.5 minutes.

    pytest -m slow tests/e2e/test_demo_on_a_gpu_node_cpu.py
"""

from __future__ import annotations

import os

import pytest
from fake_cuda import fake_cuda_env

from polyepo_plugin.cpu_harness import tiny_assets
from polyepo_plugin.demo import runner


@pytest.mark.slow
def test_a_demo_run_trains_on_cpu_where_cuda_is_visible(tmp_path, monkeypatch):
    pytest.importorskip("verl")
    env = fake_cuda_env(os.environ, tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    paths = tiny_assets.build_all(str(tmp_path / "assets"))
    settings = runner.Settings(steps=1, seed=0, batch=4, rollout_n=4, val_n=2, mini_batch=4)
    run = runner.run_arm(
        "grpo", paths["model"], paths["train"], paths["val"], paths["reward"], settings, str(tmp_path / "run"), log=print
    )
    assert run.returncode == 0 and len(run.metrics) == 1, run.log[-8000:]
