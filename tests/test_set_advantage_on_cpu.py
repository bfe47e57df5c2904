"""Closed-form set advantages against subset enumeration and the method doc's identities."""

import math
import random

import pytest
import torch
from brute_force import marginal_advantages as brute_marginal
from brute_force import max_objective, mean_objective, pass_at_k_advantage, poly_objective

from polyepo_plugin.set_advantage import (
    custom_conditional_means,
    marginal_advantages,
    max_conditional_means,
    mean_conditional_means,
    poly_conditional_means,
)


def pack(groups):
    """[(rewards, strategies), ...] of ragged groups -> padded (G, N) tensors, as the estimator builds them."""
    width = max(len(r) for r, _ in groups)
    rewards = torch.zeros(len(groups), width, dtype=torch.float64)
    strategies = torch.full((len(groups), width), -1, dtype=torch.long)
    valid = torch.zeros(len(groups), width, dtype=torch.bool)
    for g, (r, s) in enumerate(groups):
        rewards[g, : len(r)] = torch.tensor(r, dtype=torch.float64)
        compact = {}
        strategies[g, : len(s)] = torch.tensor([-1 if x < 0 else compact.setdefault(x, len(compact)) for x in s])
        valid[g, : len(r)] = True
    sizes = valid.sum(1)
    return rewards, strategies, valid, sizes


def closed_form(objective, groups, set_sizes, scale="mean", single=False):
    rewards, strategies, valid, sizes = pack(groups)
    k = torch.tensor(set_sizes)
    if objective == "poly":
        means = poly_conditional_means(rewards, strategies, valid, sizes, k, single)
    elif objective == "max":
        means = max_conditional_means(rewards, valid, sizes, k)
    else:
        means = mean_conditional_means(rewards, valid, sizes, k)
    advantages = marginal_advantages(means, valid, sizes, k, scale)
    return [advantages[g, : len(r)].tolist() for g, (r, _) in enumerate(groups)]


def random_group(rng, n, binary):
    rewards = [float(rng.random() < 0.5) if binary else rng.uniform(-1, 2) for _ in range(n)]
    strategies = [rng.randint(-1, 3) for _ in range(n)]  # -1: degenerate
    return rewards, strategies


BRUTE_OBJECTIVES = {
    "poly": poly_objective,
    "poly_single": lambda r, s: poly_objective(r, s, single_strategy_sets_score_zero=True),
    "max": max_objective,
    "mean": mean_objective,
}


@pytest.mark.parametrize("name", sorted(BRUTE_OBJECTIVES))
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "continuous"])
def test_closed_forms_equal_enumeration_for_every_n_and_k(name, binary):
    rng = random.Random(f"closed-forms/{name}/{binary}")  # a str seed is the same in every process
    objective = "poly" if name.startswith("poly") else name
    for n in range(2, 11):
        for k in range(1, n):
            # Three ragged groups in one call: sizes n, n-1 (>= k or skipped) and a small one.
            groups = [random_group(rng, size, binary) for size in (n, max(n - 1, 1), rng.randint(1, n))]
            got = closed_form(objective, groups, [k] * len(groups), single=name == "poly_single")
            for (rewards, strategies), advantages in zip(groups, got):
                want = brute_marginal(rewards, strategies, k, BRUTE_OBJECTIVES[name])
                assert advantages == pytest.approx(want, abs=1e-10), (name, n, k, rewards, strategies)


@pytest.mark.parametrize("objective", ["max", "mean", "poly"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "continuous"])
def test_sum_scale_on_ragged_groups_equals_enumeration(objective, binary):
    """advantage_scale=sum with groups of different sizes (and set sizes) in one call."""
    rng = random.Random(f"sum-scale/{objective}/{binary}")
    brute = BRUTE_OBJECTIVES[objective]
    for _ in range(5):
        sizes = [rng.randint(1, 10) for _ in range(4)] + [9]
        groups = [random_group(rng, n, binary) for n in sizes]
        set_sizes = [rng.randint(1, max(n - 1, 1)) for n in sizes]
        summed = closed_form(objective, groups, set_sizes, scale="sum")
        mean = closed_form(objective, groups, set_sizes)
        for (rewards, strategies), k, got, per_subset in zip(groups, set_sizes, summed, mean):
            want = brute_marginal(rewards, strategies, k, brute, scale="sum")
            assert got == pytest.approx(want, abs=1e-9), (objective, rewards, strategies, k)
            factor = math.comb(len(rewards) - 1, k - 1) if len(rewards) > k else 0
            assert got == pytest.approx([a * factor for a in per_subset], abs=1e-9)


def test_sum_scale_multiplies_by_subsets_containing_each_response():
    rng = random.Random(3)
    rewards, strategies = random_group(rng, 7, binary=False)
    got = closed_form("poly", [(rewards, strategies)], [3], scale="sum")[0]
    want = brute_marginal(rewards, strategies, 3, poly_objective, scale="sum")
    assert got == pytest.approx(want, abs=1e-10)
    assert got == pytest.approx([a * math.comb(6, 2) for a in closed_form("poly", [(rewards, strategies)], [3])[0]])


@pytest.mark.parametrize("n,k", [(8, 4), (16, 8), (64, 32), (10, 1)])
def test_max_equals_analytic_pass_at_k_advantage(n, k):
    """With c correct of N: A(correct) = C(N-c,k)/C(N,k), A(wrong) = that - C(N-c-1,k-1)/C(N-1,k-1).

    E[max | i] is 1 for a correct i and 1 - C(N-c-1,k-1)/C(N-1,k-1) for a wrong one, and the
    baseline E[max] is pass@k = 1 - C(N-c,k)/C(N,k); compared as is, not re-centred.
    """
    for correct in range(n + 1):
        rewards = [1.0] * correct + [0.0] * (n - correct)
        order = random.Random(f"pass@k/{n}/{k}/{correct}").sample(range(n), n)
        rewards = [rewards[i] for i in order]  # correct ones anywhere in the group
        got = closed_form("max", [(rewards, [0] * n)], [k])[0]
        want = [pass_at_k_advantage(correct, n, k, r == 1.0) for r in rewards]
        by_formula = [
            math.comb(n - correct, k) / math.comb(n, k)
            - (0 if r == 1.0 else math.comb(n - correct - 1, k - 1) / math.comb(n - 1, k - 1))
            for r in rewards
        ]
        assert want == pytest.approx(by_formula, abs=1e-15)
        assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("n,k", [(8, 4), (16, 8), (64, 32), (5, 4)])
def test_mean_objective_is_scaled_grpo_without_std(n, k):
    rng = random.Random(n)  # one generator: a new Random(n) per draw made every reward equal
    rewards = [rng.uniform(0, 1) for _ in range(n)]
    assert len(set(rewards)) == n
    got = closed_form("mean", [(rewards, [0] * n)], [k])[0]
    mean = sum(rewards) / n
    assert got == pytest.approx([(n - k) / (k * (n - 1)) * (r - mean) for r in rewards], abs=1e-12)


@pytest.mark.parametrize("n,k", [(64, 32), (128, 64)])
def test_poly_at_large_n_matches_the_cases_with_known_diversity(n, k):
    """No enumeration is possible at C(64,32) ~ 1.8e18; two cases pin D(S) and so have exact answers.

    One strategy: D(S) = 1, f = mean/k. All strategies distinct: D(S) = k, f = mean.
    """
    rng = random.Random(n)
    rewards = [float(rng.random() < 0.3) for _ in range(n)]
    mean_adv = closed_form("mean", [(rewards, [0] * n)], [k])[0]
    one_strategy = closed_form("poly", [(rewards, [0] * n)], [k])[0]
    all_distinct = closed_form("poly", [(rewards, list(range(n)))], [k])[0]
    assert one_strategy == pytest.approx([a / k for a in mean_adv], abs=1e-12)
    assert all_distinct == pytest.approx(mean_adv, abs=1e-12)


def test_identities_of_the_poly_objective():
    n, k = 8, 4
    rng = random.Random(0)
    for _ in range(50):
        rewards, strategies = random_group(rng, n, binary=True)
        advantages = closed_form("poly", [(rewards, strategies)], [k])[0]
        assert sum(advantages) == pytest.approx(0.0, abs=1e-12)
        permutation = rng.sample(range(n), n)
        permuted = closed_form(
            "poly", [([rewards[p] for p in permutation], [strategies[p] for p in permutation])], [k]
        )[0]
        assert permuted == pytest.approx([advantages[p] for p in permutation], abs=1e-12)
    assert closed_form("poly", [([0.0] * n, [0, 1, 2, 3, 0, 1, 2, 3])], [k])[0] == [0.0] * n


def test_all_correct_group_still_favours_the_rare_strategy():
    """GRPO gives an all-correct group nothing; Poly-EPO credits the rare strategy."""
    strategies = [0, 0, 0, 0, 0, 0, 1, 2]
    advantages = closed_form("poly", [([1.0] * 8, strategies)], [4])[0]
    assert advantages[6] == advantages[7] > 0 > advantages[0]
    assert len(set(advantages[:6])) == 1


def test_correct_rare_beats_correct_common_and_wrong_novel_can_be_positive():
    rewards = [1, 1, 1, 1, 0, 0, 1, 0]
    strategies = [0, 0, 0, 0, 0, 0, 1, 2]
    advantages = closed_form("poly", [([float(r) for r in rewards], strategies)], [4])[0]
    assert advantages[6] > advantages[0]
    assert advantages[7] > 0  # wrong, but a new strategy that the other members' reward pays for
    assert advantages[4] < 0


def test_groups_not_larger_than_k_get_zero():
    assert closed_form("poly", [([1.0, 0.0, 1.0], [0, 1, 2])], [3])[0] == [0.0] * 3
    assert closed_form("max", [([1.0, 0.0], [0, 1])], [4])[0] == [0.0] * 2


def test_each_group_uses_its_own_set_size():
    rng = random.Random(7)
    groups = [random_group(rng, 8, binary=True), random_group(rng, 6, binary=True)]
    got = closed_form("poly", groups, [4, 3])
    for (rewards, strategies), k, advantages in zip(groups, [4, 3], got):
        assert advantages == pytest.approx(brute_marginal(rewards, strategies, k, poly_objective), abs=1e-12)


def torch_poly(rewards, strategies):
    """The poly objective written as a batched user set function."""
    ordered = strategies.sort(1).values
    starts_run = torch.cat([torch.ones_like(ordered[:, :1], dtype=torch.bool), ordered[:, 1:] != ordered[:, :-1]], 1)
    distinct = ((ordered >= 0) & starts_run).sum(1)
    return rewards.mean(1) * distinct.double() / rewards.shape[1]


def test_custom_objective_enumerated_equals_closed_form():
    rng = random.Random(11)
    groups = [random_group(rng, 8, binary=True), random_group(rng, 7, binary=False)]
    rewards, strategies, valid, sizes = pack(groups)
    k = torch.tensor([4, 3])
    means, baselines = custom_conditional_means(torch_poly, rewards, strategies, valid, sizes, k, [0, 1], 10_000, 8)
    got = marginal_advantages(means, valid, sizes, k, baselines=baselines)
    want = marginal_advantages(poly_conditional_means(rewards, strategies, valid, sizes, k), valid, sizes, k)
    assert torch.allclose(got, want, atol=1e-12)


def test_custom_objective_sampled_is_unbiased_and_seeded():
    rng = random.Random(5)
    rewards, strategies, valid, sizes = pack([random_group(rng, 12, binary=True)])
    k = torch.tensor([6])  # C(12, 6) = 924 subsets, above the enumeration limit set below
    exact = marginal_advantages(poly_conditional_means(rewards, strategies, valid, sizes, k), valid, sizes, k)
    runs, baseline_runs = [], []
    for seed in range(20):
        means, baselines = custom_conditional_means(torch_poly, rewards, strategies, valid, sizes, k, [seed], 100, 200)
        runs.append(marginal_advantages(means, valid, sizes, k, baselines=baselines))
        baseline_runs.append(baselines)
    average = torch.stack(runs).mean(0)
    spread = torch.stack(runs).std(0) / math.sqrt(len(runs))
    assert ((average - exact).abs() <= 5 * spread + 1e-9).all()
    # The baseline E[f] comes from a uniform sample of its own: unbiased too.
    exact_means = poly_conditional_means(rewards, strategies, valid, sizes, k)
    exact_baseline = exact_means[valid].mean()
    baseline_runs = torch.stack(baseline_runs)
    assert (baseline_runs.mean() - exact_baseline).abs() <= 5 * baseline_runs.std() / math.sqrt(len(runs)) + 1e-9
    assert baseline_runs.std() > 0
    # Seeded: the same seed gives the same means and baseline, another seed other ones.
    first = custom_conditional_means(torch_poly, rewards, strategies, valid, sizes, k, [3], 100, 200)
    again = custom_conditional_means(torch_poly, rewards, strategies, valid, sizes, k, [3], 100, 200)
    other = custom_conditional_means(torch_poly, rewards, strategies, valid, sizes, k, [4], 100, 200)
    assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
    assert not torch.equal(other[0], first[0]) and not torch.equal(other[1], first[1])


def test_custom_objective_sampling_is_seeded_per_group():
    """A group's sample depends on its own seed only, not on the other groups in the call."""
    rng = random.Random(9)
    groups = [random_group(rng, 12, binary=True), random_group(rng, 11, binary=False)]
    rewards, strategies, valid, sizes = pack(groups)
    k = torch.tensor([6, 5])  # 924 and 462 subsets: both sampled
    both = custom_conditional_means(torch_poly, rewards, strategies, valid, sizes, k, [21, 22], 100, 50)
    alone = custom_conditional_means(
        torch_poly, rewards[1:, :11], strategies[1:, :11], valid[1:, :11], sizes[1:], k[1:], [22], 100, 50
    )
    assert torch.equal(both[0][1, :11], alone[0][0]) and torch.equal(both[1][1:], alone[1])


def test_custom_objective_with_wrong_output_shape_is_reported():
    rewards, strategies, valid, sizes = pack([([1.0, 0.0, 1.0], [0, 1, 2])])
    with pytest.raises(ValueError, match="custom set objective returned shape"):
        custom_conditional_means(
            lambda r, s: r.sum(), rewards, strategies, valid, sizes, torch.tensor([2]), [0], 100, 4
        )
