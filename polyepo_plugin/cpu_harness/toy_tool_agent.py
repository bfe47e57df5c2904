"""A scripted tool-using policy for the toy addition task (TEST only).

A random tiny model never writes a tool call, so end-to-end runs of verl's tool agent loop
(``tool_agent``) name :func:`respond` in ``$POLYEPO_HARNESS_SCRIPTED_ROLLOUT`` and the harness's
rollout server returns its text instead of sampling (see ``hf_rollout``). Turn 1 asks the
``add`` tool of ``toy_tools`` in hermes format, in one of ``WORDINGS`` (the sample's strategy,
drawn from its seed); verl parses the call, runs the real tool and appends its observation;
turn 2 reads that observation from the prompt and answers, correctly except in the last wording,
so a group's rewards vary.
"""

from __future__ import annotations

import json
import os
import re

# One line each: backends read a model turn per line.
WORDINGS = ("Use the add tool.", "Ask the calculator.", "Guess, then check with add.")
SCRIPT = "polyepo_plugin.cpu_harness.toy_tool_agent:respond"
TOOL = "add"  # the function tool of toy_tools
TOOLS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "toy_tools.py")
OBSERVATION = "OBSERVATION:"  # how the tool's output begins
_QUESTION = re.compile(r"Add (-?\d+) and (-?\d+)")
_OBSERVED = re.compile(re.escape(OBSERVATION) + r" (-?\d+)")


def respond(prompt_text: str, seed: int) -> str:
    """The model's next turn, given the whole conversation so far (chat template rendered)."""
    observed = _OBSERVED.findall(prompt_text)
    if not observed:
        a, b = map(int, _QUESTION.search(prompt_text).groups())
        call = {"name": TOOL, "arguments": {"a": a, "b": b}}
        return f"{WORDINGS[seed % len(WORDINGS)]} <tool_call>{json.dumps(call)}</tool_call>"
    value = int(observed[-1])
    if WORDINGS[-1] in prompt_text:
        return f"I guessed {value + 1}, so the answer is {value + 1}."
    return f"The answer is {value}."


def wording_of(turn: str) -> int:
    """Index in ``WORDINGS`` of the model turn ``turn`` (-1 if it has none): its strategy."""
    return next((i for i, wording in enumerate(WORDINGS) if turn.startswith(wording)), -1)
