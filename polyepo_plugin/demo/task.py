"""The demo's synthetic task: name a prime factor of T.

Every T is the product of three distinct primes from ``STRATEGY_PRIMES`` (some squared), so
every problem has exactly three correct strategies out of eight, and each strategy ("it is
divisible by p") succeeds on a different subset of problems. The response is the prime alone,
so its strategy is read off the response and its correctness checked by a division.

The prompt carries partial information about which strategies work: T's last digit tells
whether 2 and 5 divide it; nothing a tiny model can read tells 3, 7, 11, 13, 17 or 19 apart
(digit sums for 3 aside). Where neither 2 nor 5 divides T, picking any one prime is right
about half the time, so a policy that collapses onto one prime loses coverage there, while a
policy spread over the hidden primes can cover all three.
"""

from __future__ import annotations

import itertools
import os
import random
import re

STRATEGY_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19)
# Unequal weights, so one hidden prime (3) is the most reliable single guess, as in real tasks.
_WEIGHTS = {2: 1.0, 3: 1.4, 5: 1.0, 7: 1.2, 11: 0.9, 13: 0.8, 17: 0.7, 19: 0.6}
MAX_T = 10**6
DATA_SOURCE = "polyepo_prime_factor"
_INTEGER = re.compile(r"^\s*(\d{1,7})\s*$")


def question(t: int) -> str:
    return f"Name a prime factor of {t}."


def all_problems() -> list[tuple[int, tuple[int, ...]]]:
    """Every ``(T, its three primes)`` with T below ``MAX_T``: three distinct strategy primes,
    each to the power 1 or 2."""
    out = []
    for primes in itertools.combinations(STRATEGY_PRIMES, 3):
        for powers in itertools.product((1, 2), repeat=3):
            t = 1
            for p, e in zip(primes, powers):
                t *= p**e
            if t < MAX_T:
                out.append((t, primes))
    return sorted(out)


def split_problems(n_train: int, n_test: int, seed: int) -> tuple[list, list]:
    """Disjoint train / held-out problems (distinct T), each drawn with the prime weights."""
    rng = random.Random(seed)
    pool = all_problems()
    weights = [_WEIGHTS[a] * _WEIGHTS[b] * _WEIGHTS[c] for _, (a, b, c) in pool]
    order = []
    remaining = list(range(len(pool)))
    while remaining and len(order) < n_train + n_test:  # weighted sampling without replacement
        pick = rng.choices(range(len(remaining)), weights=[weights[i] for i in remaining])[0]
        order.append(remaining.pop(pick))
    if len(order) < n_train + n_test:
        raise ValueError(f"only {len(pool)} problems exist; asked for {n_train}+{n_test}")
    chosen = [pool[i] for i in order]
    return chosen[:n_train], chosen[n_train:]


def parse_answer(response: str) -> int | None:
    text = (response or "").replace("<|im_end|>", "").replace("<|endoftext|>", "")
    match = _INTEGER.match(text)
    return int(match.group(1)) if match else None


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def strategy_of(response: str) -> int:
    """The prime tried, or -1 (degenerate) when the response is not a prime."""
    value = parse_answer(response)
    return value if value is not None and _is_prime(value) else -1


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl reward: 1.0 when the response is a prime dividing T, else 0.0; ``strategy`` goes to
    the reward extra info (for the ``labels`` backend and the demo's strategy counts)."""
    strategy = strategy_of(solution_str)
    correct = strategy > 0 and int(ground_truth) % strategy == 0
    return {"score": 1.0 if correct else 0.0, "strategy": strategy}


def write_parquet(problems, path: str, split: str) -> str:
    import pandas as pd

    rows = [
        {
            "data_source": DATA_SOURCE,
            "prompt": [{"role": "user", "content": question(t)}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": str(t)},
            "extra_info": {"split": split, "index": i, "primes": list(primes)},
        }
        for i, (t, primes) in enumerate(problems)
    ]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path
