"""Wall time of one step's judge labelling against a local server that answers after a delay.

    python benchmarks/bench_judge.py [--groups 128] [--responses 8] [--delay 0.2] [--concurrency 32]
        [--response-chars 16000]

The server is the tests' fake judge (a real HTTP server on 127.0.0.1) in a process of its own.
Sent one by one, the requests would take groups x delay seconds; the backend sends them
concurrently. Each response is --response-chars long (the paper's judge setting sends 16,000
characters); the CPU time of this process (rendering the requests, sending them, reading the
answers) is what the judge costs the node computing advantages.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from polyepo_plugin.config import JudgeOptions
from polyepo_plugin.diversity.judge import JudgeClient, load_template, render_request

FAKE_JUDGE = Path(__file__).resolve().parents[1] / "tests" / "fake_judge.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=128)
    parser.add_argument("--responses", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--response-chars", type=int, default=16000)
    args = parser.parse_args()
    filler = "we expand and simplify the expression. "
    repeats = args.response_chars // len(filler) + 1

    cpu_start = time.process_time()
    template = load_template(None)
    words = ["algebra", "casework", "geometry", "induction"]
    requests = [
        (
            render_request(
                template,
                f"Problem {g}: find all real x with x^2 - {g}x + 1 = 0.",
                [
                    f"{words[(g + r) % 4]} step {r}: " + filler * repeats
                    for r in range(args.responses)
                ],
                args.response_chars,
            ),
            args.responses,
        )
        for g in range(args.groups)
    ]
    server = subprocess.Popen([sys.executable, str(FAKE_JUDGE), str(args.delay)], stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        client = JudgeClient(JudgeOptions(base_url=base_url, max_concurrency=args.concurrency))
        start = time.perf_counter()
        outcomes = client.label_all(requests)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    finally:
        server.kill()
    failed = sum(outcome.labels is None for outcome in outcomes)
    print(
        f"{args.groups} groups x {args.responses} responses, server delay {args.delay * 1e3:.0f} ms, "
        f"concurrency {args.concurrency}: {wall:.2f} s wall ({failed} failed; one by one: "
        f"{args.groups * args.delay:.1f} s; ideal: {args.groups / args.concurrency * args.delay:.2f} s); "
        f"{args.response_chars} characters a response: {cpu:.2f} s of CPU in this process"
    )


if __name__ == "__main__":
    main()
