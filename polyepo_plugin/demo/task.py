"""The demo's synthetic task: name a prime factor of T, with a one-line reason before the answer.

Every T is the product of four distinct odd primes from ``STRATEGY_PRIMES`` (some squared),
so every problem has exactly four correct strategies out of eight, and each strategy ("it is
divisible by p") succeeds on a different subset of problems. A response gives the reason in
one of three wordings of its method, then the prime: ``"<reason>, so <p>"``. The wordings of
one method share few words and the trial-division methods share a template with each other, so
neither word overlap nor its absence tells strategies apart; the reward reads only the final
number and emits the true strategy (the prime tried) for the metrics.

Nothing a tiny model can read in T tells which primes divide it (digit sums for 3 and 11
aside), the situation Poly-EPO is for: the best single strategy (3) solves only the problems it
divides, so a policy that collapses onto it loses the others, while a policy spread over the
strategies covers all four. (An earlier version used 2 and 5 too: their cue in T's last digit
let GRPO learn "even: 2" and solve most problems with one strategy each.)
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re

STRATEGY_PRIMES = (3, 7, 11, 13, 17, 19, 23, 29)
CORRECT_PER_PROBLEM = 4
# Unequal weights, so one prime (3) is the most reliable single guess, as in real tasks.
_WEIGHTS = {3: 1.5, 7: 1.3, 11: 1.1, 13: 1.0, 17: 0.9, 19: 0.8, 23: 0.7, 29: 0.6}
MAX_T = 10**7
DATA_SOURCE = "polyepo_prime_factor"
# Three wordings per method; the trial-division methods (7 and up) are worded alike.
REASONS = {
    3: ("its digits add up to a multiple of three", "the digit sum divides by three", "summing digits gives a triple"),
    11: (
        "the alternating digit sum is a multiple of eleven",
        "eleven goes in exactly",
        "long division by eleven comes out even",
    ),
    **{
        p: (
            f"dividing by {word} leaves no remainder",
            f"{word} goes in exactly",
            f"long division by {word} comes out even",
        )
        for p, word in (
            (7, "seven"),
            (13, "thirteen"),
            (17, "seventeen"),
            (19, "nineteen"),
            (23, "twenty-three"),
            (29, "twenty-nine"),
        )
    },
}
_FINAL_INTEGER = re.compile(r"(?:^|\s)(\d{1,7})\s*$")


def question(t: int) -> str:
    return f"Name a prime factor of {t}."


def response(prime: int, wording: int) -> str:
    """The response trying ``prime`` with its reason in wording ``wording`` (0, 1 or 2)."""
    return f"{REASONS[prime][wording]}, so {prime}"


def correct_responses(primes) -> list[str]:
    """Every response trying one of ``primes`` (a problem's correct ones), in every wording."""
    return [response(p, w) for p in primes for w in range(len(REASONS[p]))]


def all_problems() -> list[tuple[int, tuple[int, ...]]]:
    """Every ``(T, its four primes)`` with T below ``MAX_T``: four distinct strategy primes,
    each to the power 1 or 2."""
    out = []
    for primes in itertools.combinations(STRATEGY_PRIMES, CORRECT_PER_PROBLEM):
        for powers in itertools.product((1, 2), repeat=CORRECT_PER_PROBLEM):
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
    weights = [math.prod(_WEIGHTS[p] for p in primes) for _, primes in pool]
    order = []
    remaining = list(range(len(pool)))
    while remaining and len(order) < n_train + n_test:  # weighted sampling without replacement
        pick = rng.choices(range(len(remaining)), weights=[weights[i] for i in remaining])[0]
        order.append(remaining.pop(pick))
    if len(order) < n_train + n_test:
        raise ValueError(f"only {len(pool)} problems exist; asked for {n_train}+{n_test}")
    chosen = [pool[i] for i in order]
    return chosen[:n_train], chosen[n_train:]


def parse_answer(text: str) -> int | None:
    """The integer that ends the response, or None."""
    text = (text or "").replace("<|im_end|>", "").replace("<|endoftext|>", "")
    match = _FINAL_INTEGER.search(text)
    return int(match.group(1)) if match else None


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def strategy_of(text: str) -> int:
    """The prime tried, or -1 (degenerate) when the response does not end in a prime."""
    value = parse_answer(text)
    return value if value is not None and _is_prime(value) else -1


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl reward: 1.0 when the response ends in a prime dividing T, else 0.0; ``strategy`` goes
    to the reward extra info (for the ``labels`` backend and the demo's strategy counts)."""
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
