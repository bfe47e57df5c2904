"""How well text backends recover reasoning strategies from paraphrased responses, and at what cost.

    python benchmarks/bench_strategy_detection.py [--part dev|test|both] [--forms short long]
        [--timing-groups 12] [--repeats 3] [--timing-only] [--quick] [--json FILE] [--markdown FILE]

Four evaluation sets, scored per backend and setting:

- ``strategy_sets`` (``benchmarks/data/strategy_sets/``): groups of 8 responses with known
  strategies, every response in a SHORT and a LONG (chain-of-thought) form, families split into
  a dev part (for choosing settings) and a test part (reported);
- the same with every digit masked (``#``): what is left when numbers cannot be read;
- ``strategy_steps`` (``benchmarks/data/strategy_steps/``): another set, written in another
  style (word problems with every number in words, short programs with varying names) and made
  another way (responses assembled from independently chosen step phrasings); test only, never
  used to choose a setting;
- ``strategy_cot`` (``benchmarks/data/strategy_cot/``): written independently of both, as long chains of
  thought (restarts, abandoned attempts, corrected slips) in five languages with eight answer forms; its
  groups are one-strategy (``kind`` "one_strategy") or multi-strategy; test only.

For each it prints

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

Backends: ``ngram`` and ``embedding`` through ``polyepo_plugin.diversity.strategies.label_strategies``
(while scoring, the model's ``encode`` is memoised per text so that each response is embedded
once for all thresholds; timings run without the memo), and ``semantic``'s clustering
(``polyepo_plugin.diversity.text_clusters``) with each setting of ``TEXT_CLUSTER_SETTINGS``: for
scoring, each unique response of a set is embedded once per encoder, in one call (so the static
encoder's IDF is over the set's responses, like a training step's batch), then every group is
clustered; timings call ``label_texts`` on the groups. Settings were chosen on the dev part only.
One alternative, ``whitened``, is a model fitted on the dev part: the static vectors multiplied by
``(S_w + lambda I)^(-1/2)``, ``S_w`` the scatter of dev responses around their (problem, strategy)
means (what paraphrasing moves), fitted here on the dev responses of both forms.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

from polyepo_plugin.config import SemanticOptions
from polyepo_plugin.diversity import text_clusters as tc
from polyepo_plugin.diversity.agreement import agreement_with_truth
from polyepo_plugin.diversity.embedding import load_model
from polyepo_plugin.diversity.strategies import label_strategies

DATA = Path(__file__).resolve().parent / "data" / "strategy_sets" / "strategy_sets.json"
STEPS_DATA = Path(__file__).resolve().parent / "data" / "strategy_steps" / "strategy_steps.json"
COT_DATA = Path(__file__).resolve().parent / "data" / "strategy_cot" / "strategy_cot.json"
PAPER_RESPONSES, PAPER_TOKENS = 128 * 8, 4096
EMBEDDING_WINDOW = 254  # word pieces the embedding backend reads (256 minus [CLS] and [SEP])
CLUSTER_OPTIONS = ("threshold", "numbers_weight", "words_weight", "steps_weight")
DEFAULT = {name: getattr(SemanticOptions(), name) for name in CLUSTER_OPTIONS}
BEFORE = {"threshold": 0.1, "numbers_weight": 0.5, "words_weight": 0.0, "steps_weight": 0.0}
WHITENING_RIDGE = 3e-3


@dataclasses.dataclass(frozen=True)
class Setting:
    """One way of running ``text_clusters``: encoder, cluster options, and what it reads."""

    label: str
    encoder: str = SemanticOptions().encoder
    options: dict = dataclasses.field(default_factory=dict)
    reads_answer: bool = False  # True: the texts as written, final answer included (the earlier behaviour)
    whitened: bool = False


# The first row is the default; the alternatives change one thing each, unless said otherwise.
TEXT_CLUSTER_SETTINGS = [
    Setting("static (default)"),
    Setting("static, before issue 20 (answer read)", options=BEFORE, reads_answer=True),
    Setting("static, earlier channels", options=BEFORE),
    Setting("static, embedding only", options={"numbers_weight": 0.0, "words_weight": 0.0, "steps_weight": 0.0}),
    Setting("static, no numbers", options={"numbers_weight": 0.0}),
    Setting("static, no words", options={"words_weight": 0.0}),
    Setting("static, no steps", options={"steps_weight": 0.0}),
    Setting("static, thr=0.1", options={"threshold": 0.1}),
    Setting("static, dev-fitted whitening", whitened=True),
    Setting("contextual", encoder="contextual"),
    Setting("contextual, earlier channels", encoder="contextual", options=BEFORE),
]
QUICK_SETTINGS = {"static (default)", "static, before issue 20 (answer read)", "contextual"}


@dataclasses.dataclass
class EvalSet:
    name: str  # strategy_sets / strategy_sets, digits masked / strategy_steps
    part: str
    form: str
    texts: dict  # response id -> text
    groups: list


def load_sets(parts: list[str], forms: list[str]) -> list[EvalSet]:
    data = json.loads(DATA.read_text())
    out = []
    for masked in (False, True):
        for part in parts:
            groups = [g for g in data["groups"] if g["part"] == part]
            for form in forms:
                texts = {r["id"]: r[form] for r in data["responses"]}
                if masked:
                    texts = {k: re.sub(r"\d", "#", t) for k, t in texts.items()}
                name = "strategy_sets, digits masked" if masked else "strategy_sets"
                out.append(EvalSet(name, part, form, texts, groups))
    steps = json.loads(STEPS_DATA.read_text())
    out.append(EvalSet("strategy_steps", "test", "text", {r["id"]: r["text"] for r in steps["responses"]}, steps["groups"]))
    cot = json.loads(COT_DATA.read_text(encoding="utf-8"))
    out.append(EvalSet("strategy_cot", "test", "text", {r["id"]: r["text"] for r in cot["responses"]}, cot["groups"]))
    return out


def scores(predicted: list[list[int]], groups: list[dict]) -> dict:
    truths = [[sorted(set(g["strategies"])).index(s) for s in g["strategies"]] for g in groups]
    return agreement_with_truth(predicted, truths)


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


def fit_whitening(dev_sets: list[EvalSet], model) -> np.ndarray:
    """``(S_w + ridge I)^(-1/2)``, ``S_w`` the scatter of the dev responses' static vectors around
    their (set, problem, strategy) means."""
    deviations = []
    for s in dev_sets:
        ids = sorted({r for g in s.groups for r in g["responses"]})
        vectors = tc.embed_responses([tc.reasoning_text(s.texts[r]) for r in ids], model, encoder="static")
        classes: dict[str, list[int]] = {}
        for k, r in enumerate(ids):
            classes.setdefault(r.rsplit("/", 2)[0], []).append(k)  # family/instance/strategy
        deviations += [vectors[k] - vectors[k].mean(0) for k in map(np.array, classes.values())]
    centred = np.concatenate(deviations).astype(np.float64)
    values, vectors = np.linalg.eigh(centred.T @ centred / len(centred))
    return vectors @ np.diag(1 / np.sqrt(np.clip(values, 0, None) + WHITENING_RIDGE)) @ vectors.T


def evaluate(s: EvalSet, model, settings: list[Setting], whitening: np.ndarray | None) -> list[tuple]:
    texts = [[s.texts[r] for r in g["responses"]] for g in s.groups]
    key = (s.name, s.part, s.form)
    rows = [(*key, "ngram", "n=3 thr=0.4 (default)", scores(label_strategies(texts, backend="ngram"), s.groups))]
    with MemoisedEncode(model):
        labels = label_strategies(texts, backend="embedding")
    rows.append((*key, "embedding", "thr=0.8 (default)", scores(labels, s.groups)))
    unique = sorted({r for g in s.groups for r in g["responses"]})
    index = {r: k for k, r in enumerate(unique)}
    vectors = {}
    for setting in settings:
        read = {r: s.texts[r] if setting.reads_answer else tc.reasoning_text(s.texts[r]) for r in unique}
        cache_key = (setting.encoder, setting.reads_answer)
        if cache_key not in vectors:
            vectors[cache_key] = tc.embed_responses([read[r] for r in unique], model, encoder=setting.encoder)
        x = vectors[cache_key]
        if setting.whitened:
            x = x @ whitening
        options = {**DEFAULT, **setting.options}
        labels = [
            tc.cluster_group(x[[index[r] for r in g["responses"]]], [read[r] for r in g["responses"]], **options)
            for g in s.groups
        ]
        rows.append((*key, "semantic", setting.label, scores(labels, s.groups)))
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
            ("semantic", "static (default)", (label_strategies, texts), {"backend": "semantic"}, read_all, PAPER_TOKENS),
            (
                "semantic",
                "static, before",
                (tc.label_texts, texts, model),
                {"encoder": "static", **BEFORE},
                read_all,
                PAPER_TOKENS,
            ),
            ("semantic", "contextual", (tc.label_texts, texts, model), {"encoder": "contextual"}, read_all, PAPER_TOKENS),
        ]
        for backend, setting, (fn, *args), kwargs, read, per_response in runs:
            seconds = min(timed(fn, *args, **kwargs) for _ in range(repeats))
            rate = read / seconds
            projected = PAPER_RESPONSES * per_response / rate
            out.append((form, backend, setting, seconds / len(groups), rate, projected, float(np.mean(pieces))))
    return out


def paper_step(data: dict, model) -> tuple[float, float]:
    """Seconds of the default ``semantic`` backend (through ``label_strategies``) on one paper-scale
    step, measured: 128 groups x 8 responses, each response test-part long texts of one strategy
    joined until it holds 4096 word pieces; best of two runs (the first builds the static table's
    rows), and the mean word pieces per response."""
    responses = [r for r in data["responses"] if r["problem"].split("/")[0] in {g["family"] for g in data["groups"] if g["part"] == "test"}]
    rng = np.random.default_rng(0)
    lengths = dict(zip((r["id"] for r in responses), word_pieces(model, [r["long"] for r in responses])))
    texts = []
    for _ in range(PAPER_RESPONSES):
        parts, total = [], 0
        while total < PAPER_TOKENS:
            r = responses[int(rng.integers(len(responses)))]
            parts.append(r["long"])
            total += lengths[r["id"]]
        texts.append("\n\n".join(parts))
    groups = [texts[k : k + 8] for k in range(0, PAPER_RESPONSES, 8)]
    seconds = min(timed(label_strategies, groups, backend="semantic") for _ in range(2))
    return seconds, float(np.mean(word_pieces(model, texts)))


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


def markdown(rows: list[tuple], timings: list[tuple], note: str) -> str:
    """The test figures as one table: a row per backend and setting, a column per set and form."""
    columns = list(dict.fromkeys((n, f) for n, p, f, *_ in rows if p == "test"))
    lines = [
        "# Strategy detection: test sets",
        "",
        note,
        "",
        "ARI, then pairwise precision / recall. Settings chosen on the dev part of strategy_sets only.",
        "",
        "| backend | setting | " + " | ".join(f"{n} ({f})" for n, f in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for backend, setting in dict.fromkeys((b, st) for _, p, _, b, st, _ in rows if p == "test"):
        cells = []
        for n, f in columns:
            (m,) = [m for rn, p, rf, b, st, m in rows if (rn, p, rf, b, st) == (n, "test", f, backend, setting)]
            cells.append(f"{m['ari']:.2f}, {m['precision']:.2f} / {m['recall']:.2f}")
        lines.append(f"| {backend} | {setting} | " + " | ".join(cells) + " |")
    if timings:
        lines += ["", "| form | backend | setting | s per group of 8 | word pieces/s | paper-scale step (projected) |",
                  "|---|---|---|---|---|---|"]
        for form, backend, setting, per_group, rate, projected, _ in timings:
            lines.append(f"| {form} | {backend} | {setting} | {per_group:.3f} | {rate:.0f} | {projected:.0f} s |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--forms", nargs="+", choices=["short", "long"], default=["short", "long"])
    parser.add_argument("--timing-groups", type=int, default=12, help="groups timed per form (0: no timing)")
    parser.add_argument("--quick", action="store_true", help="only the main semantic settings")
    parser.add_argument("--timing-only", action="store_true", help="skip the scores")
    parser.add_argument("--repeats", type=int, default=3, help="timings are the best of this many runs")
    parser.add_argument("--paper-step", action="store_true", help="also time one paper-scale step (about a minute)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--markdown", type=Path, help="also write the test figures here as a table")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = json.loads(DATA.read_text())
    model = load_model("all-MiniLM-L6-v2", "cpu")  # the embedding backend's (cached) model, shared
    settings = [s for s in TEXT_CLUSTER_SETTINGS if not args.quick or s.label in QUICK_SETTINGS]
    parts = ["dev", "test"] if args.part == "both" else [args.part]
    sets = [] if args.timing_only else load_sets(parts, args.forms)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; default {DEFAULT}")

    whitening = None
    if any(s.whitened for s in settings) and sets:
        dev = [s for s in load_sets(["dev"], ["short", "long"]) if s.name == "strategy_sets"]
        whitening = fit_whitening(dev, model)
    rows = []
    for s in sets:
        rows += evaluate(s, model, settings, whitening)
        print(f"scored {s.name} {s.part} {s.form}", flush=True)
    columns = list(dict.fromkeys((n, p, f) for n, p, f, *_ in rows))
    for name, part, form in columns:
        print(f"\n{name}, {part}, {form}:  {'ARI':>5} {'P':>5} {'R':>5} {'degen':>5}")
        for _, _, _, backend, setting, m in (r for r in rows if r[:3] == (name, part, form)):
            print(f"  {backend:<10} {setting:<40} {m['ari']:5.2f} {m['precision']:5.2f} {m['recall']:5.2f} {m['degenerate']:5.2f}")

    timings, note = [], "No timing."
    if args.timing_groups:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        timings = timing(data, args.forms, model, args.timing_groups, args.repeats)
        table_seconds, blocks = static_table_cost(model, args.repeats)
        note = (
            f"Timing: {args.timing_groups} test groups per form, best of {args.repeats}, load average {load:.1f} "
            f"before and {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs; paper-scale step = 1024 responses "
            f"x 4096 word pieces (embedding: x 254) at the measured rate; static excludes its table: {blocks} "
            f"blocks of {tc.STATIC_BLOCK} word pieces, about {table_seconds:.0f} s once per process."
        )
        print(f"\n{note}")
        print(f"{'form':<5} {'backend':<10} {'setting':<18} {'s/group':>8} {'pieces/s':>9} {'paper step':>11}")
        for form, backend, setting, per_group, rate, projected, mean_pieces in timings:
            print(
                f"{form:<5} {backend:<10} {setting:<18} {per_group:8.3f} {rate:9.0f} {projected:9.0f} s"
                f"   (mean {mean_pieces:.0f} word pieces/response)"
            )
    if args.paper_step:
        load = os.getloadavg()[0]
        seconds, pieces = paper_step(data, model)
        step = (
            f"Measured paper-scale step, default semantic backend: {seconds:.1f} s for 128 groups x 8 responses of "
            f"{pieces:.0f} word pieces (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)."
        )
        print(step)
        note = f"{note} {step}"
    if args.json:
        args.json.write_text(json.dumps({"default": DEFAULT, "scores": rows, "timing": timings, "note": note}, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(rows, timings, note))


if __name__ == "__main__":
    main()
