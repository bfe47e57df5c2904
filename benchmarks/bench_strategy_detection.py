"""What each strategy backend pays for: wording or methods, on every text source.

    python benchmarks/bench_strategy_detection.py [--sources NAME ...] [--backends NAME ...]
        [--choose] [--paper-step] [--json FILE] [--markdown FILE]

Poly-EPO pays a response for being a strategy its group lacks, so a labeller is judged the way
the incentive works (sources in ``strategy_sources``: groups of 8 with known strategies, dev and
test parts, ``one`` and ``multi`` groups), per backend and source:

- (i) ``one %``: share of the one-strategy groups (one method, 8 wordings) labelled one strategy,
  and ``|A|``: the mean absolute Poly-EPO advantage paid on them with every reward 1 (default
  options: k = 4 of 8, mean scale). Any split pays for wording; the target is >= 90% and
  ``|A|`` <= 0.01;
- (ii) ARI and pairwise precision / recall on the multi-strategy groups (ARI over the groups
  with >= 2 true strategies);
- (iii) ``corr``: Pearson correlation of the advantages under the backend's labels with those
  under the true strategies, all rewards 1, over the responses of the multi-strategy groups with
  >= 2 true strategies (how much of the true incentive survives).

Every source is labelled in one call per backend, as one training step is (the ``semantic``
backend weighs numbers over the call).

``--choose`` repeats how the ``semantic`` defaults were chosen: a grid of
(``embedding_threshold``, ``numbers_threshold``) scored on the dev part of ``strategy_sets``
only (every form, digits masked too); among the settings with (i) >= 90% on every dev source,
those within ``ARI_TIE`` of the best mean ARI, the lowest ``embedding_threshold`` (the one that
splits least); then the frontier, (i) against ARI for each
``embedding_threshold`` at the chosen ``numbers_threshold``, on every source.
``--paper-step`` times one paper-scale step of the default backend (128 groups x 8 responses of
~4k word pieces) and the final-answer removal of a 100k-character response.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strategy_sources  # noqa: E402

from polyepo_plugin.config import SemanticOptions  # noqa: E402
from polyepo_plugin.diversity import text_clusters as tc  # noqa: E402
from polyepo_plugin.diversity.agreement import agreement_with_truth  # noqa: E402
from polyepo_plugin.diversity.embedding import load_model  # noqa: E402
from polyepo_plugin.diversity.final_answer import without_final_answer  # noqa: E402
from polyepo_plugin.diversity.strategies import label_strategies  # noqa: E402
from polyepo_plugin.set_advantage import marginal_advantages, poly_conditional_means  # noqa: E402

PAPER_GROUPS, PAPER_N, PAPER_TOKENS = 128, 8, 4096
SET_SIZE = 4
ONE_TARGET = 90.0
# backend name -> (label_strategies backend, options)
BACKENDS = {
    "semantic (default)": ("semantic", {}),
    "embedding": ("embedding", {}),
    "ngram": ("ngram", {}),
    "answer": ("answer", {}),
}
GRID_EMBEDDING = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
ARI_TIE = 0.05  # settings this close to the best dev ARI go to the lowest embedding_threshold
GRID_NUMBERS = (0.15, 0.2, 0.25, 0.3)


def all_correct_advantages(labels: list[list[int]]) -> np.ndarray:
    """``(G, 8)`` Poly-EPO advantages with every reward 1 (k = 4 of 8, mean scale)."""
    strategies = torch.tensor(labels)
    g, n = strategies.shape
    valid = torch.ones(g, n, dtype=torch.bool)
    sizes, set_sizes = torch.full((g,), n), torch.full((g,), SET_SIZE)
    means = poly_conditional_means(torch.ones(g, n, dtype=torch.float64), strategies, valid, sizes, set_sizes)
    return marginal_advantages(means, valid, sizes, set_sizes).numpy()


def incentive_scores(groups: list, labels: list[list[int]]) -> dict:
    """(i), (ii), (iii) of the module docstring for one source's groups and their labels."""
    out = {}
    one = [found for g, found in zip(groups, labels) if g.kind == "one"]
    if one:
        out["one_pct"] = 100.0 * float(np.mean([len(set(found)) == 1 for found in one]))
        out["abs_advantage"] = float(np.abs(all_correct_advantages(one)).mean())
    multi = [(g, found) for g, found in zip(groups, labels) if g.kind == "multi"]
    if multi:
        agreement = agreement_with_truth([found for _, found in multi], [g.truth for g, _ in multi])
        out.update(ari=agreement["ari"], precision=agreement["precision"], recall=agreement["recall"])
        varied = [(g, found) for g, found in multi if len(set(g.truth)) > 1]
        predicted = all_correct_advantages([found for _, found in varied]).ravel()
        true = all_correct_advantages([g.truth for g, _ in varied]).ravel()
        out["corr"] = float(np.corrcoef(predicted, true)[0, 1]) if predicted.std() > 0 else 0.0
    return out


def label_source(source, backend: str, options: dict) -> list[list[int]]:
    texts = [g.texts for g in source.groups]
    return label_strategies(texts, [g.prompt for g in source.groups], backend=backend, **options)


def evaluate(sources: list, backends: list[str]) -> list[dict]:
    rows = []
    for source in sources:
        for name in backends:
            backend, options = BACKENDS[name]
            started = time.perf_counter()
            labels = label_source(source, backend, options)
            rows.append(
                {
                    "source": source.name,
                    "part": source.part,
                    "backend": name,
                    "seconds": round(time.perf_counter() - started, 1),
                    **incentive_scores(source.groups, labels),
                }
            )
            print(format_row(rows[-1]), flush=True)
    return rows


def format_row(row: dict) -> str:
    def cell(key, fmt):
        value = row.get(key)
        return format(value, fmt) if value is not None else "-".rjust(len(format(0.0, fmt)))

    return (
        f"{row['source']:<38} {row['part']:<4} {row['backend']:<22} one {cell('one_pct', '5.1f')}% "
        f"|A| {cell('abs_advantage', '.3f')}  ARI {cell('ari', '5.2f')} P {cell('precision', '.2f')} "
        f"R {cell('recall', '.2f')} corr {cell('corr', '5.2f')}"
    )


class Embedded:
    """One source's static reasoning vectors, numbers and weights, computed once for the grid."""

    def __init__(self, source, model):
        self.source = source
        groups = source.groups
        texts = [tc.reasoning_text(t) for g in groups for t in g.texts]
        raw = tc.embed_responses(texts, model, encoder="static")
        self.vectors = tc.without_generic_direction(raw, tc.generic_direction(model))
        self.numbers = [tc.computed_numbers(t, g.prompt) for g in groups for t in g.texts]
        self.weights = tc.number_weights(self.numbers)
        self.blank = [not t.strip() for t in texts]

    def labels(self, **evidence) -> list[list[int]]:
        out, start = [], 0
        for g in self.source.groups:
            stop = start + len(g.texts)
            rows = slice(start, stop)
            out.append(tc.cluster_group(self.vectors[rows], self.numbers[rows], self.weights, self.blank[rows], **evidence))
            start = stop
        return out


def choose(sources: list, model) -> dict:
    """The grid on strategy_sets' dev part, the pick, and the frontier on every source."""
    embedded = {id(s): Embedded(s, model) for s in sources}
    dev = [s for s in sources if s.part == "dev" and s.name.startswith("strategy_sets")]
    grid = []
    for e in GRID_EMBEDDING:
        for n in GRID_NUMBERS:
            scores = [incentive_scores(s.groups, embedded[id(s)].labels(embedding_threshold=e, numbers_threshold=n)) for s in dev]
            grid.append(
                {
                    "embedding_threshold": e,
                    "numbers_threshold": n,
                    "min_one_pct": min(x["one_pct"] for x in scores),
                    "mean_ari": float(np.mean([x["ari"] for x in scores])),
                }
            )
    eligible = [g for g in grid if g["min_one_pct"] >= ONE_TARGET] or grid
    best = max(g["mean_ari"] for g in eligible)
    # A split is the harmful error: among settings as good as the best, the one that splits least.
    pick = min(
        (g for g in eligible if g["mean_ari"] >= best - ARI_TIE),
        key=lambda g: (g["embedding_threshold"], -g["mean_ari"], g["numbers_threshold"]),
    )
    frontier = []
    for s in sources:
        for e in GRID_EMBEDDING:
            labels = embedded[id(s)].labels(embedding_threshold=e, numbers_threshold=pick["numbers_threshold"])
            frontier.append({"source": s.name, "part": s.part, "embedding_threshold": e, **incentive_scores(s.groups, labels)})
    return {"grid": grid, "pick": pick, "frontier": frontier}


def paper_step(model) -> dict:
    """Seconds of the default backend on one paper-scale step (test-part long responses of one
    strategy joined up to 4096 word pieces each; best of two, the first builds the static table's
    rows), and of the final-answer removal of a 100k-character response (best of three)."""
    source = strategy_sources.strategy_sets("test", "long")
    pieces = [t for g in source.groups for t in g.texts]
    lengths = [len(ids) for ids in model.tokenizer(pieces, add_special_tokens=False)["input_ids"]]
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(PAPER_GROUPS * PAPER_N):
        parts, total = [], 0
        while total < PAPER_TOKENS:
            k = int(rng.integers(len(pieces)))
            parts.append(pieces[k])
            total += lengths[k]
        texts.append("\n\n".join(parts))
    groups = [texts[k : k + PAPER_N] for k in range(0, len(texts), PAPER_N)]
    step = min(timed(label_strategies, groups) for _ in range(2))
    long_text = ("We add 17 and 25 to get 42, then check it again. " * 2100)[:100_000] + " The answer is 42."
    removal = min(timed(without_final_answer, long_text) for _ in range(3))
    mean_pieces = float(np.mean([len(ids) for ids in model.tokenizer(texts[:64], add_special_tokens=False)["input_ids"]]))
    return {"paper_step_s": round(step, 1), "mean_word_pieces": round(mean_pieces), "answer_removal_100k_s": round(removal, 3)}


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def markdown(result: dict) -> str:
    lines = ["# Strategy labelling: what each backend pays for", "", result["note"], ""]
    lines += [
        "(i) one-strategy groups labelled one (%) and mean |A| paid on them (all rewards 1); (ii) ARI, "
        "precision / recall on multi-strategy groups; (iii) correlation with the true-strategy advantages.",
        "",
        "| source | part | backend | one % | mean abs A | ARI | P / R | corr |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["scores"]:
        one = f"{r['one_pct']:.0f}" if "one_pct" in r else "-"
        a = f"{r['abs_advantage']:.3f}" if "abs_advantage" in r else "-"
        ari = f"{r['ari']:.2f}" if r.get("ari") is not None else "-"
        pr = f"{r['precision']:.2f} / {r['recall']:.2f}" if "precision" in r else "-"
        corr = f"{r['corr']:.2f}" if "corr" in r else "-"
        lines.append(f"| {r['source']} | {r['part']} | {r['backend']} | {one} | {a} | {ari} | {pr} | {corr} |")
    if "choice" in result:
        pick = result["choice"]["pick"]
        lines += [
            "",
            f"Chosen on strategy_sets dev: embedding_threshold {pick['embedding_threshold']}, numbers_threshold "
            f"{pick['numbers_threshold']} (min one % on dev {pick['min_one_pct']:.0f}, mean dev ARI {pick['mean_ari']:.2f}).",
            "",
            "Frontier (semantic, static, at the chosen numbers_threshold): one % / ARI per embedding_threshold.",
            "",
            "| source | part | " + " | ".join(str(e) for e in GRID_EMBEDDING) + " |",
            "|---|---|" + "---|" * len(GRID_EMBEDDING),
        ]
        by_source = {}
        for f in result["choice"]["frontier"]:
            by_source.setdefault((f["source"], f["part"]), []).append(f)
        for (name, part), cells in by_source.items():
            text = [
                f"{c['one_pct']:.0f} / {c['ari']:.2f}" if c.get("ari") is not None else f"{c['one_pct']:.0f} / -"
                for c in cells
            ]
            lines.append(f"| {name} | {part} | " + " | ".join(text) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--sources", nargs="+", help="source names to keep (substring match); default all")
    parser.add_argument("--choose", action="store_true", help="rerun the choice of the semantic defaults and the frontier")
    parser.add_argument("--paper-step", action="store_true", help="time one paper-scale step (a few minutes)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = load_model(SemanticOptions().model, "cpu")
    sources = strategy_sources.all_sources()
    if args.sources:
        sources = [s for s in sources if any(k in s.name for k in args.sources)]
    load = os.getloadavg()[0]
    started = time.time()
    result = {"default": {k: getattr(SemanticOptions(), k) for k in tc.DEFAULT_EVIDENCE}, "scores": evaluate(sources, args.backends)}
    if args.choose:
        result["choice"] = choose(sources, model)
        print(json.dumps(result["choice"]["pick"]))
    if args.paper_step:
        result["timing"] = paper_step(model)
        print(json.dumps(result["timing"]))
    timing = result.get("timing")
    result["note"] = (
        f"`python benchmarks/bench_strategy_detection.py{' --choose' if args.choose else ''}"
        f"{' --paper-step' if args.paper_step else ''}`, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the start, {time.time() - started:.0f} s in all."
        + (
            f" Paper-scale step (128 x 8 responses of {timing['mean_word_pieces']} word pieces), default backend: "
            f"{timing['paper_step_s']} s; final-answer removal of a 100k-character response: "
            f"{timing['answer_removal_100k_s']} s."
            if timing
            else ""
        )
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, allow_nan=False))
    if args.markdown:
        args.markdown.write_text(markdown(result))


if __name__ == "__main__":
    main()
