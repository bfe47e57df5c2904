"""The LLM-judge backend against a real HTTP server on 127.0.0.1 that answers well or badly."""

import logging
import os
import socket
import threading
import time

import numpy as np
import pytest
import torch
from fake_judge import FakeJudge
from verl.trainer.ppo.core_algos import get_adv_estimator_fn

from polyepo_plugin.config import DiversityConfig, JudgeOptions, parse_config
from polyepo_plugin.cpu_harness.tiny_assets import build_tokenizer
from polyepo_plugin.diversity import ResponseGroups, label_groups, make_backend
from polyepo_plugin.diversity.groups import OccasionalWarning
from polyepo_plugin.diversity.judge import (
    TEST_GROUP,
    JudgeClient,
    JudgeOutputError,
    LlmJudge,
    consistency_probes,
    load_template,
    parse_labels,
    render_request,
)
from polyepo_plugin.diversity.ngram import cluster_by_overlap, ngram_set
from polyepo_plugin.grouping import GroupLayout

RESPONSES = ["algebra: let x be the number", "casework: if n is even", "algebra: set up x + 1 = 3", "gibberish zzzz"]
REWARDS = [1.0, 1.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_tokenizer(str(tmp_path_factory.mktemp("tokenizer")))


def encode(tokenizer, texts, left):
    rows = [torch.tensor(tokenizer.encode(t, add_special_tokens=False), dtype=torch.long) for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, span], mask[i, span] = row, 1
    return ids, mask


def judge_batch(tokenizer, behaviours, responses=RESPONSES):
    """One group per behaviour: the problem text names how the fake judge should answer."""
    problems = [f"Find x. behaviour: {b} (group {g})" for g, b in enumerate(behaviours)]
    prompt_texts = [p for p in problems for _ in responses]
    prompts, prompt_mask = encode(tokenizer, prompt_texts, left=True)
    answers, response_mask = encode(tokenizer, list(responses) * len(behaviours), left=False)
    rewards = torch.zeros(answers.shape)
    rewards[:, 0] = torch.tensor((REWARDS * len(responses))[: len(responses)] * len(behaviours))
    index = np.array([f"uid-{g}" for g in range(len(behaviours)) for _ in responses], dtype=object)
    batch = {"prompts": prompts, "responses": answers, "attention_mask": torch.cat([prompt_mask, response_mask], 1)}
    return rewards, response_mask, index, batch


def judge_config(judge, **options):
    defaults = {"base_url": judge.base_url, "timeout_s": 1.0, "max_retries": 1, "retry_backoff_s": 0.01}
    return {"poly_epo": {"set_size": 2, "diversity": {"backend": "judge", "judge": {**defaults, **options}}}}


def assign(tokenizer, judge, behaviours, **options):
    rewards, mask, index, batch = judge_batch(tokenizer, behaviours)
    layout = GroupLayout.from_index(index)
    diversity = parse_config(judge_config(judge, **options)).diversity
    return label_groups(diversity, ResponseGroups(layout, mask, batch, None, tokenizer)), layout


def run_estimator(tokenizer, judge, behaviours, **options):
    rewards, mask, index, batch = judge_batch(tokenizer, behaviours)
    metrics = {}
    advantages, _ = get_adv_estimator_fn("poly_epo")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=judge_config(judge, **options),
        batch=batch,
        tokenizer=tokenizer,
        metrics=metrics,
    )
    return advantages.sum(1) / mask.sum(1), index, metrics


@pytest.mark.parametrize(
    "content,expected",
    [
        ('{"labels": {"1": 0, "2": 1, "3": 0}}', [0, 1, 0]),
        ('```json\n{"labels": {"2": 1, "1": 0, "3": -1}}\n```', [0, 1, -1]),
        ('<think>hmm, 1 and 3 match</think>{"labels": {"1": 0, "2": 1, "3": 0}}', [0, 1, 0]),
    ],
)
def test_parse_labels_accepts_one_integer_per_attempt(content, expected):
    assert parse_labels(content, 3) == expected


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"labels": {"1": 0, "2": 1', "malformed JSON"),
        ('{"labels": {"1": 0, "2": 1}}', r"missing \['3'\]"),
        ('{"labels": {"1": 0, "2": 1, "3": 0, "4": 2}}', r"unexpected \['4'\]"),
        ('{"labels": {"1": "a", "2": 1, "3": 0}}', "integers"),
        ('{"labels": {"1": true, "2": 1, "3": 0}}', "integers"),
        ('{"labels": {"1": 1.5, "2": 1, "3": 0}}', "integers"),
        ('{"labels": {"1": -2, "2": 1, "3": 0}}', "integers"),
        ("[0, 1, 0]", 'no "labels"'),
        ("Attempts 1 and 3 share a method.", "malformed JSON"),
    ],
)
def test_parse_labels_rejects_everything_else(content, message):
    with pytest.raises(JudgeOutputError, match=message):
        parse_labels(content, 3)


def test_long_responses_are_truncated_before_sending():
    prompt = render_request(load_template(None), "Find x.", ["a" * 50, "short"], max_chars=20)
    assert "a" * 20 + "\n[... 30 more characters not shown]" in prompt
    assert "a" * 21 not in prompt
    assert "### Attempt 2\nshort" in prompt and "Find x." in prompt and 'There are 2 attempts' in prompt


def test_well_behaved_judge_labels_every_group(tokenizer):
    # The client gives up after 2 s; timeout-once answers its first request after 60 s, the
    # others at once: a loaded machine would need a 2 s stall to add a retry.
    with FakeJudge(slow_timeout_s=60.0) as judge:
        labelling, layout = assign(tokenizer, judge, ["ok", "fenced", "5xx-once", "timeout-once"], timeout_s=2.0)
    strategies = layout.compact_strategies(labelling.labels)
    assert not labelling.failed_groups.any()
    assert strategies.tolist() == [[0, 1, 0, -1]] * 4  # algebra, casework, algebra, degenerate
    assert judge.requests["5xx-once"] == 2 and judge.requests["timeout-once"] == 2 and judge.requests["ok"] == 1


FAILURES = ["5xx-always", "malformed", "truncated", "missing-id", "extra-id", "non-integer"]


@pytest.mark.parametrize("behaviour", FAILURES)
def test_failed_groups_are_one_strategy_by_default_blank_responses_degenerate(tokenizer, behaviour, caplog):
    """Neutral: the n-gram labeller used to split the failed group by wording."""
    with FakeJudge() as judge, caplog.at_level(logging.WARNING):
        rewards, mask, index, batch = judge_batch(tokenizer, ["ok", behaviour], responses=[*RESPONSES, ""])
        layout = GroupLayout.from_index(index)
        diversity = parse_config(judge_config(judge)).diversity
        labelling = label_groups(diversity, ResponseGroups(layout, mask, batch, None, tokenizer))
    assert labelling.failed_groups.tolist() == [False, True] and not labelling.zero_advantage_groups.any()
    assert layout.compact_strategies(labelling.labels).tolist() == [[0, 1, 0, -1, 2], [0, 0, 0, 0, -1]]
    assert "labelling failed for 1 of 2 groups" in caplog.text and "fallback: one_strategy" in caplog.text


def test_a_failed_group_gets_a_grpo_shaped_advantage(tokenizer):
    """One strategy in every subset: Poly-EPO's objective is the set's mean reward / k, so the
    failed group's advantages are the ``mean`` objective's (GRPO's shape) divided by k."""
    with FakeJudge() as judge:
        scalar, index, metrics = run_estimator(tokenizer, judge, ["ok", "malformed"])
    rewards, mask, index, batch = judge_batch(tokenizer, ["ok", "malformed"])
    config = {"poly_epo": {"set_size": 2, "objective": "mean"}}
    grpo_shaped, _ = get_adv_estimator_fn("poly_epo")(
        token_level_rewards=rewards, response_mask=mask, index=index, config=config
    )
    failed = index == "uid-1"
    assert torch.allclose(scalar[failed], (grpo_shaped.sum(1) / mask.sum(1))[failed] / 2)
    assert scalar[failed].abs().sum() > 0
    assert metrics["poly_epo/diversity_failed_groups"] == 1


@pytest.mark.parametrize("behaviour", FAILURES)
def test_failed_groups_fall_back_to_ngram_by_name(tokenizer, behaviour, caplog):
    with FakeJudge() as judge, caplog.at_level(logging.WARNING):
        labelling, layout = assign(tokenizer, judge, ["ok", behaviour], fallback="ngram")
    assert labelling.failed_groups.tolist() == [False, True]
    assert not labelling.zero_advantage_groups.any()
    assert judge.requests[behaviour] == 2  # first try plus max_retries=1
    rows = layout.rows[1].tolist()
    tokens = [torch.tensor(tokenizer.encode(t, add_special_tokens=False)) for t in RESPONSES]
    expected = cluster_by_overlap([ngram_set(t, 3) for t in tokens], 0.4)
    assert labelling.labels[rows].tolist() == expected
    assert "labelling failed for 1 of 2 groups" in caplog.text and "fallback: ngram" in caplog.text


def test_zero_fallback_gives_failed_groups_no_advantage(tokenizer):
    with FakeJudge() as judge:
        scalar, index, metrics = run_estimator(tokenizer, judge, ["ok", "truncated", "ok"], fallback="zero")
    assert torch.all(scalar[index == "uid-1"] == 0)
    assert scalar[index == "uid-0"].abs().sum() > 0 and torch.equal(scalar[index == "uid-0"], scalar[index == "uid-2"])
    assert metrics["poly_epo/diversity_failed_groups"] == 1


def test_error_fallback_stops_training(tokenizer):
    with FakeJudge() as judge, pytest.raises(RuntimeError, match=r"failed for 1 of 2 groups \(HTTP 503: 1\)"):
        run_estimator(tokenizer, judge, ["ok", "5xx-always"], fallback="error")


def test_ngram_fallback_advantages_match_the_ngram_backend(tokenizer):
    with FakeJudge() as judge:
        scalar, index, metrics = run_estimator(tokenizer, judge, ["ok", "malformed"], fallback="ngram")
    rewards, mask, index, batch = judge_batch(tokenizer, ["ok", "malformed"])
    ngram_only, _ = get_adv_estimator_fn("poly_epo")(
        token_level_rewards=rewards, response_mask=mask, index=index, config={"poly_epo": {"set_size": 2, "diversity": {"backend": "ngram"}}}, batch=batch
    )
    failed = index == "uid-1"
    assert torch.allclose(scalar[failed], (ngram_only.sum(1) / mask.sum(1))[failed])
    assert metrics["poly_epo/diversity_failed_groups"] == 1


def test_identical_groups_are_sent_once(tokenizer):
    rewards, mask, index, batch = judge_batch(tokenizer, ["ok"])
    doubled = {key: torch.cat([value, value]) for key, value in batch.items()}
    index = np.array(["a"] * 4 + ["b"] * 4, dtype=object)
    with FakeJudge() as judge:
        backend = make_backend(parse_config(judge_config(judge)).diversity)
        labelling = backend.assign(
            ResponseGroups(GroupLayout.from_index(index), torch.cat([mask, mask]), doubled, None, tokenizer)
        )
    assert judge.requests["ok"] == 1
    assert labelling.labels[:4].tolist() == labelling.labels[4:].tolist()


class GatedJudge(FakeJudge):
    """Holds every request until ``width`` have been in flight at once, so that whether the client
    sends that many together does not depend on timing. Gives up waiting after ``patience_s``
    (a client that never sends ``width`` at once), from then on answering at once."""

    def __init__(self, width: int, patience_s: float = 20.0):
        super().__init__()
        self.width, self.patience_s = width, patience_s
        self.gave_up = threading.Event()

    def answer(self, prompt):
        deadline = time.monotonic() + self.patience_s
        while self.max_in_flight < self.width and not self.gave_up.is_set():
            if time.monotonic() > deadline:
                self.gave_up.set()
            time.sleep(0.002)
        return super().answer(prompt)


def test_groups_are_labelled_concurrently_within_the_limit(tokenizer):
    with GatedJudge(width=4) as judge:
        labelling, layout = assign(tokenizer, judge, ["ok"] * 10, max_concurrency=4, timeout_s=60.0)
    assert not labelling.failed_groups.any()
    assert not judge.gave_up.is_set()  # 4 requests were in flight together...
    assert judge.max_in_flight == 4  # ...and never more
    assert judge.requests["ok"] == 10  # each group once: distinct problems, no retries
    assert layout.compact_strategies(labelling.labels).tolist() == [[0, 1, 0, -1]] * 10


def test_api_key_comes_from_the_environment_and_is_never_logged(tokenizer, monkeypatch, caplog):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-secret")
    with FakeJudge() as judge, caplog.at_level(logging.DEBUG):
        assign(tokenizer, judge, ["ok", "5xx-always"], api_key_env="MY_JUDGE_KEY")
    assert judge.authorization == {"Bearer sk-test-secret"}
    assert "sk-test-secret" not in caplog.text
    assert "sk-test-secret" not in repr(parse_config(judge_config(judge, api_key_env="MY_JUDGE_KEY")))


def check_ready(base_url, **options):
    options = JudgeOptions(base_url=base_url, timeout_s=2.0, **options)
    LlmJudge(DiversityConfig(backend="judge", judge=options)).check_ready()


TEST_GROUP_PROMPT = render_request(load_template(None), *TEST_GROUP, JudgeOptions.max_response_chars)


def test_start_up_check_sends_one_labelling_request_for_a_test_group():
    with FakeJudge() as judge:
        labels = JudgeClient(JudgeOptions(base_url=judge.base_url)).check_ready()
    assert judge.prompts == [TEST_GROUP_PROMPT] and "### Attempt 3\n" in TEST_GROUP_PROMPT
    assert labels == [0, 1, 0]  # the fake judge reads methods (first words): 1 and 3 alike


@pytest.mark.parametrize(
    "behaviour,problem",
    [
        ("malformed", r"malformed JSON"),
        ("truncated", r"output cut by max_tokens"),
        ("missing-id", r"attempt ids wrong"),
        ("chatty", r"malformed JSON"),
    ],
)
def test_start_up_stops_a_judge_that_answers_a_test_group_without_labels(behaviour, problem):
    """Before, a one-word chat request passed, and every group of the run failed the same way."""
    with FakeJudge(default_behaviour=behaviour) as judge:
        stops = f"test group of 3 short responses .* without parseable labels \\({problem}"
        with pytest.raises(ValueError, match=stops) as error:
            check_ready(judge.base_url, max_tokens=64)
    message = str(error.value)
    assert "it answered: " in message and len(message) < 1200  # what it said, cut
    assert "diversity.judge.max_tokens=64" in message and "prompt_template" in message and "judge.model" in message


def test_start_up_waits_for_a_judge_still_loading(caplog):
    """vLLM behind a gateway answers 503 while the model loads: wait for it, and say so."""
    with FakeJudge(loading_s=1.5) as judge, caplog.at_level(logging.WARNING):
        started = time.monotonic()
        check_ready(judge.base_url, startup_wait_s=30)
    assert time.monotonic() - started >= 1.5
    assert judge.prompts == [TEST_GROUP_PROMPT]
    assert f"the judge at {judge.base_url} is not ready (HTTP 503); waiting for it up to " in caplog.text
    assert "diversity.judge.startup_wait_s=30 s" in caplog.text


def test_start_up_waits_for_a_judge_that_starts_listening_later():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    judge = FakeJudge(port=port)
    threading.Timer(1.5, judge.__enter__).start()  # the model loads for 1.5 s, then the server listens
    started = time.monotonic()
    try:
        check_ready(judge.base_url, startup_wait_s=30)
    finally:
        judge.__exit__()
    assert time.monotonic() - started >= 1.5 and judge.prompts == [TEST_GROUP_PROMPT]


def test_start_up_gives_up_at_startup_wait_s():
    with FakeJudge(loading_s=600) as judge:
        started = time.monotonic()
        gives_up = r"is not ready \(HTTP 503 at .*\) after diversity\.judge\.startup_wait_s=1 s"
        with pytest.raises(ValueError, match=gives_up):
            check_ready(judge.base_url, startup_wait_s=1)
    assert 1.0 <= time.monotonic() - started < 10


def test_start_up_check_stops_when_nothing_answers():
    with FakeJudge() as judge:
        closed = judge.base_url
    with pytest.raises(ValueError, match="judge endpoint is unreachable .* after diversity.judge.startup_wait_s=0 s"):
        check_ready(closed, startup_wait_s=0)


def test_start_up_check_stops_without_the_api_key(monkeypatch):
    monkeypatch.delenv("POLYEPO_JUDGE_API_KEY", raising=False)
    with FakeJudge(api_key="sk-judge") as judge:
        with pytest.raises(ValueError, match="HTTP 401: Unauthorized. POLYEPO_JUDGE_API_KEY .* is not set"):
            check_ready(judge.base_url)
        monkeypatch.setenv("POLYEPO_JUDGE_API_KEY", "sk-wrong")
        with pytest.raises(ValueError, match="HTTP 401: Unauthorized. POLYEPO_JUDGE_API_KEY .* holds a key the judge"):
            check_ready(judge.base_url)
        monkeypatch.setenv("POLYEPO_JUDGE_API_KEY", "sk-judge")
        check_ready(judge.base_url)
    assert judge.prompts == [TEST_GROUP_PROMPT]


def test_start_up_check_stops_on_a_model_the_judge_does_not_list():
    with FakeJudge(models=("Qwen/Qwen3-4B-Instruct-2507", "other")) as judge:
        served = "it serves: 'Qwen/Qwen3-4B-Instruct-2507', 'other'"
        with pytest.raises(ValueError, match=f"does not serve model 'qwen3-4b'; {served}. Set .*judge.model"):
            check_ready(judge.base_url, model="qwen3-4b")
    assert judge.prompts == []


def test_start_up_check_stops_on_a_chat_request_the_judge_refuses():
    """A server without a model list: the chat request alone decides, and its answer is quoted."""
    with FakeJudge(models=("served",), lists_models=False) as judge:
        check_ready(judge.base_url, model="served")
        refused = "did not answer a chat request for model 'judge': HTTP 404: The model `judge` does not exist"
        with pytest.raises(ValueError, match=refused):
            check_ready(judge.base_url, model="judge")


def test_every_group_failing_for_max_failed_steps_steps_stops_training(tokenizer, caplog):
    """A step below failed_step_fraction restarts the count; the fallback stands in until the limit."""
    with FakeJudge() as judge, caplog.at_level(logging.WARNING):
        for behaviours in (["5xx-always"] * 2, ["ok", "ok", "5xx-always"], ["5xx-always"] * 2):
            labelling, _ = assign(tokenizer, judge, behaviours, max_failed_steps=2)
            assert labelling.failed_groups.any()
        with pytest.raises(RuntimeError, match=(
            r"failed for 2 of 2 groups \(HTTP 503: 2\)\. At least 50% of the groups have failed in each of 2 "
            r"consecutive steps \(algorithm\.poly_epo\.diversity\.judge\.max_failed_steps=2, "
            r"failed_step_fraction=0\.5\): the run is training on the 'one_strategy' fallback, not the judge.*"
            r"raise diversity\.judge\.max_failed_steps"
        )):
            assign(tokenizer, judge, ["5xx-always"] * 2, max_failed_steps=2)


NINE_OF_TEN = ["ok"] + ["5xx-always"] * 9


def test_nine_of_ten_groups_failing_every_step_stops_the_run_at_max_failed_steps(tokenizer):
    """Before, only steps in which every group failed counted: this run trained on the fallback for ever."""
    with FakeJudge() as judge:
        for _ in range(2):
            _, _, metrics = run_estimator(tokenizer, judge, NINE_OF_TEN)
            assert metrics["poly_epo/diversity_failed_groups"] == 9
        with pytest.raises(RuntimeError, match="At least 50% of the groups have failed in each of 3 consecutive steps"):
            run_estimator(tokenizer, judge, NINE_OF_TEN)


def test_occasional_failures_never_stop_the_run(tokenizer):
    with FakeJudge() as judge:
        for step in range(6):
            behaviours = ["ok"] * 10
            behaviours[step] = "5xx-always"  # one group of ten fails, every step
            _, _, metrics = run_estimator(tokenizer, judge, behaviours)
            assert metrics["poly_epo/diversity_failed_groups"] == 1


def test_failed_step_fraction_1_counts_only_steps_in_which_every_group_failed(tokenizer):
    with FakeJudge() as judge:
        for _ in range(4):
            run_estimator(tokenizer, judge, NINE_OF_TEN, failed_step_fraction=1.0)
        with pytest.raises(RuntimeError, match="At least 100% of the groups have failed in each of 3"):
            for _ in range(3):
                run_estimator(tokenizer, judge, ["5xx-always"] * 2, failed_step_fraction=1.0)


def test_failure_warnings_are_rate_limited_the_metrics_count_every_step(tokenizer, caplog):
    with FakeJudge() as judge, caplog.at_level(logging.WARNING):
        for _ in range(2):
            _, _, metrics = run_estimator(tokenizer, judge, ["ok", "ok", "5xx-always"])
            assert metrics["poly_epo/diversity_failed_groups"] == 1
    assert caplog.text.count("labelling failed for 1 of 3 groups") == 1


def test_an_occasional_warning_says_how_many_it_held_back(caplog):
    warning = OccasionalWarning(interval_s=0.5)
    with caplog.at_level(logging.WARNING):
        assert warning("first") and not warning("second") and not warning("third")
        time.sleep(0.6)
        assert warning("fourth")
    assert [r.getMessage() for r in caplog.records] == [
        "first",
        "fourth (2 more such warning(s) since the last one were not logged)",
    ]


@pytest.mark.parametrize("retry_after,timeout_s,wait_s", [("1", 5.0, 1.0), ("3600", 1.5, 1.5)])
def test_a_429_is_retried_after_its_retry_after_bounded_by_timeout_s(tokenizer, retry_after, timeout_s, wait_s):
    with FakeJudge(retry_after=retry_after) as judge:
        labelling, layout = assign(tokenizer, judge, ["429-once"], timeout_s=timeout_s, retry_backoff_s=0.01)
    assert not labelling.failed_groups.any()
    assert layout.compact_strategies(labelling.labels).tolist() == [[0, 1, 0, -1]]
    (_, first), (_, second) = judge.arrivals
    assert wait_s <= second - first < wait_s + 5.0  # not the 0.01 s backoff, nor an hour


# ----------------------------------------------------------------------------- consistency probe

CONSISTENCY_RESPONSES = [
    "algebra: let x be the number",
    "casework: if n is even",
    "algebra: set up x + 1 = 3",
    "casework: odd n next",
    "geometry: draw the square",
    "algebra: solve for x",
]


def probe_metrics(tokenizer, behaviour, groups=8):
    rewards, mask, index, batch = judge_batch(tokenizer, [behaviour] * groups, responses=CONSISTENCY_RESPONSES)
    layout = GroupLayout.from_index(index)
    with FakeJudge() as judge:
        diversity = parse_config(judge_config(judge, consistency_fraction=1.0)).diversity
        labelling = label_groups(diversity, ResponseGroups(layout, mask, batch, None, tokenizer))
    return labelling.metrics, judge


def test_a_judge_that_reads_content_is_consistent(tokenizer):
    metrics, judge = probe_metrics(tokenizer, "ok")
    assert metrics["poly_epo/judge_consistency_groups"] == 8
    assert metrics["poly_epo/judge_consistency"] == pytest.approx(1.0)
    assert judge.requests["ok"] == 16  # every group asked twice, in another order the second time


def test_a_judge_that_answers_at_random_is_not(tokenizer):
    metrics, _ = probe_metrics(tokenizer, "random", groups=16)
    assert metrics["poly_epo/judge_consistency_groups"] >= 12
    assert metrics["poly_epo/judge_consistency"] < 0.3


def test_groups_put_in_one_class_twice_do_not_count_as_agreement(tokenizer):
    metrics, _ = probe_metrics(tokenizer, "one-class")
    assert metrics == {"poly_epo/judge_consistency_groups": 0.0}


def test_probes_are_a_fixed_share_shown_in_another_order():
    uids = [f"uid-{g}" for g in range(10)]
    probes = consistency_probes(uids, [8] * 10, 0.3)
    assert len(probes) == 3 and probes == consistency_probes(uids, [8] * 10, 0.3)
    assert all(sorted(order) == list(range(8)) and order != list(range(8)) for _, order in probes)
    assert consistency_probes(uids, [8] * 10, 0.0) == []


def test_the_instruction_block_is_a_prefix_shared_by_every_request():
    """A server with prefix caching (vLLM's default) reuses it across a step's requests."""
    template = load_template(None)
    first = render_request(template, "Find x.", ["a", "b"], 100)
    second = render_request(template, "Count the ways.", ["c", "d", "e"], 100)
    shared = len(os.path.commonprefix([first, second]))
    assert shared >= first.index("Problem:") and "Answer with one JSON object" in first[:shared]


def test_cancel_after_the_labelling_closed_its_event_loop_is_harmless():
    # cancel() reads the runs in flight, then cancels each through its loop; a run can end and
    # close its loop in between. Replayed here: a finished run's (loop, task) as cancel() saw it.
    with FakeJudge(delay_s=0.3) as judge:
        client = JudgeClient(JudgeOptions(base_url=judge.base_url, max_retries=0))
        cancelled, seen = threading.Event(), []
        labelling = threading.Thread(target=client.label_all, args=([("behaviour: ok\n### Attempt 1\nx", 1)], cancelled))
        labelling.start()
        while labelling.is_alive() and not seen:
            with client._lock:
                seen.extend(client._running)
            time.sleep(0.01)
        labelling.join()
    loop, task, _ = seen[0]
    assert loop.is_closed() and task.done()
    cancelled.set()
    client._running.add((loop, task, cancelled))
    client.cancel()  # raised RuntimeError('Event loop is closed') before
