"""Final-answer removal time against the response's length: linear, as one line or as many.

    python benchmarks/bench_final_answer.py [--lengths 25000 50000 100000 200000] [--seed 0] [--repeats 3]

Builds a response of worked steps (equations, "so", "the answer is", ``\\boxed{}``, Chinese
closes) drawn with ``--seed``, cut to each length, once with no line breaks and once a step a
line, and times ``without_final_answer`` (best of ``--repeats``). Prints seconds per length and
the ratio to the previous length: ~2 per doubling is linear, ~4 quadratic (the removal before
issue 27 was quadratic in a line's length: 30.8k characters 27.9 s, 136k characters 220 s).
Then the cost in a paper-scale step: the long responses of ``benchmarks/data/strategy_sets``
joined into 4k-token responses (16k characters), milliseconds per response and seconds per
1024 of them.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from polyepo_plugin.diversity.final_answer import without_final_answer

SETS = Path(__file__).resolve().parent / "data" / "strategy_sets" / "strategy_sets.json"
PAPER_STEP = 1024  # responses: 128 prompts x 8

STEPS = [
    "we add {a} and {b} to get {c}",
    "so {a} + {b} = {c}",
    "the answer is {c} for this part",
    "which gives \\boxed{{{c}}} here",
    "所以答案是 {c}",
    "multiply {a} by {b}, then subtract {c}",
    "the result is symmetric in {a} and {b}",
]


def response(length: int, separator: str, rng: random.Random) -> str:
    steps, size = [], 0
    while size < length:
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        steps.append(rng.choice(STEPS).format(a=a, b=b, c=a + b))
        size += len(steps[-1]) + len(separator)
    return separator.join(steps)[:length] + f"{separator}so the final answer is {rng.randint(1, 99)}."


def seconds(text: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        without_final_answer(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name, separator in (("one line", ", "), ("many lines", ".\n")):
        rng = random.Random(args.seed)
        previous = None
        for length in args.lengths:
            elapsed = seconds(response(length, separator, rng), args.repeats)
            ratio = f"  x{elapsed / previous:.2f} over the previous length" if previous else ""
            print(f"{name:10s} {length:8d} characters  {elapsed:.3f} s{ratio}")
            previous = elapsed
    written = [response["long"] for response in json.loads(SETS.read_text())["responses"]]
    joined, start = [], 0
    while len(joined) < 64:  # 64 responses of 16k characters, from consecutive written ones
        text = ""
        while len(text) < 16_000:
            text += written[start % len(written)] + "\n\n"
            start += 1
        joined.append(text)
    per_response = min(seconds_all(joined) for _ in range(args.repeats)) / len(joined)
    print(f"paper-scale: {per_response * 1000:.1f} ms per 16k-character response, {per_response * PAPER_STEP:.1f} s per {PAPER_STEP}")


def seconds_all(texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        without_final_answer(text)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
