"""Streamed labelling (``StreamedLabelling``): each group labelled from the moment its rows are
in, as the fully async trainer pulls them one group at a time, collected at the advantage stage.

With the real judge backend and a real HTTP judge on 127.0.0.1 answering after a delay, and
verl's real ``compute_advantage``.
"""

import threading
import time

import pytest
import torch
from fake_judge import FakeJudge
from omegaconf import OmegaConf
from test_early_labelling_on_cpu import collected, run_config, step_batch, synchronous, tokenizer  # noqa: F401

from polyepo_plugin.config import parse_config
from polyepo_plugin.diversity.early_labelling import (
    CANCEL_WAIT_S,
    RELABELLED_METRIC,
    STREAMED_METRIC,
    StreamedLabelling,
    step_groups,
)
from polyepo_plugin.integration import legacy

DELAY_S = 0.6
ROLLOUT_N = 4


def groups_of(data, tokenizer):
    return step_groups(
        data.non_tensor_batch["uid"], data.batch["response_mask"], data.batch, data.non_tensor_batch, tokenizer
    )


def stream(config, data, tokenizer, gap_s=0.0):
    """The step's groups handed over one at a time, ``gap_s`` apart, as the trainer pulls them;
    returns the labelling and when each group came in (``time.monotonic``, the judge's clock)."""
    streamed = StreamedLabelling(parse_config(config.algorithm).diversity)
    arrived = []
    for start in range(0, len(data), ROLLOUT_N):
        if arrived:
            time.sleep(gap_s)
        group = data[start : start + ROLLOUT_N]
        arrived.append(time.monotonic())
        streamed.add_group(groups_of(group, tokenizer), legacy.batch_row_ids(group))
    return streamed, arrived


def sealed(streamed, data, tokenizer):
    return streamed.seal(groups_of(data, tokenizer), legacy.batch_row_ids(data))


def test_a_group_is_labelled_once_its_last_row_is_in(tokenizer):
    with FakeJudge(delay_s=DELAY_S) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        streamed, arrived = stream(config, data, tokenizer, gap_s=DELAY_S + 0.2)
        got, metrics, took = collected(data, config, sealed(streamed, data, tokenizer), tokenizer)
        requests = sorted(t for _, t in judge.arrivals)
        expected, _ = synchronous(data, config, tokenizer)
    assert requests[0] < arrived[1] and requests[1] < arrived[2]  # each asked before the next group came in
    assert torch.allclose(got, expected) and got.abs().sum() > 0
    assert metrics[STREAMED_METRIC] == 2 and metrics[RELABELLED_METRIC] == 0
    assert metrics["poly_epo/diversity_labelled_in_step"] == 0
    assert metrics["poly_epo/diversity_wait_s"] < DELAY_S + 0.4  # the last group's labelling only
    assert metrics["poly_epo/diversity_latency_s"] >= 2 * (DELAY_S + 0.2)  # first start to last end
    assert metrics["poly_epo/distinct_strategies_mean"] == 2


def test_only_a_group_whose_rows_changed_is_labelled_again(tokenizer):
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        streamed, _ = stream(config, data, tokenizer)
        while len(judge.arrivals) < 3:  # each streamed group asked (the old group 1 would else be cancelled unasked)
            time.sleep(0.01)
        changed = step_batch(tokenizer)
        geometry = torch.tensor(tokenizer.encode("geometry: draw it", add_special_tokens=False))
        changed.batch["responses"][5] = tokenizer.pad_token_id
        changed.batch["responses"][5, : len(geometry)] = geometry
        changed.batch["response_mask"][5] = 0
        changed.batch["response_mask"][5, : len(geometry)] = 1
        width = changed.batch["prompts"].shape[1]
        changed.batch["attention_mask"][5, width:] = changed.batch["response_mask"][5]
        got, metrics, _ = collected(changed, config, sealed(streamed, changed, tokenizer), tokenizer)
        asked = len(judge.arrivals)
        expected, _ = synchronous(changed, config, tokenizer)
    assert asked == 3 + 1  # the three streamed groups, then group 1 again
    assert metrics[RELABELLED_METRIC] == 1
    assert torch.allclose(got, expected)
    assert metrics["poly_epo/distinct_strategies_mean"] == (2 + 3 + 2) / 3  # group 1: geometry a third


def test_a_group_the_step_did_not_take_keeps_its_labels_for_a_later_step(tokenizer):
    """An asynchronous replay buffer holds more finished groups than a step samples: a group
    left over goes on in the next step's stream (one judge request over both steps), the next
    step's new group is labelled in the same pool after the first step was collected, and a
    group dropped upstream before a step took it is cancelled and forgotten."""
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        first, later = data[:ROLLOUT_N], data[ROLLOUT_N:]
        streamed, _ = stream(config, data[: 2 * ROLLOUT_N], tokenizer)  # groups 0 and 1 finished
        while len(judge.arrivals) < 2:
            time.sleep(0.01)
        carry = streamed.successor()
        first_sealed = streamed.seal(groups_of(first, tokenizer), legacy.batch_row_ids(first), carry=carry)
        got_first, first_metrics, _ = collected(first, config, first_sealed, tokenizer)
        assert carry.has_group(legacy.batch_row_ids(later[:ROLLOUT_N]))
        got_later, metrics, _ = collected(later, config, sealed(carry, later, tokenizer), tokenizer)
        asked = len(judge.arrivals)

        dropped = StreamedLabelling(parse_config(config.algorithm).diversity)
        dropped.add_group(groups_of(first, tokenizer), legacy.batch_row_ids(first))
        dropped.retain(set(legacy.batch_row_ids(first)[1:]))
        expected_first, _ = synchronous(first, config, tokenizer)
        expected_later, _ = synchronous(later, config, tokenizer)
    assert asked == 3  # group 1 once, though two steps held it; group 2 at the later step's seal
    assert first_metrics[RELABELLED_METRIC] == 0 and metrics[RELABELLED_METRIC] == 1
    assert torch.allclose(got_first, expected_first) and torch.allclose(got_later, expected_later)
    assert not dropped.has_group(legacy.batch_row_ids(first))


def test_a_cancelled_stream_stops_its_groups(tokenizer):
    with FakeJudge(delay_s=30.0) as judge:
        config = run_config(judge, timeout_s=60)
        streamed, _ = stream(config, step_batch(tokenizer), tokenizer)
        time.sleep(0.3)
        assert streamed.running
        started = time.perf_counter()
        streamed.cancel()
        took = time.perf_counter() - started
    assert took < CANCEL_WAIT_S  # the judge's 30 s answers were not waited for
    assert not streamed.running
    assert not [t for t in threading.enumerate() if t.name.startswith("polyepo-group-labelling")]


def test_a_group_past_label_timeout_s_takes_the_fallback_and_the_others_keep_their_labels(tokenizer):
    behaviours = ["ok", "timeout-once", "ok"]
    with FakeJudge(delay_s=0.0, slow_timeout_s=5.0) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer, behaviour=behaviours)
        OmegaConf.update(config, "algorithm.poly_epo.diversity.label_timeout_s", 1.0, force_add=True)
        streamed, _ = stream(config, data, tokenizer)
        got, metrics, took = collected(data, config, sealed(streamed, data, tokenizer), tokenizer)
        expected, _ = synchronous(data, config, tokenizer)  # the slow answer was once: all labelled now
    assert took < 1.0 + 1.0
    assert metrics["poly_epo/diversity_timed_out_groups"] == metrics["poly_epo/diversity_failed_groups"] == 1
    kept = torch.tensor([row // ROLLOUT_N != 1 for row in range(len(data))])
    assert torch.allclose(got[kept], expected[kept])
    assert metrics["poly_epo/distinct_strategies_mean"] == (2 + 1 + 2) / 3  # group 1: one strategy, the fallback


@pytest.mark.parametrize("failing", [1, 2])
def test_the_judge_judges_a_streamed_step_as_a_whole(tokenizer, failing):
    """``max_failed_steps`` counts steps in which at least ``failed_step_fraction`` (0.5) of the
    groups failed, also when the groups were labelled one by one: one failed group of three is
    no failed step, two are."""
    behaviours = ["5xx-always"] * failing + ["ok"] * (3 - failing)
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge, max_failed_steps=1)
        data = step_batch(tokenizer, behaviour=behaviours)
        streamed, _ = stream(config, data, tokenizer)
        if failing == 1:
            _, metrics, _ = collected(data, config, sealed(streamed, data, tokenizer), tokenizer)
            assert metrics["poly_epo/diversity_failed_groups"] == 1
        else:
            with pytest.raises(RuntimeError, match=r"2 of 3 groups.*max_failed_steps=1"):
                collected(data, config, sealed(streamed, data, tokenizer), tokenizer)


def test_a_streamed_step_reports_its_failed_groups_once_with_their_reasons(tokenizer, caplog):
    """Groups labelled one by one still give the user one warning for the step, with every failed
    group's reason counted, as a step labelled whole does (not one "1 of 1 groups" per group)."""
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge, max_failed_steps=100)
        data = step_batch(tokenizer, behaviour=["5xx-always", "5xx-always", "ok"])
        streamed, _ = stream(config, data, tokenizer)
        with caplog.at_level("WARNING"):
            _, metrics, _ = collected(data, config, sealed(streamed, data, tokenizer), tokenizer)
    assert metrics["poly_epo/diversity_failed_groups"] == 2
    failures = [r.getMessage() for r in caplog.records if "labelling failed for" in r.getMessage()]
    assert len(failures) == 1, failures
    assert "labelling failed for 2 of 3 groups (" in failures[0] and ": 2); fallback: one_strategy" in failures[0]


def test_only_backends_that_label_a_group_on_its_own_stream():
    """``semantic`` (the default) weighs words and numbers over the whole step, and the judge's
    consistency probes are drawn among the step's groups: those are labelled whole, as before
    streaming; the judge without probes and ``answer`` stream."""
    from polyepo_plugin.diversity.early_labelling import streams

    def diversity(**options):
        return parse_config(OmegaConf.create({"poly_epo": {"diversity": options}})).diversity

    assert not streams(diversity())
    assert not streams(diversity(backend="semantic")) and not streams(diversity(backend="embedding"))
    assert streams(diversity(backend="judge")) and streams(diversity(backend="answer"))
    assert not streams(diversity(backend="judge", judge={"consistency_fraction": 0.25}))
