"""The judge served by verl (``diversity.judge.base_url=verl``), end to end on CPU.

verl's trainers (legacy and v1) start its reward model (the tiny random Qwen2, ``rollout.name=hf``: the
CPU harness's chat-completions server on 127.0.0.1) on a pool of its own through its own
``RewardLoopManager`` and router; poly_epo's judge labels each step's groups through that
router. The random model's answers never parse, so the start-up check (a test group of three)
stops the run before training. With the server answering every request with labels for three
responses (``POLYEPO_CPU_RM_REPLY``), the start-up check passes and every training group (four
responses) fails and takes the fallback. The server logs each request it gets
(``POLYEPO_CPU_RM_LOG``). About 1.5 minutes each.

    pytest -m slow tests/e2e/test_served_judge_cpu.py
"""

from __future__ import annotations

import json

import pytest
from test_apart_trainers_cpu import logged_steps
from test_main_ppo_cpu import _require_trainer, _run_trainer

from polyepo_plugin.cpu_harness.console import step_metrics
from polyepo_plugin.cpu_harness.hf_chat_server import LOG_ENV, REPLY_ENV
from polyepo_plugin.diversity.judge import TEST_GROUP

STEPS, GROUPS, N = 2, 4, 4  # cpu_overrides' defaults: 4 prompts a step, rollout.n=4
# Short instructions: the tiny model's context is 512 tokens.
TEMPLATE = "Group the $num_responses attempts at: $problem\n\n$responses\n\nAnswer with JSON labels."


def served_judge_overrides(tmp_path, fallback: str, use_v1: bool = False, apart: bool = False) -> list[str]:
    template = tmp_path / "judge_prompt.md"
    template.write_text(TEMPLATE)
    model = tmp_path / "assets" / "tiny_qwen2"  # built by _run_trainer
    return [
        "+algorithm.poly_epo.diversity.backend=judge",
        "+algorithm.poly_epo.diversity.judge.base_url=verl",
        f"+algorithm.poly_epo.diversity.judge.prompt_template={template}",
        "+algorithm.poly_epo.diversity.judge.max_tokens=16",
        "+algorithm.poly_epo.diversity.judge.max_retries=0",
        f"+algorithm.poly_epo.diversity.judge.fallback={fallback}",
        "reward.reward_model.enable=True",
        f"reward.reward_model.model_path={model}",
        "reward.reward_model.enable_resource_pool=True",
        "reward.reward_model.nnodes=1",
        "reward.reward_model.n_gpus_per_node=1",
        "reward.reward_model.rollout.name=hf",
        "reward.reward_model.rollout.tensor_model_parallel_size=1",
        "reward.reward_model.rollout.free_cache_engine=False",
        "reward.reward_model.rollout.max_model_len=512",
        # A logical GPU more for the judge's pool (the fully async trainer's rollout has one of its own).
        f"ray_kwargs.ray_init.num_gpus={3 if apart else 2}",
        f"ray_kwargs.ray_init.num_cpus={40 if apart else 20 if use_v1 else 12}",  # v1's TransferQueue wants its own
    ]


# Labels for the start-up test group's three responses; a training group holds four.
THREE_LABELS = '{"labels": {"1": 0, "2": 1, "3": 0}}'
MISSING_FOURTH = "attempt ids wrong (missing ['4'], unexpected [])"


def serve_on_loopback(monkeypatch, log_path, reply: str | None = THREE_LABELS) -> None:
    monkeypatch.setenv(LOG_ENV, str(log_path))
    if reply is not None:
        monkeypatch.setenv(REPLY_ENV, reply)
    # verl's router binds to Ray's node address; with this, Ray's node address is 127.0.0.1.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def served_requests(log_path) -> list[dict]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("use_v1", [pytest.param(False, id="legacy"), pytest.param(True, id="v1")])
def test_every_group_reaches_the_verl_served_judge_and_failures_fall_back(tmp_path, monkeypatch, use_v1):
    _require_trainer(use_v1)
    log_path = tmp_path / "served_judge.jsonl"
    serve_on_loopback(monkeypatch, log_path)
    extra = served_judge_overrides(tmp_path, "ngram", use_v1)
    proc = _run_trainer(tmp_path, "poly_epo", STEPS, use_v1=use_v1, extra=extra)
    log = f"--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-20000:]}"
    assert proc.returncode == 0, log
    ready, *requests = served_requests(log_path)
    # The start-up test group once the servers are up, then one request per group and step
    # (no retries, no identical groups), all under verl's model name.
    assert is_test_group(ready["prompt"]) and ready["status"] == 200, log
    assert len(requests) == STEPS * GROUPS, log
    assert all(
        r["path"] == "/v1/chat/completions" and r["model"] == str(tmp_path / "assets" / "tiny_qwen2")
        for r in [ready, *requests]
    )
    assert all(f"### Attempt {N}\n" in r["prompt"] and "Add " in r["prompt"] for r in requests)
    metrics = step_metrics(proc.stdout)
    for step in range(1, STEPS + 1):
        assert metrics[step]["poly_epo/diversity_failed_groups"] == GROUPS
        assert metrics[step]["poly_epo/distinct_strategies_mean"] >= 1  # the n-gram fallback's labels
    assert "judge at http://127.0.0.1:" in proc.stdout + proc.stderr  # verl's router, on loopback
    assert f"labelling failed for 4 of 4 groups ({MISSING_FOURTH}: 4); fallback: ngram" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_fully_async_rollouter_labels_through_the_verl_served_judge(tmp_path, monkeypatch):
    """The rollouter builds verl's reward loop there: the judge is connected to its router in the
    rollouter's process, labels each group before it is queued, and the trainer reports the
    step's failures."""
    _require_trainer(False)
    log_path = tmp_path / "served_judge.jsonl"
    serve_on_loopback(monkeypatch, log_path)
    # It trains a step more than it logs: every group fails, so let three failed steps go on.
    extra = [*served_judge_overrides(tmp_path, "ngram", apart=True), "+algorithm.poly_epo.diversity.judge.max_failed_steps=4"]
    proc = _run_trainer(tmp_path, "poly_epo", STEPS, use_v1=False, extra=extra, apart="fully_async")
    log = f"--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-20000:]}"
    assert proc.returncode == 0, log
    ready, *requests = served_requests(log_path)
    assert is_test_group(ready["prompt"]) and ready["status"] == 200, log
    # One request per group generated: the logged steps' and the one generated ahead.
    assert STEPS * GROUPS <= len(requests) <= (STEPS + 1) * GROUPS, log
    steps = logged_steps(step_metrics(proc.stdout))
    for step in range(1, STEPS + 1):
        assert steps[step]["poly_epo/diversity_labelled_apart_groups"] == GROUPS
        assert steps[step]["poly_epo/diversity_failed_groups"] == GROUPS
    assert f"the judge served by verl: labelling failed for 4 of 4 groups ({MISSING_FOURTH}: 4); fallback: ngram" in (
        proc.stdout + proc.stderr
    )


def is_test_group(prompt: str) -> bool:
    return TEST_GROUP[0] in prompt and f"### Attempt {len(TEST_GROUP[1])}\n" in prompt


@pytest.mark.slow
def test_a_verl_served_judge_that_cannot_label_a_test_group_stops_the_run_before_training(tmp_path, monkeypatch):
    _require_trainer(False)
    log_path = tmp_path / "served_judge.jsonl"
    serve_on_loopback(monkeypatch, log_path, reply=None)  # the random model answers
    proc = _run_trainer(tmp_path, "poly_epo", STEPS, use_v1=False, extra=served_judge_overrides(tmp_path, "ngram"))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    [ready] = served_requests(log_path)
    assert is_test_group(ready["prompt"]) and ready["status"] == 200, output[-20000:]
    assert "without parseable labels (output cut by max_tokens); it answered: " in output, output[-20000:]
    assert "diversity.judge.max_tokens=16" in output
    assert "training/global_step:1" not in proc.stdout


@pytest.mark.slow
def test_fallback_error_stops_training_on_the_verl_served_judge(tmp_path, monkeypatch):
    _require_trainer(False)
    log_path = tmp_path / "served_judge.jsonl"
    serve_on_loopback(monkeypatch, log_path)
    proc = _run_trainer(tmp_path, "poly_epo", STEPS, use_v1=False, extra=served_judge_overrides(tmp_path, "error"))
    assert proc.returncode != 0
    assert "judge.fallback=error stops training" in proc.stdout + proc.stderr
    # The start-up request and the first step's groups, then it stopped.
    assert len(served_requests(log_path)) == 1 + GROUPS
    assert "training/global_step:1" not in proc.stdout
