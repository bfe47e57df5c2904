"""The demo's synthetic task: is T prime? A one-line divisibility test, then the answer, 0 (no).

Every T is the product of four distinct primes from ``STRATEGY_PRIMES`` (some squared), so T is
never prime and every correct response ends in the same final answer, ``0``. The strategies are
in the reasoning only: a response states a divisibility test, and each test finds one prime
(``TESTS``), so it proves T composite only on the problems that prime divides. Every problem has
exactly four correct strategies out of eight, each succeeding on a different subset of problems.
A response is ``"<reason>, so 0"``, the reason one of three wordings of its test.

The reward is the verifier: it knows the test from the reason's wording (an environment's view,
like a proof checker's), scores 1.0 when that test's prime divides T and the answer is 0, and
emits the test's prime as the true ``strategy``. Strategy backends see only the text, where
the final answer tells nothing and no number names a test: the reasons carry no digits, the
three wordings of one test share no word, and a test is a part (each digit, or the last digit
times two, three or four) with an operation (add or subtract), so every word of a reason is
shared by several tests and only the combination names one.

Nothing a tiny model can read in T tells which primes divide it (digit sums, for 3 and 11,
aside), the situation Poly-EPO is for: the most reliable single test (the digit sum, for 3)
succeeds only on the problems 3 divides, so a policy that collapses onto it loses the others,
while a policy spread over the tests covers all four.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re

# A test adds or subtracts (its operation) either each digit in turn or the last digit times a
# multiplier (its part): T = 10a + b is divisible by p iff a + m*b is (10m = 1 mod p) or a - m*b
# is (10m = -1 mod p); digits added find 3 (the digit sum), alternately subtracted 11.
# (part, operation) -> the prime the test finds.
_PRIME_OF_TEST = {
    ("digits", "add"): 3,
    ("digits", "sub"): 11,
    (2, "add"): 19,
    (2, "sub"): 7,
    (3, "add"): 29,
    (3, "sub"): 31,
    (4, "add"): 13,
    (4, "sub"): 41,
}
# A test's phrase names its part and its operation, the same in all three wordings of the test.
_PARTS = {"digits": "digits", 2: "doubled tail", 3: "tripled tail", 4: "quadrupled tail"}
_OPERATIONS = {"add": "added", "sub": "subtracted"}
# Three wordings of a test, each ending in its phrase. Their words appear in no other wording and
# in no phrase, so after any word the next is either fixed or free (any part, any operation):
# a tiny model that tracks little context still writes only valid reasons.
WORDINGS = ("a multiple comes from {phrase}", "the rest divides after {phrase}", "it checks out by {phrase}")
# prime -> its test's three wordings.
TESTS = {
    prime: tuple(wording.format(phrase=f"{_PARTS[part]} {_OPERATIONS[operation]}") for wording in WORDINGS)
    for (part, operation), prime in _PRIME_OF_TEST.items()
}
STRATEGY_PRIMES = tuple(sorted(TESTS))
CORRECT_PER_PROBLEM = 4
ANSWER = 0  # "is T prime?": 1 yes, 0 no; T never is
# Unequal weights, so one test (the digit sum, 3) is the most reliable single guess, as in real tasks.
_WEIGHTS = {3: 1.5, 7: 1.3, 11: 1.1, 13: 1.0, 19: 0.9, 29: 0.8, 31: 0.7, 41: 0.6}
MAX_T = 10**7
DATA_SOURCE = "polyepo_composite_test"
_PRIME_OF_REASON = {reason: prime for prime, reasons in TESTS.items() for reason in reasons}
_RESPONSE = re.compile(r"^\s*(?P<reason>.*?),\s*so\s+(?P<answer>\d{1,7})\s*$", re.DOTALL)
_FINAL_INTEGER = re.compile(r"(?:^|\s)(\d{1,7})\s*$")


def question(t: int) -> str:
    return f"Is {t} prime? Answer 1 for yes, 0 for no."


def response(prime: int, wording: int) -> str:
    """The response using the test that finds ``prime``, in wording ``wording`` (0, 1 or 2)."""
    return f"{TESTS[prime][wording]}, so {ANSWER}"


def correct_responses(primes) -> list[str]:
    """Every response using the test of one of ``primes`` (a problem's correct ones), in every wording."""
    return [response(p, w) for p in primes for w in range(len(TESTS[p]))]


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


def strategy_of(text: str) -> int:
    """The prime whose test the reason states word for word, or -1 (degenerate): a reason the
    verifier cannot read, or no ``", so <answer>"`` ending."""
    match = _RESPONSE.match(_clean(text))
    return _PRIME_OF_REASON.get(match.group("reason").strip(), -1) if match else -1


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl reward: 1.0 when the reason's test finds a prime dividing T and the answer is 0, else
    0.0; ``strategy`` (the test's prime) goes to the reward extra info, for the ``labels``
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
