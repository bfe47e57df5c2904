"""patches/: the upstreamable change applies to verl 0.9.1 and makes runtime wrapping unnecessary."""

import os
import subprocess
import sys
import textwrap

from conftest import VERL_SITE, apply_verl_patch


def test_patch_applies_cleanly_to_the_installed_verl():
    result = apply_verl_patch(VERL_SITE, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout and "offset" not in result.stdout and "fuzz" not in result.stdout


def test_patched_verl_passes_group_inputs_without_runtime_wrappers(patched_verl):
    code = textwrap.dedent(
        """
        import numpy as np, torch, verl
        assert verl.__file__.startswith(PATCHED_ROOT), verl.__file__
        from verl import DataProto
        from verl.trainer.ppo import ray_trainer
        from polyepo_plugin.integration.patching import passes_group_inputs
        assert not hasattr(ray_trainer.compute_advantage, "__polyepo_wrapped__")
        assert passes_group_inputs(ray_trainer.compute_advantage)
        assert ray_trainer.RayPPOTrainer.__init__.__polyepo_wrapped__  # start-up validation stays
        rows = 8
        data = DataProto.from_dict(
            tensors={
                "responses": torch.arange(rows * 4).reshape(rows, 4) % 5,
                "response_mask": torch.ones(rows, 4, dtype=torch.long),
                "token_level_rewards": torch.tensor([[0, 0, 0, float(i % 3 == 0)] for i in range(rows)]),
            },
            non_tensors={"uid": np.array(["a"] * 4 + ["b"] * 4, dtype=object), "strategy": np.array([0, 1, 1, 2] * 2)},
        )
        metrics = {}
        config = {"poly_epo": {"diversity": {"backend": "labels"}}}
        out = ray_trainer.compute_advantage(data, adv_estimator="poly_epo", config=config, metrics=metrics)
        assert out.batch["advantages"].abs().sum() > 0
        assert metrics["poly_epo/groups"] == 2, metrics
        print("ok")
        """
    ).replace("PATCHED_ROOT", repr(str(patched_verl)))
    env = {**os.environ, "PYTHONPATH": str(patched_verl)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.strip().endswith("ok")
