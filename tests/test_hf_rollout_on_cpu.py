"""The CPU harness's rollout server draws each sample from its own seed, so a run repeats itself
whatever order the agent loop's concurrent requests arrive in (the demo's reproducibility)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("verl")

from polyepo_plugin.cpu_harness.hf_rollout import HFRolloutServer
from polyepo_plugin.cpu_harness.tiny_assets import build_tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_tiny_model(str(tmp_path_factory.mktemp("hf_rollout")), seed=0)


def draw(server, requests, request_ids=None):
    params = {"max_tokens": 6, "temperature": 1.0}
    request_ids = request_ids or [""] * len(requests)

    async def run():
        return [await server.generate(ids, params, request_id=rid) for ids, rid in zip(requests, request_ids)]

    return [tuple(out.token_ids) for out in asyncio.run(run())]


def test_without_stable_ids_each_prompt_gets_the_same_samples_in_any_interleaving(model):
    a, b = [5, 6, 7], [8, 9]
    first = draw(HFRolloutServer(model, 6, seed=3), [a, a, b, a, b])
    second = draw(HFRolloutServer(model, 6, seed=3), [b, a, b, a, a])
    assert [first[0], first[1], first[3]] == [second[1], second[3], second[4]]  # the three draws of a
    assert [first[2], first[4]] == [second[0], second[2]]  # the two draws of b
    assert len(set(first)) > 1  # repeated prompts still get different samples
    other_seed = draw(HFRolloutServer(model, 6, seed=4), [a, a, b, a, b])
    assert other_seed != first


def test_verls_stable_request_ids_fix_each_rows_sample(model):
    """Under ``rollout.full_determinism`` verl sends ``det-<row>``: each row gets the same
    sample in every run, not just the same samples in some order."""
    prompt = [5, 6, 7]
    rows = ["det-0", "det-1", "det-2", "det-3"]
    first = draw(HFRolloutServer(model, 6, seed=3), [prompt] * 4, rows)
    second = draw(HFRolloutServer(model, 6, seed=3), [prompt] * 4, rows[::-1])
    assert first == second[::-1] and len(set(first)) > 1


def test_a_new_step_draws_new_samples(model):
    server = HFRolloutServer(model, 6, seed=3)
    before = draw(server, [[5, 6, 7]] * 3)
    state = {name: t.clone() for name, t in server.model.state_dict().items()}
    asyncio.run(server.update_weights(state, global_steps=1))  # same weights, next step
    after = draw(server, [[5, 6, 7]] * 3)
    assert after != before and len(after) == 3
