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


def chat_prompt(model_dir: str, question: str) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return tokenizer.encode(
        tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        ),
        add_special_tokens=False,
    )


def test_scripted_mode_returns_the_scripts_turn_with_the_models_log_probs(model, monkeypatch):
    """``$POLYEPO_HARNESS_SCRIPTED_ROLLOUT``: the tool call a tiny model never writes, closed by eos,
    scored by the model under ``softmax(logits / T)`` as a sampled turn would be."""
    import torch
    from transformers import AutoTokenizer

    from polyepo_plugin.cpu_harness.hf_rollout import SCRIPT_ENV_VAR
    from polyepo_plugin.cpu_harness.toy_tool_agent import SCRIPT, WORDINGS

    monkeypatch.setenv(SCRIPT_ENV_VAR, SCRIPT)
    server = HFRolloutServer(model, 200, seed=3)
    tokenizer = AutoTokenizer.from_pretrained(model)
    prompt = chat_prompt(model, "Add 3 and 4")
    outputs = [asyncio.run(server.generate(prompt, {"temperature": 0.7})) for _ in range(8)]
    texts = [tokenizer.decode(out.token_ids) for out in outputs]
    call = '<tool_call>{"name": "add", "arguments": {"a": 3, "b": 4}}</tool_call><|im_end|>'
    assert all(text.endswith(call) and text.removesuffix(call).strip() in WORDINGS for text in texts), texts
    assert len(set(texts)) > 1  # each sample's seed picks its wording
    out = outputs[0]
    with torch.no_grad():
        logits = server.model(input_ids=torch.tensor([prompt + out.token_ids])).logits[0, len(prompt) - 1 : -1]
    expected = torch.log_softmax(logits / 0.7, dim=-1).gather(-1, torch.tensor(out.token_ids)[:, None]).squeeze(-1)
    assert out.log_probs == pytest.approx(expected.tolist(), abs=1e-5)


def test_scripted_mode_names_a_function(model, monkeypatch):
    from polyepo_plugin.cpu_harness.hf_rollout import SCRIPT_ENV_VAR

    monkeypatch.setenv(SCRIPT_ENV_VAR, "polyepo_plugin.cpu_harness.toy_tool_agent")
    with pytest.raises(
        ValueError, match="POLYEPO_HARNESS_SCRIPTED_ROLLOUT='polyepo_plugin.cpu_harness.toy_tool_agent'"
    ):
        HFRolloutServer(model, 200, seed=3)
