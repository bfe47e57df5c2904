"""Time the poly_epo estimator against verl's own grpo and grpo_vectorized on one batch.

    python benchmarks/bench_estimator.py [--prompts 1024] [--response-length 512] [--repeats 15]
                                         [--labels strings|strings+none|ints] [--threads T]
                                         [--sizes 8,4 16,8 32,16]

All estimators run in the same process on the same inputs (1024 prompts, response length 512,
(N, k) = (8, 4), (16, 8), (32, 16) unless ``--sizes`` says otherwise), their repeats interleaved so that a load change on the
machine hits all of them alike, each timed as its best repeat; the figures that matter are the
ratios (target: poly_epo at most 1.5x grpo_vectorized). poly_epo uses the ``labels`` backend,
with inputs as verl passes them: uids are uuid strings and the strategy labels a numpy object
array of Python strings (``"strategy-3"``; ``strings+none`` marks some responses degenerate
with None, ``ints`` passes an int64 array). The last columns say what enumerating every size-k
subset would cost, extrapolated from timing the enumerating path (custom objective) on a few
groups.

On a machine whose cores are all busy with other work, run with ``OMP_WAIT_POLICY=passive`` (or
``--threads 1``): torch's OpenMP threads otherwise spin between parallel regions and steal the
main thread's core, which slows an estimator of many small ops (poly_epo) far more than one of
a few large ones (grpo_vectorized), by up to 5x in the ratio.
"""

from __future__ import annotations

import argparse
import math
import time
import uuid

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn

from polyepo_plugin.set_advantage import custom_conditional_means


def make_inputs(prompts: int, n: int, length: int, seed: int = 0, labels: str = "strings"):
    """Rewards, mask, uids and strategy labels of ``prompts`` groups of ``n``, shaped as verl passes them."""
    rng = np.random.default_rng(seed)
    rows = prompts * n
    lengths = torch.as_tensor(rng.integers(length // 4, length + 1, size=rows))
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    token_rewards = torch.zeros(rows, length)
    token_rewards[torch.arange(rows), lengths - 1] = torch.as_tensor(rng.integers(0, 2, size=rows), dtype=torch.float32)
    index = np.repeat(np.array([str(uuid.uuid4()) for _ in range(prompts)], dtype=object), n)
    strategies = rng.integers(-1, 5, size=rows)  # -1: degenerate
    if labels == "ints":
        return token_rewards, mask, index, strategies
    names = [f"strategy-{s}" for s in strategies.tolist()]  # a fresh str object per row, as verl's are
    if labels == "strings+none":
        names = [None if s < 0 else name for s, name in zip(strategies.tolist(), names)]
    return token_rewards, mask, index, np.array(names, dtype=object)


def interleaved_best_seconds(functions: dict, repeats: int) -> dict[str, float]:
    """Best wall time of each function, one call of each per round, after a warm-up round.

    The best of several runs, not the median: on a shared machine other load only ever adds time."""
    for fn in functions.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def estimator_calls(poly_epo, token_rewards, mask, index, strategies, k) -> dict:
    """One call of each estimator on the same batch, as verl makes it (poly_epo: labels backend)."""
    grpo_vectorized = get_adv_estimator_fn("grpo_vectorized")
    config = {"poly_epo": {"set_size": k, "diversity": {"backend": "labels"}}}
    return {
        "grpo": lambda: compute_grpo_outcome_advantage(token_rewards, mask, index, norm_adv_by_std_in_grpo=False),
        "grpo_vectorized": lambda: grpo_vectorized(token_level_rewards=token_rewards, response_mask=mask, index=index),
        "poly_epo": lambda: poly_epo(
            token_level_rewards=token_rewards,
            response_mask=mask,
            index=index,
            config=config,
            non_tensor_batch={"uid": index, "strategy": strategies},
        ),
    }


def poly_epo_estimator():
    """The registered estimator, as verl calls it; the function itself when the plugin is not installed."""
    try:
        return get_adv_estimator_fn("poly_epo")
    except ValueError:
        from polyepo_plugin.estimator import compute_poly_epo_advantage

        return compute_poly_epo_advantage


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
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--labels", choices=["strings", "strings+none", "ints"], default="strings")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument(
        "--sizes", nargs="+", default=["8,4", "16,8", "32,16"], help="group sizes N and set sizes k, as N,k"
    )
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in size.split(",")) for size in args.sizes]
    if args.threads:
        torch.set_num_threads(args.threads)

    poly_epo = poly_epo_estimator()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.prompts} prompts, response length "
        f"{args.response_length}, {args.labels} labels; best of {args.repeats} interleaved repeats"
    )
    header = f"{'N,k':>7} {'grpo ms':>9} {'grpo_vec ms':>12} {'poly_epo ms':>12} {'poly/vec':>9} {'poly/grpo':>10} {'C(N,k)':>14} {'enumerate s':>12}"
    print(header)
    worst = 0.0
    for n, k in sizes:
        token_rewards, mask, index, strategies = make_inputs(args.prompts, n, args.response_length, labels=args.labels)
        timings = interleaved_best_seconds(
            estimator_calls(poly_epo, token_rewards, mask, index, strategies, k), args.repeats
        )
        worst = max(worst, timings["poly_epo"] / timings["grpo_vectorized"])
        enumerate_s = enumeration_seconds_per_group(n, k) * args.prompts
        print(
            f"{n:>3},{k:<3} {timings['grpo'] * 1e3:>9.1f} {timings['grpo_vectorized'] * 1e3:>12.1f} "
            f"{timings['poly_epo'] * 1e3:>12.1f} {timings['poly_epo'] / timings['grpo_vectorized']:>9.2f} "
            f"{timings['poly_epo'] / timings['grpo']:>10.2f} {math.comb(n, k):>14,} {enumerate_s:>12.3g}"
        )
    print(f"largest poly_epo / grpo_vectorized: {worst:.2f}x (target: at most 1.5x)")


if __name__ == "__main__":
    main()
