"""The plugin reaches verl through its real entry-point loading, in fresh processes."""

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import pytest


def run_python(code, **env):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        cwd="/",  # nothing of the checkout on sys.path but the installed package
    )
    return result


def test_plain_import_verl_registers_poly_epo():
    result = run_python(
        """
        import verl
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn
        fn = get_adv_estimator_fn("poly_epo")
        print(fn.__module__, fn.__name__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "polyepo_plugin.estimator compute_poly_epo_advantage"


def test_entry_point_is_declared_in_the_verl_plugins_group():
    points = [ep for ep in importlib.metadata.entry_points(group="verl.plugins") if ep.name == "polyepo"]
    assert [ep.value for ep in points] == ["polyepo_plugin.integration.registration"]


def test_plugins_off_means_no_estimator():
    result = run_python(
        """
        import verl
        from verl.trainer.ppo import core_algos
        print("poly_epo" in core_algos.ADV_ESTIMATOR_REGISTRY)
        """,
        VERL_USE_EXTERNAL_PLUGINS="none",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_second_import_and_reload_keep_one_registration():
    result = run_python(
        """
        import importlib, verl
        from verl.trainer.ppo import core_algos
        import sys
        import polyepo_plugin.integration.registration as registration
        importlib.reload(registration)
        estimator = importlib.reload(importlib.import_module("polyepo_plugin.estimator"))
        importlib.reload(registration)
        assert core_algos.get_adv_estimator_fn("poly_epo") is estimator.compute_poly_epo_advantage
        hooks = [f for f in sys.meta_path if type(f).__qualname__ == "_PatchAfterImport"]
        assert len(hooks) == 1, hooks
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "WARNING" not in result.stderr


def test_a_foreign_estimator_under_our_name_is_left_alone_with_a_warning():
    result = run_python(
        """
        import importlib, verl
        from verl.trainer.ppo import core_algos
        def other(**kwargs):
            pass
        core_algos.ADV_ESTIMATOR_REGISTRY["poly_epo"] = other
        importlib.reload(importlib.import_module("polyepo_plugin.integration.registration"))
        assert core_algos.get_adv_estimator_fn("poly_epo") is other
        """
    )
    assert result.returncode == 0, result.stderr
    assert "already registered to __main__.other" in result.stderr


def test_a_failing_registration_is_reported_at_warning(tmp_path):
    # A broken verl module shadows the real one for this process only.
    fake = tmp_path / "verl"
    (fake / "trainer" / "ppo").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "trainer" / "__init__.py").write_text("")
    (fake / "trainer" / "ppo" / "__init__.py").write_text("")
    (fake / "trainer" / "ppo" / "core_algos.py").write_text("raise ImportError('broken verl install')\n")
    result = run_python("import polyepo_plugin.integration.registration", PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "could not register the poly_epo advantage estimator" in result.stderr
    assert "broken verl install" in result.stderr


@pytest.mark.parametrize("suite", ["test_core_algos_on_cpu.py"])
def test_verls_own_core_algos_tests_pass_with_the_plugin_installed(suite, tmp_path):
    """verl's wheel ships its CPU tests; run them in their own process (they reset the registry)."""
    path = importlib.metadata.distribution("verl").locate_file(f"tests/trainer/ppo/{suite}")
    if not os.path.exists(path):
        pytest.fail(f"verl's wheel no longer ships {path}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_verl_workers_patch_their_model_beside_a_trl_without_value_head_models(tmp_path):
    """polyepo[trl] installs TRL 1.16, which no longer has the value-head model that verl 0.9.1's
    apply_monkey_patch imports whenever trl is installed; every FSDP worker runs it."""
    result = run_python(
        f"""
        import verl
        from verl.models.transformers.monkey_patch import apply_monkey_patch
        from verl.utils.import_utils import is_trl_available
        from polyepo_plugin.cpu_harness.tiny_assets import build_tiny_model
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(build_tiny_model({str(tmp_path / "model")!r}))
        apply_monkey_patch(model, use_remove_padding=False)
        print("trl installed:", is_trl_available())
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trl installed: True" in result.stdout
