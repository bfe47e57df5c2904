"""The CPU harness's scripted tool-using policy and the reward of its runs (see tests/e2e/test_tool_agent_cpu.py)."""

from __future__ import annotations

import json
import re

from polyepo_plugin.cpu_harness.toy_reward import compute_final_answer_score, compute_score
from polyepo_plugin.cpu_harness.toy_tool_agent import OBSERVATION, WORDINGS, respond, wording_of

QUESTION = "<|im_start|>user\nAdd 3 and 4<|im_end|>\n<|im_start|>assistant\n"


def conversation(first_turn: str, observation: str) -> str:
    return f"{QUESTION}{first_turn}<|im_end|>\n<|im_start|>tool\n{observation}<|im_end|>\n<|im_start|>assistant\n"


def test_turn_one_calls_the_tool_in_a_wording_drawn_from_the_seed():
    turns = [respond(QUESTION, seed) for seed in range(len(WORDINGS))]
    assert [wording_of(turn) for turn in turns] == list(range(len(WORDINGS)))
    for turn in turns:
        call = json.loads(re.search(r"<tool_call>(.*)</tool_call>$", turn).group(1))
        assert call == {"name": "add", "arguments": {"a": 3, "b": 4}}


def test_turn_two_answers_from_the_tools_observation():
    """The answer is the observed value, not the sum of the question (the tool is really read);
    the last wording answers wrongly, so a group's rewards vary."""
    first, guessing = respond(QUESTION, 0), respond(QUESTION, len(WORDINGS) - 1)
    assert respond(conversation(first, f"{OBSERVATION} 9"), 0) == "The answer is 9."
    assert respond(conversation(guessing, f"{OBSERVATION} 7"), 0).endswith("the answer is 8.")


def test_the_final_answer_reward_reads_the_last_integer():
    response = f"{respond(QUESTION, 0)}\ntool\n{OBSERVATION} 7\nassistant\nThe answer is 7."
    assert compute_final_answer_score(None, response, "7")["score"] == 1.0
    assert compute_score(None, response, "7")["score"] == 0.1  # the first integer is the call's argument
    assert compute_final_answer_score(None, "no number", "7")["score"] == 0.0
