"""Groups labelled where the fully async rollouter puts them into its queue, the labelling
carried to the trainer with the group (``integration.fully_async``).

Each group goes through the plugin's wrappers of verl's real ``MessageQueueClient.put_sample``
and ``get_sample`` (the queue in between, a Ray actor in a run, stands here as a list), as verl's
rollouter pickles it (a ``RolloutSample``); the trainer's side then runs verl's real
``extract_reward`` (which seals the step) and ``compute_advantage``, with the real judge backend
and a real HTTP judge on 127.0.0.1.
"""

import asyncio
import json
import threading
import time
from types import SimpleNamespace

import pytest
import ray
import torch
from fake_judge import FakeJudge
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from test_early_labelling_on_cpu import (  # noqa: F401
    VERL_CONFIG_DIR,
    advantages_of,
    in_run,
    reorder,
    run_config,
    step_batch,
    synchronous,
    tokenizer,
)
from verl.experimental.fully_async_policy.detach_utils import RolloutSample
from verl.experimental.fully_async_policy.message_queue import MessageQueueClient
from verl.trainer.ppo import ray_trainer

from polyepo_plugin.config import parse_config
from polyepo_plugin.diversity.early_labelling import APART_METRIC, RELABELLED_METRIC
from polyepo_plugin.integration import fully_async

ROLLOUT_N = 4


class ListQueue:
    """What the message queue's actor does for the client: keeps what is put, in order."""

    def __init__(self):
        self.items = []

    async def put(self, client, sample):
        self.items.append(sample)
        return True

    async def get(self, client):
        return self.items.pop(0), len(self.items)


def samples_of(data):
    """The step's groups as the rollouter puts them: one pickled ``RolloutSample`` per prompt."""
    return [
        ray.cloudpickle.dumps(RolloutSample(data[start : start + ROLLOUT_N], f"sample-{start}", 0, {}))
        for start in range(0, len(data), ROLLOUT_N)
    ]


def through_the_queue(config, data, tokenizer):
    """Put every group from a rollouter (labelling it there), then pull them all as the trainer
    whose run is current does; returns what was queued."""
    queue = ListQueue()
    put = fully_async.wrap_put_sample(queue.put)
    get = fully_async.wrap_get_sample(queue.get)
    labeller = fully_async.RolloutLabeller(parse_config(config.algorithm).diversity, tokenizer)

    async def rollouter():
        token = fully_async._labeller.set(labeller)
        try:
            await asyncio.gather(*(put(None, sample) for sample in samples_of(data)))
        finally:
            fully_async._labeller.reset(token)

    asyncio.run(rollouter())
    labeller.close()
    queued = list(queue.items)

    async def trainer():
        return [await get(None) for _ in queued]

    pulled = asyncio.run(trainer())
    assert all(isinstance(sample, bytes) for sample, _ in pulled)  # verl gets its samples as it put them
    return queued


def test_a_group_labelled_in_the_rollouter_gives_the_advantages_of_one_labelled_in_step(tokenizer):
    with FakeJudge(delay_s=0.2) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        with in_run(config, tokenizer):
            queued = through_the_queue(config, data, tokenizer)
            asked_before_the_step = len(judge.arrivals)
            reorder(data)  # _balance_batch
            ray_trainer.extract_reward(data)
            got, metrics = advantages_of(data, config)
        asked = len(judge.arrivals)
        expected, _ = synchronous(data, config, tokenizer)
    assert all(item[0] == fully_async.LABELLED_SAMPLE for item in queued)
    assert asked_before_the_step == asked == 3  # each group asked once, before the trainer pulled it
    assert torch.allclose(got, expected) and got.abs().sum() > 0
    assert metrics[APART_METRIC] == 3 and metrics[RELABELLED_METRIC] == 0
    assert metrics["poly_epo/diversity_labelled_in_step"] == 0
    assert metrics["poly_epo/diversity_latency_s"] >= 0.2  # the rollouter's labelling time, not the queue's
    assert metrics["poly_epo/distinct_strategies_mean"] == 2


def test_a_group_whose_rows_changed_after_the_queue_is_labelled_again(tokenizer):
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge)
        data = step_batch(tokenizer)
        with in_run(config, tokenizer):
            through_the_queue(config, data, tokenizer)
            shorter = tokenizer.encode("geometry", add_special_tokens=False)
            width = data.batch["prompts"].shape[1]
            data.batch["responses"][5] = tokenizer.pad_token_id
            data.batch["responses"][5, : len(shorter)] = torch.tensor(shorter)
            data.batch["response_mask"][5] = 0
            data.batch["response_mask"][5, : len(shorter)] = 1
            data.batch["attention_mask"][5, width:] = data.batch["response_mask"][5]
            ray_trainer.extract_reward(data)
            got, metrics = advantages_of(data, config)
        asked = len(judge.arrivals)
        expected, _ = synchronous(data, config, tokenizer)
    assert asked == 3 + 1
    assert metrics[APART_METRIC] == 2 and metrics[RELABELLED_METRIC] == 1
    assert torch.allclose(got, expected)


def test_a_group_past_label_timeout_s_in_the_rollouter_takes_the_fallback_in_the_step(tokenizer):
    with FakeJudge(delay_s=0.0, slow_timeout_s=30.0) as judge:
        config = run_config(judge, timeout_s=60)
        OmegaConf.update(config, "algorithm.poly_epo.diversity.label_timeout_s", 1.0, force_add=True)
        data = step_batch(tokenizer, behaviour=["ok", "timeout-once", "ok"])
        with in_run(config, tokenizer):
            started = time.perf_counter()
            queued = through_the_queue(config, data, tokenizer)
            took = time.perf_counter() - started
            time.sleep(0.5)
            # The slow request was aborted, not left to hold a labelling thread for 30 s.
            assert not [t for t in threading.enumerate() if t.name.startswith("polyepo-rollout-labelling")]
            ray_trainer.extract_reward(data)
            got, metrics = advantages_of(data, config)
        expected, _ = synchronous(data, config, tokenizer)
    assert took < 1.0 + 2.0
    # Queued as each was labelled: the slow group last.
    assert ["timed_out" in record for item in queued for record in json.loads(item[2])] == [False, False, True]
    assert metrics["poly_epo/diversity_timed_out_groups"] == metrics["poly_epo/diversity_failed_groups"] == 1
    kept = torch.tensor([row // ROLLOUT_N != 1 for row in range(len(data))])
    assert torch.allclose(got[kept], expected[kept])
    assert metrics["poly_epo/distinct_strategies_mean"] == (2 + 1 + 2) / 3  # group 1: one strategy


def test_failed_groups_are_reported_once_by_the_trainer_with_their_reasons(tokenizer, caplog):
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge, max_failed_steps=100)
        data = step_batch(tokenizer, behaviour=["5xx-always", "5xx-always", "ok"])
        with caplog.at_level("WARNING"):
            with in_run(config, tokenizer):
                through_the_queue(config, data, tokenizer)
                assert not [r for r in caplog.records if "labelling failed for" in r.getMessage()]  # not in the rollouter
                ray_trainer.extract_reward(data)
                _, metrics = advantages_of(data, config)
    assert metrics["poly_epo/diversity_failed_groups"] == 2
    failures = [r.getMessage() for r in caplog.records if "labelling failed for" in r.getMessage()]
    assert len(failures) == 1, failures
    assert "labelling failed for 2 of 3 groups (" in failures[0] and ": 2); fallback: one_strategy" in failures[0]


def test_with_fallback_error_a_group_failed_in_the_rollouter_stops_the_run_in_the_trainer(tokenizer):
    with FakeJudge(delay_s=0.0) as judge:
        config = run_config(judge, fallback="error")
        data = step_batch(tokenizer, behaviour=["ok", "5xx-always", "ok"])
        with in_run(config, tokenizer):
            queued = through_the_queue(config, data, tokenizer)
            ray_trainer.extract_reward(data)
            with pytest.raises(RuntimeError, match="rollouter.*fallback=error stops training"):
                advantages_of(data, config)
        asked = judge.requests["5xx-always"]
    assert asked == 1  # asked in the rollouter only, not again by the trainer
    assert sum("error" in record for item in queued for record in json.loads(item[2])) == 1


@pytest.mark.parametrize("option", ["early_start=false", "judge.consistency_fraction=0.5"])
def test_a_verl_served_judge_whose_groups_would_reach_the_trainer_stops_the_fully_async_run(option):
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        config = compose(
            "ppo_trainer",
            overrides=[
                "algorithm.adv_estimator=poly_epo",
                "+algorithm.poly_epo.diversity.backend=judge",
                "+algorithm.poly_epo.diversity.judge.base_url=verl",
                f"+algorithm.poly_epo.diversity.{option}",
            ],
        )
    with pytest.raises(ValueError, match="base_url=verl on the fully async trainer"):
        fully_async.check_served_judge_streams(SimpleNamespace(config=config))
    OmegaConf.update(config, "algorithm.poly_epo.diversity.backend", "semantic")
    fully_async.check_served_judge_streams(SimpleNamespace(config=config))  # no judge served: nothing to check


def test_the_wrappers_reach_verls_message_queue_client():
    """The import hook wrapped verl's own client (``put_sample``'s ``sample`` parameter included)."""
    assert MessageQueueClient.put_sample.__polyepo_wrapped__ and MessageQueueClient.get_sample.__polyepo_wrapped__
