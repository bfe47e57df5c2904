"""v1's ``colocate_async`` mode (``trainer.v1.trainer_mode=colocate_async``) end to end on CPU:
the rollout shares the actor's process and runs ahead by ``num_warmup_batches``; its replay
buffer (``ReplayBufferAsync``) polls TransferQueue as ``sync``'s does, so ``poly_epo``'s groups
are labelled as they are seen finished.

    pytest -m slow tests/e2e/test_v1_colocate_async_cpu.py
"""

from __future__ import annotations

import pytest
from test_main_ppo_cpu import _check_run, _require_trainer, _run_trainer

from polyepo_plugin.cpu_harness.console import step_metrics

STEPS = 2
COLOCATE_ASYNC = ["trainer.v1.trainer_mode=colocate_async"]


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["grpo", "poly_epo"])
def test_colocate_async_trains(tmp_path, estimator):
    _require_trainer(True)
    proc = _run_trainer(tmp_path, estimator=estimator, steps=STEPS, use_v1=True, extra=COLOCATE_ASYNC)
    _check_run(proc, tmp_path, steps=STEPS, dumps_extra_info=False)
    metrics = step_metrics(proc.stdout)
    for step in range(1, STEPS + 1):
        m = metrics[step]
        assert m["actor/grad_norm"] > 0
        if estimator == "grpo":
            assert not any(key.startswith("poly_epo/") for key in m)
            continue
        # Default options: the semantic backend, every group whole, labelled before the advantage
        # stage as one step (it weighs over the step, so it does not stream).
        assert m["poly_epo/groups"] == 4 and m["poly_epo/skipped_groups"] == 0
        assert m["poly_epo/diversity_labelled_in_step"] == 0 and "poly_epo/diversity_relabelled_groups" not in m
        assert 1 <= m["poly_epo/distinct_strategies_mean"] <= 4
