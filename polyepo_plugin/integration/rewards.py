"""verl's reward functions, for code outside a training run (the evaluation tool)."""

from __future__ import annotations

from collections.abc import Callable


def default_compute_score() -> Callable:
    """verl's default reward, dispatched on each sample's ``data_source``."""
    from verl.utils.reward_score import default_compute_score as compute_score

    return compute_score
