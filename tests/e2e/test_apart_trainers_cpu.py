"""verl's trainers that keep the rollout apart from the actor, end to end on CPU: the
one-step-off-policy trainer (``verl.experimental.one_step_off_policy.main_ppo``), the fully
async trainer (``verl.experimental.fully_async_policy.fully_async_main``) and the v1 trainer's
``separate_async`` mode (``trainer.v1.trainer_mode=separate_async``).

Weights go from the actor to the rollout server through the harness's checkpoint engine
(``cpu_harness.checkpoint_engine``): a rollout-side engine waits for the actor's delivery at every
sync, so a run that finishes has delivered each one. The fully async trainer logs a step's
metrics at the next weight sync: 3 steps run, steps 1 and 2 are logged (at steps 2 and 3). About a
minute each, mostly Ray start-up.

    pytest -m slow tests/e2e/test_apart_trainers_cpu.py
"""

from __future__ import annotations

import pytest
from test_main_ppo_cpu import _check_run, _run_trainer, _skip_on_cuda

from polyepo_plugin.cpu_harness.console import step_metrics

STEPS = 2
APART = [pytest.param(name, id=name) for name in ("one_step_off", "fully_async", "separate_async")]


def logged_steps(metrics: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
    """Each training step's metrics, by the step they describe (``training/global_step``)."""
    return {int(m["training/global_step"]): m for m in metrics.values() if "training/global_step" in m}


@pytest.mark.slow
@pytest.mark.parametrize("apart", APART)
def test_grpo_trains_with_the_rollout_apart(tmp_path, apart):
    _skip_on_cuda()
    proc = _run_trainer(tmp_path, estimator="grpo", steps=STEPS, use_v1=False, apart=apart)
    _check_run(proc, tmp_path, steps=STEPS, dumps_extra_info=None)
    steps = logged_steps(step_metrics(proc.stdout))
    assert set(range(1, STEPS + 1)) <= set(steps)
    for step in range(1, STEPS + 1):
        m = steps[step]
        assert m["actor/grad_norm"] > 0, m  # the actor trained on the step's samples
        assert not any(key.startswith("poly_epo/") for key in m)


@pytest.mark.slow
@pytest.mark.parametrize("apart", APART)
def test_poly_epo_default_options_train_with_the_rollout_apart(tmp_path, apart):
    """Only algorithm.adv_estimator=poly_epo: the default backend reads the responses decoded with
    the trainer's tokenizer, labelled early (before the advantage stage), every group whole."""
    _skip_on_cuda()
    proc = _run_trainer(tmp_path, estimator="poly_epo", steps=STEPS, use_v1=False, apart=apart)
    _check_run(proc, tmp_path, steps=STEPS, dumps_extra_info=None)
    steps = logged_steps(step_metrics(proc.stdout))
    for step in range(1, STEPS + 1):
        m = steps[step]
        assert m["poly_epo/groups"] == 4 and m["poly_epo/skipped_groups"] == 0 and m["poly_epo/padding_rows"] == 0
        assert m["poly_epo/diversity_labelled_in_step"] == 0 and m["poly_epo/diversity_failed_groups"] == 0
        assert 1 <= m["poly_epo/distinct_strategies_mean"] <= 4
        assert m["actor/grad_norm"] > 0
