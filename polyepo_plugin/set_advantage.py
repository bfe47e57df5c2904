"""Marginal set advantages, exact and vectorised over every group of a batch.

Set RL scores a size-k subset S of a prompt's N responses with a set function f and credits
response i with its marginal contribution

    A_i = mean_{S : i in S, |S| = k} f(S)  -  mean_{S : |S| = k} f(S).

The first term is E[f(S) | i in S] for S drawn uniformly; the second (the baseline) equals the
mean over i of the first, so A sums to zero within a group. With ``scale="sum"`` every A_i is
multiplied by C(N-1, k-1), the number of subsets containing i (sum instead of mean).

Layout: every function takes a padded group layout, ``(G, N)`` for G groups padded to the largest
group size N, with ``valid`` marking real members; ``sizes`` and ``set_sizes`` are ``(G,)`` so
groups of different size (and, with ``set_size: auto``, different k) share one call. Strategies
are small integers within a group, ``-1`` for a degenerate response (it counts for no strategy).

Nothing here imports verl; the closed forms are checked against subset enumeration in the tests.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence

import torch

Tensor = torch.Tensor
SetFunction = Callable[[Tensor, Tensor], Tensor]


def binomial_ratio(top: Tensor, bottom: Tensor, ref_top: Tensor, ref_bottom: Tensor) -> Tensor:
    """C(top, bottom) / C(ref_top, ref_bottom) for integer-valued tensors, 0 where C(top, bottom) is 0.

    Uses a log-factorial table, so C(64, 32) ~ 1.8e18 and larger stay accurate in float64 and
    large batches cost a gather instead of an lgamma per element. ``ref`` must be a positive
    coefficient.
    """
    top, bottom, ref_top, ref_bottom = (
        x.round().long() for x in torch.broadcast_tensors(top, bottom, ref_top, ref_bottom)
    )
    largest = max(int(top.max()), int(ref_top.max()), 0) if top.numel() else 0
    log_factorial = torch.lgamma(torch.arange(largest + 1, dtype=torch.float64, device=top.device) + 1)

    def log_binomial(n: Tensor, r: Tensor) -> Tensor:
        n = n.clamp(min=0)
        r = r.clamp(min=0).minimum(n)
        return log_factorial[n] - log_factorial[r] - log_factorial[n - r]

    defined = (bottom >= 0) & (bottom <= top)
    ratio = torch.exp(log_binomial(top, bottom) - log_binomial(ref_top, ref_bottom))
    return torch.where(defined, ratio, torch.zeros_like(ratio))


def strategy_membership(strategies: Tensor, valid: Tensor) -> Tensor:
    """One-hot ``(G, N, C)`` float64 membership of each member in its group's strategies."""
    labelled = torch.where(valid & (strategies >= 0), strategies + 1, torch.zeros_like(strategies))
    width = int(labelled.max()) + 1 if labelled.numel() else 1
    return torch.nn.functional.one_hot(labelled, max(width, 2))[..., 1:].double()


def poly_conditional_means(
    rewards: Tensor,
    strategies: Tensor,
    valid: Tensor,
    sizes: Tensor,
    set_sizes: Tensor,
    single_strategy_sets_score_zero: bool = False,
) -> Tensor:
    """E[f(S) | i in S] for the Poly-EPO objective, exactly, in O(N * strategies) per group.

    f(S) = (1/k) sum_{j in S} r_j * D(S)/k, D(S) = number of distinct non-degenerate strategies
    in S. Writing D(S) = sum_c [S hits c] makes f bilinear, so with P(.) over S uniform among the
    size-k subsets containing i, rho(a, b) = C(a, b) / C(N-1, k-1), m_c = |c|, R = sum r:

        k^2 E[f | i] = r_i (C - sum_{c not containing i} rho(N-1-m_c, k-1))
                       + (R - r_i) (k-1)/(N-1) C
                       - sum_{c not containing i} rho(N-2-m_c, k-2) (R_{not c} - r_i)

    where C is the group's number of strategies and R_{not c} the reward outside c: the last
    term removes the pairs (i, j) whose subsets miss c. With ``single_strategy_sets_score_zero``
    f is multiplied by [D(S) >= 2]; f [D(S) = 1] = (1/k^2) sum_{j in S} r_j [S lies in one
    strategy plus degenerates] is subtracted in closed form over U_c = c + degenerates.

    Shapes: rewards, strategies, valid ``(G, N)``; sizes, set_sizes ``(G,)``. Returns ``(G, N)``
    float64, 0 on padding. Groups with N <= k are the caller's to skip.
    """
    r = torch.where(valid, rewards.double(), torch.zeros_like(rewards, dtype=torch.float64))
    member = strategy_membership(strategies, valid)
    n = sizes.double().clamp(min=2)[:, None]
    k = set_sizes.double()[:, None]
    ref_top, ref_bottom = n - 1, k - 1

    class_size = member.sum(1)
    exists = (class_size > 0).double()
    num_strategies = exists.sum(1, keepdim=True)
    total = r.sum(1, keepdim=True)
    class_reward = torch.einsum("gnc,gn->gc", member, r)
    outside = (1.0 - member) * exists[:, None, :]

    miss_alone = binomial_ratio(n - 1 - class_size, k - 1, ref_top, ref_bottom) * exists
    miss_pair = binomial_ratio(n - 2 - class_size, k - 2, ref_top, ref_bottom) * exists
    own = r * (num_strategies - torch.einsum("gnc,gc->gn", outside, miss_alone))
    others = (total - r) * (k - 1) / (n - 1) * num_strategies
    missed = torch.einsum("gnc,gc->gn", outside, miss_pair * (total - class_reward)) - r * torch.einsum(
        "gnc,gc->gn", outside, miss_pair
    )
    scaled = own + others - missed

    if single_strategy_sets_score_zero:
        scaled = scaled - _single_strategy_mass(r, member, valid, exists, n, k)
    return torch.where(valid, scaled / (k * k), torch.zeros_like(scaled))


def _single_strategy_mass(r: Tensor, member: Tensor, valid: Tensor, exists: Tensor, n: Tensor, k: Tensor) -> Tensor:
    """k^2 E[f(S) [D(S) = 1] | i in S]: subsets inside one strategy c plus the degenerates."""
    degenerate = valid & (member.sum(2) == 0)
    deg_count = degenerate.double().sum(1, keepdim=True)
    deg_reward = (r * degenerate).sum(1, keepdim=True)
    union_size = member.sum(1) + deg_count
    union_reward = torch.einsum("gnc,gn->gc", member, r) + deg_reward
    ref_top, ref_bottom = n - 1, k - 1
    with_self = binomial_ratio(union_size - 1, k - 1, ref_top, ref_bottom) * exists
    with_pair = binomial_ratio(union_size - 2, k - 2, ref_top, ref_bottom) * exists
    # A labelled member sees only its own strategy's union.
    labelled = r * torch.einsum("gnc,gc->gn", member, with_self)
    labelled = labelled + torch.einsum("gnc,gc->gn", member, with_pair * union_reward)
    labelled = labelled - r * torch.einsum("gnc,gc->gn", member, with_pair)
    # A degenerate member lies in every union; subsets made only of degenerates have D = 0.
    num_strategies = exists.sum(1, keepdim=True)
    only_deg_self = binomial_ratio(deg_count - 1, k - 1, ref_top, ref_bottom)
    only_deg_pair = binomial_ratio(deg_count - 2, k - 2, ref_top, ref_bottom)
    unlabelled = r * (with_self.sum(1, keepdim=True) - num_strategies * only_deg_self)
    unlabelled = unlabelled + (with_pair * union_reward).sum(1, keepdim=True) - r * with_pair.sum(1, keepdim=True)
    unlabelled = unlabelled - num_strategies * (deg_reward - r) * only_deg_pair
    return torch.where(degenerate, unlabelled, labelled)


def max_conditional_means(rewards: Tensor, valid: Tensor, sizes: Tensor, set_sizes: Tensor) -> Tensor:
    """E[max_{j in S} r_j | i in S] exactly (pass@k for binary rewards), O(N log N) per group.

    Sort a group's rewards in descending order s_0 >= s_1 >= ...; for i at position p, with
    rho(a, b) = C(a, b) / C(N-1, k-1):

        E[max | i] = r_i rho(N-1-p, k-1) + sum_{q < p} s_q rho(N-2-q, k-2)

    (i is the maximum when the other k-1 members all rank below it; otherwise the maximum is
    the top-ranked other member q). Ties do not change the value.
    """
    r = rewards.double()
    sort_keys = torch.where(valid, r, torch.full_like(r, -math.inf))
    order = torch.argsort(sort_keys, dim=1, descending=True, stable=True)
    ordered = torch.where(torch.gather(valid, 1, order), torch.gather(r, 1, order), torch.zeros_like(r))
    n = sizes.double()[:, None]
    k = set_sizes.double()[:, None]
    pos = torch.arange(r.shape[1], device=r.device, dtype=torch.float64)[None, :]
    ref_top, ref_bottom = (n - 1).clamp(min=0), k - 1
    alone = binomial_ratio(n - 1 - pos, k - 1, ref_top, ref_bottom)
    above = ordered * binomial_ratio(n - 2 - pos, k - 2, ref_top, ref_bottom)
    above_before = torch.cumsum(above, dim=1) - above
    means_sorted = ordered * alone + above_before
    means = torch.empty_like(means_sorted).scatter_(1, order, means_sorted)
    return torch.where(valid, means, torch.zeros_like(means))


def mean_conditional_means(rewards: Tensor, valid: Tensor, sizes: Tensor, set_sizes: Tensor) -> Tensor:
    """E[mean_{j in S} r_j | i in S] = r_i / k + (k-1)/k * (R - r_i)/(N-1).

    Its marginal advantage is (N-k)/(k(N-1)) * (r_i - mean r): GRPO without std, scaled.
    """
    r = torch.where(valid, rewards.double(), torch.zeros_like(rewards, dtype=torch.float64))
    n = sizes.double().clamp(min=2)[:, None]
    k = set_sizes.double()[:, None]
    total = r.sum(1, keepdim=True)
    means = r / k + (k - 1) / k * (total - r) / (n - 1)
    return torch.where(valid, means, torch.zeros_like(means))


def marginal_advantages(
    conditional_means: Tensor,
    valid: Tensor,
    sizes: Tensor,
    set_sizes: Tensor,
    scale: str = "mean",
    baselines: Tensor | None = None,
) -> Tensor:
    """A_i = E[f | i in S] - E[f]; 0 for padding and for groups with N <= k.

    E[f] defaults to mean_j E[f | j in S], which is exact (each subset holds k members);
    pass ``baselines`` ``(G,)`` when it was estimated separately. ``scale="sum"`` multiplies
    by C(N-1, k-1), the number of subsets containing i.
    """
    if baselines is None:
        masked = torch.where(valid, conditional_means, torch.zeros_like(conditional_means))
        baselines = masked.sum(1) / valid.sum(1).clamp(min=1)
    advantages = conditional_means - baselines[:, None]
    if scale == "sum":
        n, k = sizes.double(), set_sizes.double()
        count = torch.exp(torch.lgamma(n) - torch.lgamma(k) - torch.lgamma((n - k + 1).clamp(min=1)))
        advantages = advantages * count[:, None]
    informative = (sizes > set_sizes)[:, None] & valid
    return torch.where(informative, advantages, torch.zeros_like(advantages))


def diversity_bonus_advantages(
    rewards: Tensor, strategies: Tensor, valid: Tensor, sizes: Tensor, weight: float
) -> Tensor:
    """The GRPO+DIV baseline: GRPO (no std division) on a reward with a rarity bonus.

        r'_i = r_i + weight * d_i,   d_i = (N / m_i - 1) / (N - 1),   A_i = r'_i - mean_j r'_j

    where m_i is the number of members of the group sharing i's strategy: d_i = 1 for a strategy
    of its own, 0 when the whole group shares it. A degenerate response (strategy -1) gets
    d_i = 0. A group of size 1 gets advantage 0. Shapes as above; returns ``(G, N)`` float64.
    """
    r = torch.where(valid, rewards.double(), torch.zeros_like(rewards, dtype=torch.float64))
    member = strategy_membership(strategies, valid)
    own_class_size = torch.einsum("gnc,gc->gn", member, member.sum(1))
    n = sizes.double()[:, None]
    bonus = (n / own_class_size.clamp(min=1) - 1) / (n - 1).clamp(min=1)
    bonus = torch.where(own_class_size > 0, bonus, torch.zeros_like(bonus))
    shaped = torch.where(valid, r + weight * bonus, torch.zeros_like(r))
    advantages = shaped - (shaped.sum(1) / sizes.double().clamp(min=1))[:, None]
    informative = (sizes > 1)[:, None] & valid
    return torch.where(informative, advantages, torch.zeros_like(advantages))


def custom_conditional_means(
    set_function: SetFunction,
    rewards: Tensor,
    strategies: Tensor,
    valid: Tensor,
    sizes: Tensor,
    set_sizes: Tensor,
    group_seeds: Sequence[int],
    max_enumerated_subsets: int,
    num_sampled_subsets: int,
) -> tuple[Tensor, Tensor]:
    """E[f | i in S] and the baseline E[f] for a user set function, per group.

    ``set_function(rewards, strategies)`` takes ``(num_subsets, k)`` float64 rewards and int64
    strategies (-1 degenerate) and returns ``(num_subsets,)`` scores. A group with
    C(N, k) <= ``max_enumerated_subsets`` is enumerated (exact). Otherwise each member gets
    ``num_sampled_subsets`` subsets drawn uniformly among those containing it, and the baseline
    an independent sample of ``N * num_sampled_subsets`` uniform subsets: both estimates are
    unbiased, so the advantages are too (they need not sum to exactly 0). Sampling is seeded
    per group by ``group_seeds``. Returns ``(G, N)`` means and ``(G,)`` baselines.
    """
    means = torch.zeros(rewards.shape, dtype=torch.float64, device=rewards.device)
    baselines = torch.zeros(rewards.shape[0], dtype=torch.float64, device=rewards.device)
    for g in range(rewards.shape[0]):
        n, k = int(sizes[g]), int(set_sizes[g])
        if n <= k:
            continue
        members = valid[g].nonzero(as_tuple=True)[0]
        r, s = rewards[g, members].double(), strategies[g, members]

        def score(subsets: Tensor) -> Tensor:
            values = torch.as_tensor(set_function(r[subsets], s[subsets]), dtype=torch.float64, device=r.device)
            if values.shape != (subsets.shape[0],):
                raise ValueError(
                    f"custom set objective returned shape {tuple(values.shape)}, expected ({subsets.shape[0]},)"
                )
            return values

        if math.comb(n, k) <= max_enumerated_subsets:
            subsets = torch.tensor(list(itertools.combinations(range(n), k)), device=r.device).reshape(-1, k)
            values = score(subsets)
            hits = torch.zeros(subsets.shape[0], n, dtype=torch.float64, device=r.device)
            hits.scatter_(1, subsets, 1.0)
            means[g, members] = (hits * values[:, None]).sum(0) / hits.sum(0)
            baselines[g] = values.mean()
            continue
        generator = torch.Generator(device="cpu").manual_seed(group_seeds[g])
        with_member = _sample_subsets_containing_each(n, k, num_sampled_subsets, generator).to(r.device)
        means[g, members] = score(with_member.reshape(-1, k)).reshape(n, num_sampled_subsets).mean(1)
        uniform = torch.rand(n * num_sampled_subsets, n, generator=generator).argsort(1)[:, :k].to(r.device)
        baselines[g] = score(uniform).mean()
    return means, baselines


def _sample_subsets_containing_each(n: int, k: int, per_member: int, generator: torch.Generator) -> Tensor:
    """``(n, per_member, k)`` subsets: member i first, then k-1 drawn without replacement from the rest."""
    others = torch.arange(n).repeat(n, 1)
    others = others[others != torch.arange(n)[:, None]].reshape(n, n - 1)
    picks = torch.rand(n, per_member, n - 1, generator=generator).argsort(2)[..., : k - 1]
    chosen = torch.gather(others[:, None, :].expand(n, per_member, n - 1), 2, picks)
    return torch.cat([torch.arange(n)[:, None, None].expand(n, per_member, 1), chosen], dim=2)


def stable_seed(seed: int, key: object) -> int:
    """A seed for ``key`` (a group's uid) that is the same in every process and run."""
    return (seed * 1_000_003 + zlib.crc32(str(key).encode())) % (2**63)
