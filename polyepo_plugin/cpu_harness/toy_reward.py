"""Reward for the toy addition task (TEST/DEMO harness).

verl calls ``compute_score`` once per response when named by
``reward.custom_reward_function.path``/``name``. Returning a dict makes verl put every
key besides ``score`` into the reward extra info, so ``strategy`` reaches the trainer.
"""

from __future__ import annotations

import re


def strategy_of(text: str) -> int:
    """Cheap deterministic label of a response: first character's code mod 3, -1 if empty."""
    text = text.strip()
    return ord(text[0]) % 3 if text else -1


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """1.0 if the first integer in the response equals ``ground_truth``; 0.1 for any other
    number; 0.0 without one. The 0.1 step gives a random model's groups reward variance,
    so GRPO advantages (and gradients) are non-zero from step 1."""
    numbers = re.findall(r"-?\d+", solution_str or "")
    return _scored(numbers[0] if numbers else None, ground_truth, solution_str)


def compute_final_answer_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """``compute_score`` on the response's last integer: a multi-turn response holds a tool
    call's arguments and observation before the final answer."""
    numbers = re.findall(r"-?\d+", solution_str or "")
    return _scored(numbers[-1] if numbers else None, ground_truth, solution_str)


def _scored(answer: str | None, ground_truth, solution_str: str | None) -> dict:
    if answer is None:
        score = 0.0
    else:
        score = 1.0 if answer == str(ground_truth).strip() else 0.1
    return {"score": score, "strategy": strategy_of(solution_str or "")}
