"""The toy tool of the CPU harness's tool-agent runs: a calculator verl's tool agent loop calls.

verl loads this file itself, from ``actor_rollout_ref.rollout.multi_turn.function_tool_path``
(``@function_tool`` registers ``add``; its schema comes from the signature and docstring).
TEST/DEMO only.
"""

from __future__ import annotations

from verl.tools.function_tool import function_tool

from polyepo_plugin.cpu_harness.toy_tool_agent import OBSERVATION, TOOL


@function_tool(TOOL)
def add(a: int, b: int) -> str:
    """Add two integers.

    Args:
        a: The first integer.
        b: The second integer.
    """
    return f"{OBSERVATION} {a + b}"
