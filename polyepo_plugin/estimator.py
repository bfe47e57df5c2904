"""The ``poly_epo`` advantage estimator with verl's estimator signature, free of verl imports.

Reads: the per-token rewards (a response's reward is their sum), the response mask, the uid of
each row (``index``), the ``algorithm`` config (options under ``poly_epo``) and, for backends
that need them, ``batch`` / ``non_tensor_batch`` as upstream PR #7473 proposes to pass them.
Writes: ``(advantages, returns)`` shaped like ``response_mask``, each response's marginal set
advantage on its response tokens. Advantages are never divided by a standard deviation (the
paper's choice); verl's ``norm_adv_by_std_in_grpo`` is not passed to registered estimators.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from polyepo_plugin.config import AUTO, PolyEpoConfig, load_custom_objective, parse_config
from polyepo_plugin.diversity import Labelling, ResponseGroups, make_backend
from polyepo_plugin.grouping import GroupLayout
from polyepo_plugin.set_advantage import (
    custom_conditional_means,
    marginal_advantages,
    max_conditional_means,
    mean_conditional_means,
    poly_conditional_means,
    stable_seed,
)

logger = logging.getLogger(__name__)

# Above this C(N-1, k-1), advantage_scale=sum makes advantages large enough to swamp the
# learning rate the user tuned for GRPO-sized advantages.
SUM_SCALE_WARN_FACTOR = 1000
_warned_sum_factors: set[int] = set()


def compute_poly_epo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | None = None,
    config: Mapping[str, Any] | None = None,
    batch: Mapping[str, Any] | None = None,
    non_tensor_batch: Mapping[str, Any] | None = None,
    tokenizer: Any = None,
    metrics: dict[str, float] | None = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl estimator: ``(bs, response_length)`` rewards and mask -> ``(advantages, returns)``.

    Pass a dict as ``metrics`` to receive ``poly_epo/*`` statistics of the batch.
    """
    options = parse_config(config)
    rewards = response_rewards(token_level_rewards, index)
    per_row = set_advantages(rewards, index, response_mask, options, batch, non_tensor_batch, tokenizer, metrics)
    advantages = per_row.to(token_level_rewards.dtype)[:, None] * response_mask
    return advantages, advantages


def response_rewards(token_level_rewards: torch.Tensor, index: np.ndarray | None) -> torch.Tensor:
    """Sum of each response's token rewards (as verl sums them), then float64 for the set math.

    Non-finite rewards are an error."""
    rewards = token_level_rewards.sum(-1).double()  # summing with dtype=float64 is ~30x slower on CPU
    bad = (~torch.isfinite(rewards)).nonzero(as_tuple=True)[0].tolist()
    if bad:
        shown = ", ".join(
            f"row {row} (uid {index[row]!r}): {rewards[row].item()}" if index is not None else f"row {row}: {rewards[row].item()}"
            for row in bad[:10]
        )
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ValueError(f"poly_epo got non-finite rewards in {len(bad)} response(s): {shown}{more}")
    return rewards


def set_advantages(
    rewards: torch.Tensor,
    index: np.ndarray | None,
    response_mask: torch.Tensor,
    options: PolyEpoConfig,
    batch: Mapping[str, Any] | None = None,
    non_tensor_batch: Mapping[str, Any] | None = None,
    tokenizer: Any = None,
    metrics: dict[str, float] | None = None,
) -> torch.Tensor:
    """One marginal set advantage per row ``(B,)``; 0 for padding rows and groups with N <= k."""
    if index is None:
        raise ValueError(
            "poly_epo needs the uid of each response (index=...) to form prompt groups; verl passes "
            "data.non_tensor_batch['uid'], which was missing"
        )
    index = np.asarray(index, dtype=object)
    if len(index) != rewards.shape[0]:
        raise ValueError(f"poly_epo got {len(index)} uids for {rewards.shape[0]} responses")
    layout = GroupLayout.from_index(index, device=rewards.device)
    set_sizes = _set_sizes(layout.sizes, options)
    grouped_rewards = layout.gather(rewards)

    strategies = labelling = None
    started = time.perf_counter()
    if options.uses_strategies:
        groups = ResponseGroups(layout, response_mask, batch, non_tensor_batch, tokenizer)
        labelling = make_backend(options.diversity).assign(groups)
        strategies = layout.compact_strategies(labelling.labels)
    labelling_seconds = time.perf_counter() - started

    baselines = None
    if options.objective == "poly":
        means = poly_conditional_means(
            grouped_rewards, strategies, layout.valid, layout.sizes, set_sizes, options.single_strategy_sets_score_zero
        )
    elif options.objective == "max":
        means = max_conditional_means(grouped_rewards, layout.valid, layout.sizes, set_sizes)
    elif options.objective == "mean":
        means = mean_conditional_means(grouped_rewards, layout.valid, layout.sizes, set_sizes)
    else:
        custom = options.custom_objective
        means, baselines = custom_conditional_means(
            load_custom_objective(custom),
            grouped_rewards,
            strategies,
            layout.valid,
            layout.sizes,
            set_sizes,
            [stable_seed(custom.seed, uid) for uid in layout.uids],
            custom.max_enumerated_subsets,
            custom.num_samples,
        )
    if options.advantage_scale == "sum":
        _warn_if_sum_scale_explodes(layout.sizes, set_sizes)
    advantages = marginal_advantages(means, layout.valid, layout.sizes, set_sizes, options.advantage_scale, baselines)
    if labelling is not None and labelling.zero_advantage_groups.any():
        zeroed = torch.as_tensor(labelling.zero_advantage_groups, device=advantages.device)[:, None]
        advantages = torch.where(zeroed, torch.zeros_like(advantages), advantages)

    if metrics is not None:
        metrics.update(
            batch_metrics(grouped_rewards, strategies, labelling, advantages, layout, set_sizes, options, labelling_seconds)
        )
    return layout.scatter(advantages)


def _set_sizes(sizes: torch.Tensor, options: PolyEpoConfig) -> torch.Tensor:
    if options.set_size == AUTO:
        return (sizes // 2).clamp(min=1)
    return torch.full_like(sizes, int(options.set_size))


def _warn_if_sum_scale_explodes(sizes: torch.Tensor, set_sizes: torch.Tensor) -> None:
    informative = sizes > set_sizes
    if not informative.any():
        return
    factor = max(math.comb(int(n) - 1, int(k) - 1) for n, k in zip(sizes[informative].tolist(), set_sizes[informative].tolist()))
    if factor > SUM_SCALE_WARN_FACTOR and factor not in _warned_sum_factors:
        _warned_sum_factors.add(factor)
        logger.warning(
            "poly_epo: advantage_scale=sum multiplies advantages by C(N-1,k-1) = %d for this batch; "
            "expect advantages that many times larger than with advantage_scale=mean",
            factor,
        )


def batch_metrics(
    rewards: torch.Tensor,
    strategies: torch.Tensor | None,
    labelling: Labelling | None,
    advantages: torch.Tensor,
    layout: GroupLayout,
    set_sizes: torch.Tensor,
    options: PolyEpoConfig,
    labelling_seconds: float,
) -> dict[str, float]:
    """``poly_epo/*`` statistics of one batch, for verl's step metrics."""
    num_groups = int(layout.sizes.numel())
    skipped = layout.sizes <= set_sizes
    all_zero = ((advantages.abs() < 1e-12) | ~layout.valid).all(1)
    out = {
        "poly_epo/groups": float(num_groups),
        "poly_epo/skipped_groups": float(skipped.sum()),
        "poly_epo/padding_rows": float(layout.padding.sum()),
        "poly_epo/zero_advantage_group_fraction": float(all_zero.double().mean()) if num_groups else 0.0,
        "poly_epo/set_size_mean": float(set_sizes.double().mean()) if num_groups else 0.0,
    }
    if strategies is not None and num_groups:
        correct = layout.valid & (rewards > options.correct_threshold)
        out["poly_epo/distinct_strategies_mean"] = float(_distinct_per_group(strategies, layout.valid).mean())
        out["poly_epo/distinct_correct_strategies_mean"] = float(_distinct_per_group(strategies, correct).mean())
        out["poly_epo/degenerate_fraction"] = float(((strategies < 0) & layout.valid).sum() / layout.valid.sum())
        out["poly_epo/diversity_latency_s"] = labelling_seconds
        out["poly_epo/diversity_failed_groups"] = float(labelling.failed_groups.sum())
    return out


def _distinct_per_group(strategies: torch.Tensor, include: torch.Tensor) -> torch.Tensor:
    """Number of distinct non-negative labels among the included members of each group."""
    kept = torch.where(include & (strategies >= 0), strategies, torch.full_like(strategies, -1))
    width = int(kept.max().item()) + 2 if kept.numel() else 1
    present = torch.zeros(kept.shape[0], width, dtype=torch.bool, device=kept.device)
    present.scatter_(1, kept + 1, True)
    return present[:, 1:].sum(1).double()
