"""Streamed labelling end to end on CPU: each prompt group is labelled as it is complete, before
the step's batch is, through verl's real trainers, with the
judge backend and a stand-in judge (a real HTTP server on 127.0.0.1 answering after a delay).

- the fully async rollouter labels each group before it puts it into its message queue, and the
  labelling travels with the group to the trainer;
- the v1 trainer's replay buffer polls TransferQueue until enough groups are finished, and a
  watch thread lists it between polls (in ``separate_async`` the rollout runs on while the
  trainer updates).

    pytest -m slow tests/e2e/test_streamed_labelling_cpu.py
"""

from __future__ import annotations

import pytest
from fake_judge import FakeJudge
from test_apart_trainers_cpu import logged_steps
from test_main_ppo_cpu import _check_run, _require_trainer, _run_trainer

from polyepo_plugin.cpu_harness.console import step_metrics

STEPS = 2
JUDGE_DELAY_S = 0.5


def judged_run(tmp_path, **trainer):
    """The run, and the stand-in judge (what it was asked)."""
    with FakeJudge(delay_s=JUDGE_DELAY_S) as judge:
        proc = _run_trainer(
            tmp_path,
            estimator="poly_epo",
            steps=STEPS,
            extra=[
                "+algorithm.poly_epo.diversity.backend=judge",
                f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
            ],
            **trainer,
        )
    return proc, judge


def check_streamed(m: dict[str, float]) -> None:
    assert m["poly_epo/groups"] == 4 and m["poly_epo/diversity_failed_groups"] == 0
    # Each group labelled once, as it came in: none again at the reward stage, none in the advantage stage.
    assert m["poly_epo/diversity_relabelled_groups"] == 0 and m["poly_epo/diversity_labelled_in_step"] == 0
    assert m["actor/grad_norm"] > 0


def streamed_run(tmp_path, dumps_extra_info, **trainer):
    """A judged run of ``STEPS`` steps whose every step was streamed (``check_streamed``): its
    steps' metrics and the stand-in judge."""
    proc, judge = judged_run(tmp_path, **trainer)
    _check_run(proc, tmp_path, steps=STEPS, dumps_extra_info=dumps_extra_info)
    steps = logged_steps(step_metrics(proc.stdout))
    for step in range(1, STEPS + 1):
        check_streamed(steps[step])
    return steps, judge


@pytest.mark.slow
def test_the_fully_async_rollouter_labels_each_group_before_it_is_queued(tmp_path):
    _require_trainer(False)
    steps, _ = streamed_run(tmp_path, None, use_v1=False, apart="fully_async")
    for step in range(1, STEPS + 1):
        assert steps[step]["poly_epo/diversity_labelled_apart_groups"] == 4  # every group came labelled


@pytest.mark.slow
def test_the_v1_trainer_labels_each_group_as_the_replay_buffer_sees_it_finished(tmp_path):
    _require_trainer(True)
    streamed_run(tmp_path, False, use_v1=True)


@pytest.mark.slow
def test_v1_separate_async_labels_each_group_once_while_the_rollout_runs_on(tmp_path):
    """The rollout keeps generating (one warm-up batch ahead) while the trainer computes and
    updates: the watch labels those groups as they finish, no group the step took is sent to the
    judge again, and groups finished but not sampled keep their labels for the next step."""
    _require_trainer(True)
    _, judge = streamed_run(tmp_path, None, use_v1=True, apart="separate_async")
    # The trained groups, plus at most the warm-up batch generated ahead, each asked once.
    assert STEPS * 4 <= judge.requests["ok"] <= (STEPS + 1) * 4
    assert len(set(judge.prompts)) == len(judge.prompts)
