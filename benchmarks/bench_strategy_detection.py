"""How well text backends recover reasoning strategies from paraphrased responses, and at what cost.

    python benchmarks/bench_strategy_detection.py [--part dev|test|both] [--forms short long]
        [--timing-groups 12] [--repeats 3] [--timing-only] [--quick] [--json FILE]

Data: ``benchmarks/data/strategy_sets/strategy_sets.json`` (see the README there): groups of 8
responses with known strategies, every response in a SHORT and a LONG (chain-of-thought) form,
families split into a dev and a test part. Per part, form, backend and setting it prints

- ARI: adjusted Rand index between the labels and the true strategies, averaged over the
  groups with at least 2 true strategies;
- P / R: pairwise "same strategy" precision and recall over all pairs of all groups;
- degen: share of the groups with 2-4 true strategies labelled all-one or all-distinct;

then, on the first ``--timing-groups`` test groups of each form (best of ``--repeats`` runs),
seconds per group of 8 on this CPU, throughput in MiniLM word pieces read per second, and the
projected labelling time of a paper-scale step (128 groups x 8 responses x 4096 tokens, counting
one policy token as one word piece; ``embedding`` reads only the first 254 word pieces of each
response), plus the one-time cost of the static encoder's table. Timings are wall clock on
whatever else the machine is running: the load average is printed with them.

Backends: ``ngram`` and ``embedding`` through ``polyepo_plugin.strategies.label_strategies``
(while scoring, the model's ``encode`` is memoised per text so that each response is embedded
once for all thresholds; timings run without the memo), and ``text_clusters``
(``polyepo_plugin.diversity.text_clusters``): for scoring, each unique response of a part is
embedded once per encoder, in one call (so the static encoder's IDF is over the part's
responses, like a training step's batch), then every group is clustered with each setting;
timings call ``label_texts`` on the groups. Settings were chosen on the dev part only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from polyepo_plugin.diversity import text_clusters as tc
from polyepo_plugin.diversity.agreement import agreement_with_truth
from polyepo_plugin.diversity.embedding import load_model
from polyepo_plugin.strategies import label_strategies

DATA = Path(__file__).resolve().parent / "data" / "strategy_sets" / "strategy_sets.json"
PAPER_RESPONSES, PAPER_TOKENS = 128 * 8, 4096
EMBEDDING_WINDOW = 254  # word pieces the embedding backend reads (256 minus [CLS] and [SEP])

# (label, encoder, cluster_group options); the first row is the proposed default
TEXT_CLUSTER_SETTINGS = [
    ("contextual (default)", "contextual", {}),
    ("contextual thr=0", "contextual", {"threshold": 0.0}),
    ("contextual thr=0.25", "contextual", {"threshold": 0.25}),
    ("contextual numbers_weight=0.3", "contextual", {"numbers_weight": 0.3}),
    ("contextual numbers_weight=0.7", "contextual", {"numbers_weight": 0.7}),
    ("contextual no numbers", "contextual", {"numbers_weight": 0.0}),
    ("contextual plain-mean centring", "contextual", {"bandwidth": 1e3}),
    ("static", "static", {}),
    ("static thr=0.25", "static", {"threshold": 0.25}),
    ("static no numbers", "static", {"numbers_weight": 0.0}),
]
QUICK_SETTINGS = {"contextual (default)", "contextual no numbers", "static"}
EMBEDDING_THRESHOLDS = [0.8, 0.7, 0.9]  # the first is the backend's default


def scores(predicted: list[list[int]], groups: list[dict]) -> dict:
    return agreement_with_truth(predicted, [g["strategies"] for g in groups])


class MemoisedEncode:
    """Wraps ``model.encode`` so that each distinct text is embedded once (results per text)."""

    def __init__(self, model):
        self.model, self.original, self.cache = model, model.encode, {}

    def __enter__(self):
        def encode(texts, **kwargs):
            missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
            if missing:
                self.cache.update(zip(missing, self.original(missing, **kwargs)))
            return np.stack([self.cache[t] for t in texts])

        self.model.encode = encode
        return self

    def __exit__(self, *exc):
        self.model.encode = self.original


def word_pieces(model, texts: list[str]) -> list[int]:
    return [len(ids) for ids in model.tokenizer(texts, add_special_tokens=False)["input_ids"]]


def evaluate_part(part: str, forms: list[str], data: dict, model, settings) -> list[tuple]:
    responses = {r["id"]: r for r in data["responses"]}
    groups = [g for g in data["groups"] if g["part"] == part]
    rows = []
    for form in forms:
        texts = [[responses[r][form] for r in g["responses"]] for g in groups]
        rows.append(
            (part, form, "ngram", "n=3 thr=0.4 (default)", scores(label_strategies(texts, backend="ngram"), groups))
        )
        with MemoisedEncode(model):
            for threshold in EMBEDDING_THRESHOLDS:
                labels = label_strategies(texts, backend="embedding", threshold=threshold)
                name = f"thr={threshold}" + (" (default)" if threshold == 0.8 else "")
                rows.append((part, form, "embedding", name, scores(labels, groups)))
        unique = sorted({r for g in groups for r in g["responses"]})
        index = {r: k for k, r in enumerate(unique)}
        vectors = {}
        for label, encoder, options in settings:
            if encoder not in vectors:
                vectors[encoder] = tc.embed_responses([responses[r][form] for r in unique], model, encoder=encoder)
            labels = [
                tc.cluster_group(vectors[encoder][[index[r] for r in g["responses"]]], t, **options)
                for g, t in zip(groups, texts)
            ]
            rows.append((part, form, "text_clusters", label, scores(labels, groups)))
    return rows


def timing(data: dict, forms: list[str], model, count: int, repeats: int) -> list[tuple]:
    """Seconds per group (best of ``repeats``) and word pieces read per second on the first ``count`` test groups.

    The best of several runs is also the warm one for ``static`` (its table rows built by the first run),
    as in a trainer that labels step after step."""
    responses = {r["id"]: r for r in data["responses"]}
    groups = [g for g in data["groups"] if g["part"] == "test"][:count] or data["groups"][:count]
    out = []
    for form in forms:
        texts = [[responses[r][form] for r in g["responses"]] for g in groups]
        flat = [t for group in texts for t in group]
        pieces = word_pieces(model, flat)
        read_all, read_window = sum(pieces), sum(min(p, EMBEDDING_WINDOW) for p in pieces)
        runs = [
            ("ngram", "default", (label_strategies, texts), {"backend": "ngram"}, read_all, PAPER_TOKENS),
            (
                "embedding",
                "default",
                (label_strategies, texts),
                {"backend": "embedding"},
                read_window,
                EMBEDDING_WINDOW,
            ),
            ("text_clusters", "contextual", (tc.label_texts, texts, model), {}, read_all, PAPER_TOKENS),
            ("text_clusters", "static", (tc.label_texts, texts, model), {"encoder": "static"}, read_all, PAPER_TOKENS),
        ]
        for backend, setting, (fn, *args), kwargs, read, per_response in runs:
            seconds = min(timed(fn, *args, **kwargs) for _ in range(repeats))
            rate = read / seconds
            projected = PAPER_RESPONSES * per_response / rate
            out.append((form, backend, setting, seconds / len(groups), rate, projected, float(np.mean(pieces))))
    return out


def timed(fn, *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def static_table_cost(model, repeats: int) -> tuple[float, int]:
    """Seconds to build the static table rows of the whole vocabulary from scratch (best of
    ``repeats``, each timed on 16 blocks and scaled), and the vocabulary's block count."""
    blocks = -(-len(model.tokenizer) // tc.STATIC_BLOCK)
    sample = [b * tc.STATIC_BLOCK for b in range(blocks - 16, blocks)]
    best = math.inf
    for _ in range(repeats):
        table = tc._static_tables.pop(model, None)
        best = min(best, timed(tc.static_table, model, sample) / 16)
        if table is not None:
            tc._static_tables[model] = table
    return best * blocks, blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--forms", nargs="+", choices=["short", "long"], default=["short", "long"])
    parser.add_argument("--timing-groups", type=int, default=12, help="groups timed per form (0: no timing)")
    parser.add_argument("--quick", action="store_true", help="only the main text_clusters settings")
    parser.add_argument("--timing-only", action="store_true", help="skip the scores")
    parser.add_argument("--repeats", type=int, default=3, help="timings are the best of this many runs")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = json.loads(DATA.read_text())
    model = load_model("all-MiniLM-L6-v2", "cpu")  # the embedding backend's (cached) model, shared
    settings = [s for s in TEXT_CLUSTER_SETTINGS if not args.quick or s[0] in QUICK_SETTINGS]
    parts = ["dev", "test"] if args.part == "both" else [args.part]
    counts = {p: sum(g["part"] == p for g in data["groups"]) for p in parts}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; groups per part {counts}")

    rows = []
    for part in [] if args.timing_only else parts:
        rows += evaluate_part(part, args.forms, data, model, settings)
    header = f"{'part':<5} {'backend':<14} {'setting':<32}"
    for form in args.forms:
        header += f" | {form:<5} {'ARI':>5} {'P':>5} {'R':>5} {'degen':>5}"
    print(header)
    print("-" * len(header))
    for part in [] if args.timing_only else parts:
        keys = list(dict.fromkeys((b, s) for p, _, b, s, _ in rows if p == part))
        for backend, setting in keys:
            line = f"{part:<5} {backend:<14} {setting:<32}"
            for form in args.forms:
                (m,) = [m for p, f, b, s, m in rows if (p, f, b, s) == (part, form, backend, setting)]
                line += f" | {'':<5} {m['ari']:5.2f} {m['precision']:5.2f} {m['recall']:5.2f} {m['degenerate']:5.2f}"
            print(line)

    timings = []
    if args.timing_groups:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        timings = timing(data, args.forms, model, args.timing_groups, args.repeats)
        table_seconds, blocks = static_table_cost(model, args.repeats)
        print(
            f"\ntiming: {args.timing_groups} test groups per form, best of {args.repeats} "
            f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs)"
        )
        print(f"{'form':<5} {'backend':<14} {'setting':<12} {'s/group':>8} {'pieces/s':>9} {'paper step':>11}")
        for form, backend, setting, per_group, rate, projected, mean_pieces in timings:
            print(
                f"{form:<5} {backend:<14} {setting:<12} {per_group:8.3f} {rate:9.0f} {projected:9.0f} s"
                f"   (mean {mean_pieces:.0f} word pieces/response)"
            )
        print(
            "paper step = 1024 responses x 4096 word pieces (embedding: x 254) at the measured rate; static "
            f"excludes its table: {blocks} blocks of {tc.STATIC_BLOCK} word pieces, about {table_seconds:.0f} s "
            "once per process (rows are built only for the blocks a step needs)"
        )
    if args.json:
        args.json.write_text(json.dumps({"scores": rows, "timing": timings}, indent=1, default=str))


if __name__ == "__main__":
    main()
