"""Time the poly_epo estimator against verl's own grpo and grpo_vectorized on one batch.

    python benchmarks/bench_estimator.py [--prompts 1024] [--response-length 512] [--repeats 7]

All estimators run in the same process on the same inputs (1024 prompts, response length 512,
(N, k) = (8, 4), (16, 8), (32, 16)); the figures that matter are the ratios. poly_epo uses the
``labels`` backend (strategies from reward extra info, as a reward function emits them). The
last columns say what enumerating every size-k subset would cost, extrapolated from timing the
enumerating path (custom objective) on a few groups.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import uuid

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn

from polyepo_plugin.set_advantage import custom_conditional_means


def make_inputs(prompts: int, n: int, length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = prompts * n
    lengths = torch.as_tensor(rng.integers(length // 4, length + 1, size=rows))
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    token_rewards = torch.zeros(rows, length)
    token_rewards[torch.arange(rows), lengths - 1] = torch.as_tensor(rng.integers(0, 2, size=rows), dtype=torch.float32)
    index = np.repeat(np.array([str(uuid.uuid4()) for _ in range(prompts)], dtype=object), n)
    strategies = rng.integers(-1, 5, size=rows)
    return token_rewards, mask, index, strategies


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def enumeration_seconds_per_group(n: int, k: int, groups: int = 4) -> float:
    """Seconds to score every subset of one group, timed at (n, k) or extrapolated per subset."""
    probe_k = k if math.comb(n, k) <= 20_000 else min(k, 4)
    rewards = torch.rand(groups, n, dtype=torch.float64)
    strategies = torch.randint(0, 5, (groups, n))
    valid = torch.ones(groups, n, dtype=torch.bool)

    def poly(r, s):
        ordered = s.sort(1).values
        starts = torch.cat([torch.ones_like(ordered[:, :1], dtype=torch.bool), ordered[:, 1:] != ordered[:, :-1]], 1)
        return r.mean(1) * starts.sum(1).double() / r.shape[1]

    start = time.perf_counter()
    custom_conditional_means(
        poly,
        rewards,
        strategies,
        valid,
        torch.full((groups,), n),
        torch.full((groups,), probe_k),
        [0] * groups,
        10**9,
        1,
    )
    per_group = (time.perf_counter() - start) / groups
    return per_group * math.comb(n, k) / math.comb(n, probe_k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1024)
    parser.add_argument("--response-length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    grpo_vectorized = get_adv_estimator_fn("grpo_vectorized")
    poly_epo = get_adv_estimator_fn("poly_epo")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.prompts} prompts, response length {args.response_length}"
    )
    header = f"{'N,k':>7} {'grpo ms':>9} {'grpo_vec ms':>12} {'poly_epo ms':>12} {'poly/vec':>9} {'poly/grpo':>10} {'C(N,k)':>14} {'enumerate s':>12}"
    print(header)
    for n, k in [(8, 4), (16, 8), (32, 16)]:
        token_rewards, mask, index, strategies = make_inputs(args.prompts, n, args.response_length)
        config = {"poly_epo": {"set_size": k, "diversity": {"backend": "labels"}}}
        extras = {"non_tensor_batch": {"uid": index, "strategy": strategies}}
        timings = {
            "grpo": median_seconds(
                lambda: compute_grpo_outcome_advantage(token_rewards, mask, index, norm_adv_by_std_in_grpo=False),
                args.repeats,
            ),
            "grpo_vectorized": median_seconds(
                lambda: grpo_vectorized(token_level_rewards=token_rewards, response_mask=mask, index=index),
                args.repeats,
            ),
            "poly_epo": median_seconds(
                lambda: poly_epo(
                    token_level_rewards=token_rewards, response_mask=mask, index=index, config=config, **extras
                ),
                args.repeats,
            ),
        }
        enumerate_s = enumeration_seconds_per_group(n, k) * args.prompts
        print(
            f"{n:>3},{k:<3} {timings['grpo'] * 1e3:>9.1f} {timings['grpo_vectorized'] * 1e3:>12.1f} "
            f"{timings['poly_epo'] * 1e3:>12.1f} {timings['poly_epo'] / timings['grpo_vectorized']:>9.2f} "
            f"{timings['poly_epo'] / timings['grpo']:>10.2f} {math.comb(n, k):>14,} {enumerate_s:>12.3g}"
        )


if __name__ == "__main__":
    main()
