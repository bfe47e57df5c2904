"""Binary math reward for the POLARIS recipe: 1.0 when the response's answer equals the ground
truth under math-verify, else 0.0 (the paper's rewards are 0/1).

verl's built-in reward for AIME/DAPO data sources scores a wrong answer -1, which would change
Poly-EPO's objective (mean reward x diversity), so the recipe names this file instead:

    reward.custom_reward_function.path=examples/paper_qwen3_4b_polaris/math_reward.py
    reward.custom_reward_function.name=compute_score

It is also the reward `evaluate.sh` hands to polyepo-eval. Needs `math-verify` (in polyepo's
`diversity` extra). The check runs in verl's math-verify worker processes, where its time
limits work.
"""

from __future__ import annotations

from typing import Any


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict[str, Any] | None = None, **kwargs
) -> float:
    from verl.utils.reward_score import math_verify

    return float(math_verify.compute_score(solution_str, str(ground_truth)))
