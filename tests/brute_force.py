"""Reference implementations by explicit subset enumeration: the oracles of the closed forms."""

import itertools
import math


def poly_objective(rewards, strategies, single_strategy_sets_score_zero=False):
    k = len(rewards)
    distinct = len({s for s in strategies if s is not None and s >= 0})
    if single_strategy_sets_score_zero and distinct <= 1:
        return 0.0
    return sum(rewards) / k * distinct / k


def max_objective(rewards, strategies):
    return max(rewards)


def mean_objective(rewards, strategies):
    return sum(rewards) / len(rewards)


def marginal_advantages(rewards, strategies, k, objective, scale="mean"):
    """A_i = mean f over subsets containing i - mean f over all subsets, by enumeration."""
    n = len(rewards)
    if n <= k:
        return [0.0] * n
    values = {
        subset: objective([rewards[j] for j in subset], [strategies[j] for j in subset])
        for subset in itertools.combinations(range(n), k)
    }
    baseline = sum(values.values()) / len(values)
    containing = math.comb(n - 1, k - 1)
    advantages = [sum(v for s, v in values.items() if i in s) / containing - baseline for i in range(n)]
    if scale == "sum":
        advantages = [a * containing for a in advantages]
    return advantages


def pass_at_k_advantage(correct, n, k, is_correct):
    """The analytic pass@k advantage for binary rewards (method doc, section 3)."""
    if is_correct:
        return math.comb(n - correct, k) / math.comb(n, k)
    return math.comb(n - correct, k) / math.comb(n, k) - math.comb(n - correct - 1, k - 1) / math.comb(n - 1, k - 1)


def same_partition(labels, expected):
    """Equal up to renaming of the labels, with -1 (degenerate) kept in place."""
    if [label == -1 for label in labels] != [e == -1 for e in expected]:
        return False
    pairs = {(a, b) for a, b in zip(labels, expected) if b != -1}
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
