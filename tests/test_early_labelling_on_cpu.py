"""Labelling started at the reward stage and collected at the advantage stage (legacy trainer).

Through verl's real ``extract_reward`` and ``compute_advantage`` (both wrapped by the plugin)
inside a trainer run, with a real HTTP judge on 127.0.0.1 that answers after a delay.
"""

import contextlib
import logging
import os
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import verl
from fake_judge import FakeJudge
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from verl import DataProto
from verl.trainer.ppo import ray_trainer, rollout_corr_helper

from polyepo_plugin.config import parse_config
from polyepo_plugin.cpu_harness.tiny_assets import build_tokenizer
from polyepo_plugin import diversity
from polyepo_plugin.diversity import Labelling, make_backend
from polyepo_plugin.diversity.early_labelling import CANCEL_WAIT_S, PendingLabelling, row_identities, step_groups
from polyepo_plugin.estimator import StepInputs, supplying
from polyepo_plugin.integration import legacy

VERL_CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
TEXTS = ["algebra: let x be 2", "casework: n even", "algebra: x + 1 = 3", "casework: n odd"]
DELAY_S = 0.6


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_tokenizer(str(tmp_path_factory.mktemp("tokenizer")))


def run_config(judge, **judge_options):
    overrides = [
        "algorithm.adv_estimator=poly_epo",
        "actor_rollout_ref.rollout.n=4",
        "+algorithm.poly_epo.diversity.backend=judge",
        f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
        "+algorithm.poly_epo.diversity.judge.max_retries=0",
    ] + [f"+algorithm.poly_epo.diversity.judge.{k}={v}" for k, v in judge_options.items()]
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        return compose("ppo_trainer", overrides=overrides)


def step_batch(tokenizer, behaviour="ok", groups=3, texts=TEXTS, seed=0):
    """A DataProto as the legacy trainer holds it at the reward stage; ``behaviour``: the fake
    judge's for every group, or a list of one per group."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for group in range(groups):
        named = behaviour if isinstance(behaviour, str) else behaviour[group]
        prompt = tokenizer.encode(f"Find x. behaviour: {named} (group {group})", add_special_tokens=False)
        for text in texts:
            rows.append((f"uid-{group}", prompt, tokenizer.encode(text, add_special_tokens=False)))
    prompt_width, response_width = max(len(r[1]) for r in rows), max(len(r[2]) for r in rows)
    prompts = torch.full((len(rows), prompt_width), tokenizer.pad_token_id)
    responses = torch.full((len(rows), response_width), tokenizer.pad_token_id)
    prompt_mask = torch.zeros(len(rows), prompt_width, dtype=torch.long)
    response_mask = torch.zeros(len(rows), response_width, dtype=torch.long)
    for i, (_, prompt, response) in enumerate(rows):
        prompts[i, prompt_width - len(prompt) :], prompt_mask[i, prompt_width - len(prompt) :] = torch.tensor(prompt), 1
        responses[i, : len(response)], response_mask[i, : len(response)] = torch.tensor(response), 1
    scores = torch.zeros(len(rows), response_width)
    scores[:, 0] = torch.randint(0, 2, (len(rows),), generator=g).float()
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "attention_mask": torch.cat([prompt_mask, response_mask], 1),
            "response_mask": response_mask,
            "rm_scores": scores,
            "token_level_rewards": scores.clone(),
        },
        non_tensors={"uid": np.array([r[0] for r in rows], dtype=object)},
    )


@contextlib.contextmanager
def in_run(config, tokenizer):
    """The plugin's view of a legacy trainer whose fit() is running in this thread."""
    run = legacy._Run(SimpleNamespace(config=config, tokenizer=tokenizer))
    token = legacy._run.set(run)
    try:
        yield run
    finally:
        legacy._run.reset(token)


def advantages_of(data, config):
    out = ray_trainer.compute_advantage(data, adv_estimator="poly_epo", config=config.algorithm)
    return out.batch["advantages"].sum(1) / data.batch["response_mask"].sum(1), out.meta_info[legacy.METRICS_META_KEY]


def synchronous(data, config, tokenizer):
    """The same advantage step without the early start (the reference)."""
    with in_run(config, tokenizer):
        with_option = config.copy()
        OmegaConf.update(with_option, "algorithm.poly_epo.diversity.early_start", False, force_add=True)
        return advantages_of(data, with_option)


def reorder(data, seed=1):
    """What verl's _balance_batch does between the reward stage and the advantage stage."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    data.reorder(order)
    return data


def test_labels_follow_their_rows_after_the_batch_is_reordered(tokenizer):
    with FakeJudge(delay_s=DELAY_S) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        with in_run(config, tokenizer) as run:
            ray_trainer.extract_reward(data)  # the reward stage: labelling starts here
            assert run.pending is not None and run.pending.running
            time.sleep(DELAY_S + 0.3)  # old log-probs, reference, values...
            reorder(data)
            got, metrics = advantages_of(data, config)
        expected, _ = synchronous(data, config, tokenizer)
    assert torch.allclose(got, expected) and got.abs().sum() > 0
    assert metrics["poly_epo/diversity_labelled_in_step"] == 0
    assert metrics["poly_epo/diversity_latency_s"] >= DELAY_S
    assert metrics["poly_epo/diversity_wait_s"] < 0.2 * metrics["poly_epo/diversity_latency_s"]
    assert metrics["poly_epo/distinct_strategies_mean"] == 2  # algebra, casework: the judge's labels
    assert run.pending is None  # collected: nothing carries over to the next step


def test_the_advantage_stage_waits_only_for_what_is_left(tokenizer):
    with FakeJudge(delay_s=DELAY_S) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        with in_run(config, tokenizer):
            ray_trainer.extract_reward(data)
            _, metrics = advantages_of(data, config)
    assert metrics["poly_epo/diversity_wait_s"] <= metrics["poly_epo/diversity_latency_s"] + 0.05
    assert metrics["poly_epo/diversity_wait_s"] >= DELAY_S * 0.5


@pytest.mark.parametrize("fallback", ["ngram", "zero"])
def test_a_failed_early_labelling_falls_back_as_a_synchronous_one(tokenizer, fallback):
    with FakeJudge() as judge:
        config = run_config(judge, fallback=fallback)
        data = step_batch(tokenizer, behaviour="5xx-always")
        with in_run(config, tokenizer):
            ray_trainer.extract_reward(data)
            got, metrics = advantages_of(data, config)
        expected, expected_metrics = synchronous(data, config, tokenizer)
    assert torch.allclose(got, expected)
    assert metrics["poly_epo/diversity_failed_groups"] == expected_metrics["poly_epo/diversity_failed_groups"] == 3


def test_fallback_error_still_stops_training(tokenizer):
    with FakeJudge() as judge:
        config = run_config(judge, fallback="error")
        data = step_batch(tokenizer, behaviour="5xx-always")
        with in_run(config, tokenizer):
            ray_trainer.extract_reward(data)
            with pytest.raises(RuntimeError, match="fallback=error stops training"):
                advantages_of(data, config)


def test_labels_of_one_step_never_reach_the_next(tokenizer, caplog):
    other_texts = ["geometry: draw it", "geometry: a square", "counting: pairs", "counting: choose 2"]
    with FakeJudge() as judge:
        config = run_config(judge)
        first, second = step_batch(tokenizer), step_batch(tokenizer, texts=other_texts)
        with in_run(config, tokenizer) as run:
            ray_trainer.extract_reward(first)  # step 1 starts labelling, then ends before advantages
            stale = run.pending
            ray_trainer.extract_reward(second)  # step 2: the stale labelling is dropped
            assert run.pending is not stale and not stale.running
            got, metrics = advantages_of(second, config)
            # An advantage stage with no labelling of its own rows (the hook did not run) labels now.
            ray_trainer.extract_reward(first)
            with caplog.at_level(logging.WARNING):
                got_other, other_metrics = advantages_of(second, config)
        expected, _ = synchronous(second, config, tokenizer)
    assert torch.allclose(got, expected) and metrics["poly_epo/diversity_labelled_in_step"] == 0
    assert torch.allclose(got_other, expected) and other_metrics["poly_epo/diversity_labelled_in_step"] == 1
    assert "not those labelled early" in caplog.text


def test_a_run_that_stops_leaves_no_labelling_running(tokenizer):
    with FakeJudge(delay_s=30.0) as judge:
        config = run_config(judge, timeout_s=60)
        trainer = SimpleNamespace(config=config, tokenizer=tokenizer)
        seen = {}

        def fit(self):
            ray_trainer.extract_reward(step_batch(tokenizer))
            seen["pending"] = legacy._run.get().pending
            raise RuntimeError("a worker died")

        started = time.perf_counter()
        with pytest.raises(RuntimeError, match="a worker died"):
            legacy.wrap_fit(fit)(trainer)
        stopped_in = time.perf_counter() - started
    assert not seen["pending"].running
    assert stopped_in < CANCEL_WAIT_S  # the judge's 30 s answer was not waited for
    assert not [t for t in threading.enumerate() if t.name == "polyepo-labelling"]


@pytest.mark.parametrize("backend", ["labels", "ngram"])
def test_backends_that_do_not_start_early_behave_as_before(tokenizer, backend):
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        config = compose(
            "ppo_trainer",
            overrides=["algorithm.adv_estimator=poly_epo", f"+algorithm.poly_epo.diversity.backend={backend}"],
        )
    data = step_batch(tokenizer)
    data.non_tensor_batch["strategy"] = np.array([i % 3 for i in range(len(data))])
    with in_run(config, tokenizer) as run:
        ray_trainer.extract_reward(data)
        assert run.pending is None
        got, metrics = advantages_of(data, config)
    outside, _ = advantages_of(data, config)  # no trainer run at all: the plain estimator
    assert torch.allclose(got, outside)
    assert metrics["poly_epo/diversity_labelled_in_step"] == 0
    assert metrics["poly_epo/diversity_wait_s"] == metrics["poly_epo/diversity_latency_s"]


def test_row_identities_are_unique_and_order_free():
    uids = ["a", "a", "b"]
    rows = [torch.tensor([1, 2]), torch.tensor([1, 2]), torch.tensor([1, 2])]
    prompts = [torch.tensor([7])] * 3
    ids = row_identities(uids, rows, prompts)
    assert len(set(ids)) == 3  # two identical rows of one group stay two rows
    assert ids[2] != ids[0]  # same tokens, other prompt group
    assert set(row_identities(uids[::-1], rows[::-1], prompts)) == set(ids)


def test_objectives_without_strategies_start_no_labelling(tokenizer):
    with FakeJudge() as judge:
        config = run_config(judge)
        OmegaConf.update(config, "algorithm.poly_epo.objective", "max", force_add=True)
        with in_run(config, tokenizer) as run:
            ray_trainer.extract_reward(step_batch(tokenizer))
            assert run.pending is None
    assert judge.requests["ok"] == 0


REJECTED = (1, 6)  # one row in each of the first two groups


def with_rejection_sampling(config):
    OmegaConf.update(config, "algorithm.rollout_correction.rollout_rs", "seq_sum_k2")
    OmegaConf.update(config, "algorithm.rollout_correction.rollout_rs_threshold", 1.0)
    return config


def rejected_by_rollout_correction(data, config):
    """verl's own rollout correction, as the legacy fit calls it before advantages, rejecting the
    rows of ``REJECTED`` whole (their old and rollout log-probs are far apart)."""
    width = data.batch["response_mask"].shape[1]
    data.batch["old_log_probs"] = torch.zeros(len(data), width)
    rollout_log_probs = torch.zeros(len(data), width)
    rollout_log_probs[list(REJECTED)] = -2.0
    data.batch["rollout_log_probs"] = rollout_log_probs
    corrected, _ = rollout_corr_helper.compute_rollout_correction_and_add_to_batch(
        data, config.algorithm.rollout_correction
    )
    assert corrected.batch["response_mask"][list(REJECTED)].sum() == 0  # what verl did
    return corrected


def check_rejected_rows_keep_their_group(out, expected):
    """A fully rejected row trains on nothing, yet counts in its group's sets as it did before."""
    advantages, mask = out.batch["advantages"], out.batch["response_mask"]
    kept = [row for row in range(len(expected)) if row not in REJECTED]
    assert advantages[list(REJECTED)].abs().sum() == 0
    assert torch.allclose(advantages[kept].sum(1) / mask[kept].sum(1), expected[kept])
    assert expected[list(REJECTED)].abs().sum() > 0


def test_rejection_sampling_keeps_the_early_labelling_and_its_text(tokenizer, caplog):
    with FakeJudge(delay_s=0.2) as judge:
        config = with_rejection_sampling(run_config(judge))
        expected, _ = synchronous(step_batch(tokenizer), config, tokenizer)
        data = step_batch(tokenizer)
        with in_run(config, tokenizer):
            ray_trainer.extract_reward(data)
            data = rejected_by_rollout_correction(data, config)
            with caplog.at_level(logging.WARNING):
                out = ray_trainer.compute_advantage(data, adv_estimator="poly_epo", config=config.algorithm)
    assert out.meta_info[legacy.METRICS_META_KEY]["poly_epo/diversity_labelled_in_step"] == 0
    assert "not those labelled early" not in caplog.text
    assert judge.requests["ok"] == 3 + 3  # the reference's three groups, then the run's: no relabelling
    check_rejected_rows_keep_their_group(out, expected)


def test_a_backend_labelling_in_step_reads_rejected_rows_whole(tokenizer):
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        config = compose(
            "ppo_trainer",
            overrides=["algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=ngram"],
        )
    config = with_rejection_sampling(config)
    expected, _ = advantages_of(step_batch(tokenizer), config)
    data = step_batch(tokenizer)
    with in_run(config, tokenizer):
        ray_trainer.extract_reward(data)
        data = rejected_by_rollout_correction(data, config)
        out = ray_trainer.compute_advantage(data, adv_estimator="poly_epo", config=config.algorithm)
    check_rejected_rows_keep_their_group(out, expected)


SLOW = "polyepo-test-slow"


class SlowLabels:
    """A backend that takes a minute, looking at its cancellation between 'groups' (every 50 ms)."""

    def __init__(self, diversity_config):
        pass

    def assign(self, groups):
        for _ in range(1200):
            groups.stop_if_cancelled()
            time.sleep(0.05)
        return Labelling.complete(np.zeros(groups.layout.num_rows, dtype=np.int64), groups.layout.num_groups)


@pytest.fixture
def slow_backend(monkeypatch):
    """``SlowLabels`` registered as ``SLOW`` for one test: the registry is process-wide, and a
    name left in it would show in other tests' lists of backends."""
    monkeypatch.setitem(diversity._registered, SLOW, SlowLabels)


def diversity_config(**diversity):
    overrides = ["algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=4"]
    overrides += [f"+algorithm.poly_epo.diversity.{key}={value}" for key, value in diversity.items()]
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        return compose("ppo_trainer", overrides=overrides)


def started_early(data, config, tokenizer):
    """The step's labelling as the trainer integration starts it, whatever the backend."""
    groups = step_groups(
        data.non_tensor_batch["uid"], data.batch["response_mask"], data.batch, data.non_tensor_batch, tokenizer
    )
    return PendingLabelling(parse_config(config.algorithm).diversity, groups, legacy.batch_row_ids(data))


def collected(data, config, pending, tokenizer):
    """verl's advantage stage collecting ``pending``: per-row advantages, metrics, seconds taken."""
    inputs = StepInputs(data.batch, data.non_tensor_batch, tokenizer, metrics={})
    inputs.early, inputs.row_ids = pending, legacy.batch_row_ids(data)
    started = time.perf_counter()
    with supplying(inputs):
        out = ray_trainer.compute_advantage(data, adv_estimator="poly_epo", config=config.algorithm)
    took = time.perf_counter() - started
    return out.batch["advantages"].sum(1) / data.batch["response_mask"].sum(1), inputs.metrics, took


@pytest.mark.parametrize("fallback", [None, "ngram", "zero"])
def test_a_labelling_past_label_timeout_s_is_cancelled_and_takes_the_timeout_fallback(
    tokenizer, fallback, slow_backend
):
    chosen = {} if fallback is None else {"timeout_fallback": fallback}
    config = diversity_config(backend=SLOW, label_timeout_s=0.5, **chosen)
    data = step_batch(tokenizer)
    pending = started_early(data, config, tokenizer)
    got, metrics, took = collected(data, config, pending, tokenizer)
    assert took < 0.5 + 1.0  # before: waited for the whole minute
    time.sleep(0.2)
    assert not pending.running  # stopped at its next group
    assert metrics["poly_epo/diversity_timed_out_groups"] == metrics["poly_epo/diversity_failed_groups"] == 3
    if fallback == "zero":
        assert torch.all(got == 0)
    elif fallback is None:  # one strategy a group, the neutral default: the mean objective's advantages / k
        grpo_shaped = diversity_config()
        OmegaConf.update(grpo_shaped, "algorithm.poly_epo.objective", "mean", force_add=True)
        expected, _ = advantages_of(data, grpo_shaped)
        assert torch.allclose(got, expected / 2) and got.abs().sum() > 0
        assert metrics["poly_epo/distinct_strategies_mean"] == 1
    else:
        expected, expected_metrics = advantages_of(data, diversity_config(backend="ngram"))
        assert torch.allclose(got, expected) and got.abs().sum() > 0
        assert expected_metrics["poly_epo/diversity_timed_out_groups"] == 0


def test_timeout_fallback_error_stops_training_with_the_limit_named(tokenizer, slow_backend):
    config = diversity_config(backend=SLOW, label_timeout_s=0.3, timeout_fallback="error")
    data = step_batch(tokenizer)
    pending = started_early(data, config, tokenizer)
    with pytest.raises(TimeoutError, match=r"label_timeout_s=0.3 s; .*timeout_fallback=error stops training"):
        collected(data, config, pending, tokenizer)


PATHOLOGICAL = "so the answer is \\boxed{9^{9^{9^{9}}}}"  # math-verify compares it for ever without its limits


def test_a_pathological_answer_costs_its_group_only_answer_timeout_s(tokenizer):
    # In the labelling thread math-verify's own (signal-based) limits cannot apply: the group
    # used to hang the step. Now it is classified in a worker process killed after timeout_s.
    config = diversity_config(backend="answer", **{"answer.timeout_s": 1.5})
    answers = ["we get \\boxed{3}", PATHOLOGICAL, "so \\boxed{3.0}", "\\boxed{4}"]
    data = step_batch(tokenizer, texts=answers, groups=2)
    make_backend(parse_config(config.algorithm).diversity).check_ready()  # the worker starts at start-up
    pending = started_early(data, config, tokenizer)
    _, metrics, took = collected(data, config, pending, tokenizer)
    assert took < 2 * (1.5 + 1.0)  # both groups hold the answer: each is cut after 1.5 s
    assert metrics["poly_epo/diversity_timed_out_groups"] == 2
    fine = step_batch(tokenizer, texts=[answers[0], answers[2], answers[3], "\\boxed{5}"], groups=1)
    _, metrics, _ = collected(fine, config, started_early(fine, config, tokenizer), tokenizer)
    assert metrics["poly_epo/diversity_timed_out_groups"] == 0 and metrics["poly_epo/distinct_strategies_mean"] == 3


def test_the_answer_worker_process_ends_with_the_run(tokenizer):
    config = diversity_config(backend="answer")
    backend = make_backend(parse_config(config.algorithm).diversity)
    backend.check_ready()
    worker = backend.worker._process.process
    legacy.wrap_fit(lambda self: None)(SimpleNamespace(config=config, tokenizer=tokenizer))
    assert worker.poll() is not None


def test_a_judge_that_always_times_out_stops_training_at_max_failed_steps(tokenizer):
    """Timed-out steps count as steps in which every group failed: a hanging judge cannot have
    the whole run train on the timeout fallback."""
    with FakeJudge(delay_s=30.0) as judge:
        config = run_config(judge, timeout_s=60, max_failed_steps=2)
        OmegaConf.update(config, "algorithm.poly_epo.diversity.label_timeout_s", 0.3, force_add=True)
        with in_run(config, tokenizer):
            data = step_batch(tokenizer)
            ray_trainer.extract_reward(data)
            _, metrics = advantages_of(data, config)  # step 1: timed out, the fallback's labels
            assert metrics["poly_epo/diversity_timed_out_groups"] == 3
            data = step_batch(tokenizer)
            ray_trainer.extract_reward(data)
            with pytest.raises(RuntimeError, match="groups have failed in each of 2 consecutive steps"):
                advantages_of(data, config)
