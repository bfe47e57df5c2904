"""Labelling throughput of the strategy backends on CPU, in responses per second.

    python benchmarks/bench_backends.py [--groups 128] [--responses 8] [--words 290]
        [--backends ngram embedding answer] [--device cpu]

Synthetic groups: each response is one of three ~300-token "method" paragraphs, each method
drawn from its own third of a small vocabulary, with 10% of its words replaced at random (how
many clusters a backend finds depends on its threshold). The backends see what they see in
training: ``ngram`` the token ids under the response mask, the text backends the decoded
responses (decoding itself is not timed). Default options of each backend; ``--device`` is the
embedding model's. The model's one-time load is reported apart. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from polyepo_plugin.config import parse_config
from polyepo_plugin.diversity import make_backend
from polyepo_plugin.diversity.embedding import load_model
from polyepo_plugin.diversity.strategies import response_groups

WORDS = (
    "let x be the number so we add subtract multiply divide both sides by two three four equation solve root "
    "factor square prime sum product term sequence induction case even odd triangle angle area circle radius "
    "therefore hence thus because since then we get obtain answer check verify substitute value integer"
).split()


def synthetic_groups(groups: int, responses: int, words: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(groups):
        pools = np.array_split(rng.permutation(WORDS), 3)
        methods = [rng.choice(pool, size=words) for pool in pools]
        for _ in range(responses):
            text = methods[rng.integers(3)].copy()
            swap = rng.random(words) < 0.1
            text[swap] = rng.choice(WORDS, size=int(swap.sum()))
            texts.append(" ".join(text) + f". The answer is \\boxed{{{rng.integers(5)}}}.")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=128)
    parser.add_argument("--responses", type=int, default=8)
    parser.add_argument("--words", type=int, default=290, help="words per response (about one token each)")
    parser.add_argument("--backends", nargs="+", default=["ngram", "embedding"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="device of the embedding model")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    texts = synthetic_groups(args.groups, args.responses, args.words)
    groups = response_groups([texts[i : i + args.responses] for i in range(0, len(texts), args.responses)])
    rows, mask = len(texts), groups.response_mask
    shape = (
        f"{args.groups} groups x {args.responses} responses, {mask.sum(1).mean():.0f} tokens each (word-level tokens)"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {shape}")
    for backend_name in args.backends:
        diversity = {"backend": backend_name, "embedding": {"device": args.device}}
        config = parse_config({"poly_epo": {"diversity": diversity}}).diversity
        backend = make_backend(config)
        if backend_name == "embedding":
            started = time.perf_counter()
            load_model(config.embedding.model, config.embedding.device)
            print(f"embedding: model load {time.perf_counter() - started:.1f} s (once per process)")
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            labels = backend.assign(groups).labels
            seconds.append(time.perf_counter() - started)
        best = min(seconds)
        distinct = np.mean([len(set(labels[i : i + args.responses]) - {-1}) for i in range(0, rows, args.responses)])
        print(
            f"{backend_name:>10}: {best:7.2f} s for {rows} responses = {rows / best:8.0f} responses/s "
            f"(best of {args.repeats}; {distinct:.2f} strategies per group)"
        )


if __name__ == "__main__":
    main()
