"""The demo's synthetic task: is T prime? A one-line method, then the answer, 0 (no).

Every T is the product of four distinct odd primes from ``STRATEGY_PRIMES`` (some squared), so
T is never prime and **every correct response ends in the same final answer**, ``0``. The
strategies are in the reasoning only: a response names a method for finding a factor in one of
three wordings, ``"<reason>, so 0"``, and each method finds one prime (``METHODS``), so it shows
T composite only on the problems that prime divides. Every problem has exactly four correct
methods out of eight, each succeeding on a different subset of problems.

The reward is the verifier: it knows the method from the reason's wording (the environment's
side, as a proof checker would), scores 1.0 when the method's prime divides T and the answer is
0, and emits the method's prime as the true ``strategy``. Strategy backends see only the text.
Each method has its own vocabulary, as real methods do (the wordings of a method share one
term, the method's own, and few other words, so surface overlap alone does not link them); the
reasons hold no numbers, in digits or in words, and the final answer is the same for every
method, so neither tells strategies apart.

Nothing a tiny model can read in T tells which primes divide it (digit sums, for 3 and 11,
aside), the situation Poly-EPO is for: the most reliable single method (the digit sum, which
finds 3) succeeds only where 3 divides T, so a policy that collapses onto it loses the other
problems, while a policy spread over the methods covers all four.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re

# method -> (the prime it finds, its three wordings). A method's wordings share its own two-word
# term and nothing else beyond a function word; no two methods share a word beyond "a", "the",
# "it", "its", "of", "to", "is", "with" and "out".
METHODS = {
    "digit sum": (3, ("its digit sum is a multiple", "the digit sum divides evenly", "a digit sum test passes")),
    "alternating signs": (
        11,
        ("alternating signs cancel out", "the alternating signs balance", "with alternating signs it levels"),
    ),
    "long division": (
        7,
        ("long division leaves no remainder", "the long division ends clean", "by long division it breaks apart"),
    ),
    "perfect squares": (
        13,
        ("perfect squares subtract to it", "it lies between perfect squares", "a gap of perfect squares gives it"),
    ),
    "factor tree": (
        17,
        ("a factor tree branches early", "the factor tree grows a fork", "drawing its factor tree shows a limb"),
    ),
    "prime sieve": (
        19,
        ("the prime sieve crosses it out", "a prime sieve marks it", "sifting with the prime sieve removes it"),
    ),
    "modular residue": (
        23,
        ("a modular residue vanishes", "the modular residue comes back empty", "its modular residue disappears"),
    ),
    "matched pairs": (
        29,
        ("it forms matched pairs", "matched pairs use everything up", "sorting into matched pairs works"),
    ),
}
# prime -> its method's three wordings.
REASONS = {prime: wordings for prime, wordings in METHODS.values()}
STRATEGY_PRIMES = tuple(sorted(REASONS))
CORRECT_PER_PROBLEM = 4
ANSWER = 0  # "is T prime?": 1 yes, 0 no; T never is
# Unequal weights, so one method (the digit sum, 3) is the most reliable single guess, as in real tasks.
_WEIGHTS = {3: 1.5, 7: 1.3, 11: 1.1, 13: 1.0, 17: 0.9, 19: 0.8, 23: 0.7, 29: 0.6}
MAX_T = 10**7
DATA_SOURCE = "polyepo_composite"
_PRIME_OF_REASON = {reason: prime for prime, reasons in REASONS.items() for reason in reasons}
_RESPONSE = re.compile(r"^\s*(?P<reason>.*?),\s*so\s+(?P<answer>[01])\s*$", re.DOTALL)
_FINAL_INTEGER = re.compile(r"(?:^|\s)(\d{1,7})\s*$")


def question(t: int) -> str:
    return f"Is {t} prime? 1 yes, 0 no."


def response(prime: int, wording: int, answer: int = ANSWER) -> str:
    """The response using the method that finds ``prime``, in wording ``wording`` (0, 1 or 2)."""
    return f"{REASONS[prime][wording]}, so {answer}"


def correct_responses(primes) -> list[str]:
    """Every response using the method of one of ``primes`` (a problem's correct ones), in every wording."""
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


def _clean(text: str) -> str:
    return (text or "").replace("<|im_end|>", "").replace("<|endoftext|>", "")


def parse_answer(text: str) -> int | None:
    """The integer that ends the response, or None."""
    match = _FINAL_INTEGER.search(_clean(text))
    return int(match.group(1)) if match else None


def wording_of(text: str) -> int:
    """Which of its method's three wordings the reason uses (0, 1 or 2), or -1 as ``strategy_of``."""
    match = _RESPONSE.match(_clean(text))
    reason = match.group("reason").strip() if match else ""
    prime = _PRIME_OF_REASON.get(reason)
    return REASONS[prime].index(reason) if prime else -1


def strategy_of(text: str) -> int:
    """The prime of the method the reason states word for word (case too), or -1 (degenerate): a
    reason the verifier cannot read, or no ``", so 0"`` / ``", so 1"`` ending."""
    match = _RESPONSE.match(_clean(text))
    return _PRIME_OF_REASON.get(match.group("reason").strip(), -1) if match else -1


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl reward: 1.0 when the reason's method finds a prime dividing T and the answer is 0,
    else 0.0; ``strategy`` (the method's prime) goes to the reward extra info, for the ``labels``
    backend and the demo's strategy counts."""
    strategy = strategy_of(solution_str)
    correct = strategy > 0 and int(ground_truth) % strategy == 0 and parse_answer(solution_str) == ANSWER
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
