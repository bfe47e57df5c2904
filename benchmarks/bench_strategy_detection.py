"""What each strategy backend pays for: wording or methods, on every text source.

    python benchmarks/bench_strategy_detection.py [--sources NAME ...] [--backends NAME ...]
        [--choose] [--soft-count] [--separation] [--paper-step] [--json FILE] [--markdown FILE]

Poly-EPO pays a response for being a strategy its group lacks, so a labeller is judged the way
the incentive works (sources in ``strategy_sources``: groups of 8 with known strategies, dev and
test parts, ``one`` and ``multi`` groups), per backend and source:

- (i) ``one %``: share of the one-strategy groups (one method, 8 wordings) labelled one strategy,
  and ``|A|``: the mean absolute Poly-EPO advantage paid on them with every reward 1 (default
  options: k = 4 of 8, mean scale). Any split pays for wording; the target is >= 90% and
  ``|A|`` <= 0.01;
- (i) again in a collapsed step (``collapsed %``): each method's one-strategy groups labelled
  in one call of their own, as a step of a policy that has collapsed onto that method is (its
  words are in every response of the step, so weights over the step no longer favour them);
- (ii) ARI and pairwise precision / recall on the multi-strategy groups (ARI over the groups
  with >= 2 true strategies);
- (iii) ``corr``: Pearson correlation of the advantages under the backend's labels with those
  under the true strategies, all rewards 1, over the responses of the multi-strategy groups with
  >= 2 true strategies (how much of the true incentive survives).

Every source is labelled in one call per backend, as one training step is (the ``semantic``
backend weighs numbers over the call).

``--choose`` repeats how the ``semantic`` defaults were chosen: a grid of
(``embedding_threshold``, ``numbers_threshold``) scored on the dev part of ``strategy_sets``
only (every form, digits masked too; (i) in mixed and in collapsed steps); among the settings
with (i) >= 90% on every dev source, those within ``ARI_TIE`` of the best mean ARI, the lowest
``embedding_threshold`` (the one that splits least: ``best_eligible``); then the frontier, (i)
against ARI for each ``embedding_threshold`` at the chosen ``numbers_threshold``, on every
source, and (i) in its collapsed steps. ``code_weight`` is
chosen the same way (``GRID_CODE``, at the thresholds just picked; mixed steps only) on the groups holding
programs of ``strategy_sets``' test part (its one code family; short and long forms), and its
frontier is shown on the code groups of every source.
``--soft-count`` asks whether a soft count of strategies pays less for wording than the hard
labels at the same pay for methods (``soft_count_study``). The soft count of a set S is
``D(S) = sum_{i in S} 1 / sum_{j in S} K_ij`` (the number of clusters when ``K`` is a 0/1
block matrix), ``f(S) = mean reward x D(S) / k``, with ``K = sigmoid((e + shift) / tau)`` from
the default's evidence ``e`` (``text_clusters.evidence_matrix``) or ``K = max(0, cos)^p`` from
its vectors. Wording pay is (i)'s ``|A|``; method pay is ``beta``, the least-squares slope of a
backend's advantages on the true-strategy advantages over (iii)'s responses.
``--separation`` asks how far the default's evidence could go (``separation_study``): per source,
a threshold-free score of each similarity (``wording_auc``: pairs of one method's wordings against
pairs of different methods), the best setting of the default's two thresholds chosen on the
source itself (``best_setting``, an upper bound over its grid), and the default's decision with a
similarity that matches word pieces instead of pooling them (``word_matching``), chosen on dev by
the default's rule.
``--paper-step`` times one paper-scale step of the default backend (128 groups x 8 responses of
~4k word pieces) and the final-answer removal of a 100k-character response.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter
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
from polyepo_plugin.diversity.program_constructs import program_constructs  # noqa: E402
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
GRID_CODE = (0.0, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0)
# best_setting's grid (an upper bound, not a choice): embedding_threshold 0.1 ... 0.7
GRID_BEST_EMBEDDING = tuple(round(0.1 + 0.05 * k, 2) for k in range(13))
GRID_BEST_NUMBERS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
GRID_MATCHING = (-0.1, 0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
SOFT_SHIFTS = (-0.2, -0.1, 0.0, 0.1, 0.2)
SOFT_TAUS = (0.02, 0.05, 0.1)
SOFT_POWERS = (1, 2, 4)


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
        out["one_pct"] = kept_whole_pct(one)
    multi = [(g, found) for g, found in zip(groups, labels) if g.kind == "multi"]
    if multi:
        agreement = agreement_with_truth([found for _, found in multi], [g.truth for g, _ in multi])
        out.update(ari=agreement["ari"], precision=agreement["precision"], recall=agreement["recall"])
    pay = pay_scores(groups, all_correct_advantages(labels))  # (i)'s |A| and (iii)
    out.update({key: pay[key] for key in ("abs_advantage", "corr") if key in pay})
    return out


def label_source(source, backend: str, options: dict) -> list[list[int]]:
    texts = [g.texts for g in source.groups]
    return label_strategies(texts, [g.prompt for g in source.groups], backend=backend, **options)


def collapsed_steps(groups: list) -> list[list]:
    """The one-strategy groups as steps of one method each (methods with a single group left out).
    Where a source adds drawn one-strategy groups to its own, a response can appear twice in a step."""
    by_method: dict[str, list] = {}
    for g in groups:
        if g.kind == "one" and g.method:
            by_method.setdefault(g.method, []).append(g)
    return [step for step in by_method.values() if len(step) > 1]


def kept_whole_pct(labels: list[list[int]]) -> float:
    return 100.0 * float(np.mean([len(set(found)) == 1 for found in labels]))


def collapsed_score(labels: list[list[int]]) -> dict:
    """``collapsed_one_pct`` of the collapsed steps' labels ({} where a source has no such step)."""
    return {"collapsed_one_pct": kept_whole_pct(labels)} if labels else {}


def collapsed_one_pct(source, backend: str, options: dict) -> dict:
    """(i) in collapsed steps: each method's one-strategy groups labelled in a call of their own."""
    labels = []
    for step in collapsed_steps(source.groups):
        labels += label_strategies([g.texts for g in step], [g.prompt for g in step], backend=backend, **options)
    return collapsed_score(labels)


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
                    **collapsed_one_pct(source, backend, options),
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
        f"collapsed {cell('collapsed_one_pct', '5.1f')}% "
        f"|A| {cell('abs_advantage', '.3f')}  ARI {cell('ari', '5.2f')} P {cell('precision', '.2f')} "
        f"R {cell('recall', '.2f')} corr {cell('corr', '5.2f')}"
    )


def prepared(groups: list, model) -> tc.PreparedGroups:
    """Groups' static reasoning vectors, numbers and weights (one call), computed once for the grid."""
    return tc.prepare_texts([g.texts for g in groups], model, [g.prompt for g in groups])


def best_eligible(grid: list[dict], splits_least: str, *others: str) -> dict:
    """Among the settings keeping (i) >= ``ONE_TARGET`` on every source scored (all if none does),
    those within ``ARI_TIE`` of the best mean ARI, the lowest ``splits_least`` (a split is the
    harmful error), then the best ARI, then the lowest ``others``."""
    eligible = [g for g in grid if g["min_one_pct"] >= ONE_TARGET] or grid
    best = max(g["mean_ari"] for g in eligible)
    near = (g for g in eligible if g["mean_ari"] >= best - ARI_TIE)
    return min(near, key=lambda g: (g[splits_least], -g["mean_ari"], *(g[k] for k in others)))


def choose(sources: list, model) -> dict:
    """The grid on strategy_sets' dev part, the pick, and the frontier on every source."""
    by_source = {id(s): prepared(s.groups, model) for s in sources}
    by_step = {id(s): [prepared(step, model) for step in collapsed_steps(s.groups)] for s in sources}

    def collapsed(s, **options) -> dict:
        """``collapsed_one_pct``'s measure from the prepared steps."""
        return collapsed_score([found for step in by_step[id(s)] for found in step.labels(**options)])

    dev = [s for s in sources if s.part == "dev" and s.name.startswith("strategy_sets")]
    grid = []
    for e in GRID_EMBEDDING:
        for n in GRID_NUMBERS:
            options = {"embedding_threshold": e, "numbers_threshold": n}
            scores = [incentive_scores(s.groups, by_source[id(s)].labels(**options)) for s in dev]
            grid.append(
                {
                    **options,
                    "min_one_pct": min(
                        [x["one_pct"] for x in scores] + [c["collapsed_one_pct"] for s in dev if (c := collapsed(s, **options))]
                    ),
                    "mean_ari": float(np.mean([x["ari"] for x in scores])),
                }
            )
    pick = best_eligible(grid, "embedding_threshold", "numbers_threshold")
    thresholds = {k: pick[k] for k in ("embedding_threshold", "numbers_threshold")}
    frontier = []
    for s in sources:
        for e in GRID_EMBEDDING:
            options = {**thresholds, "embedding_threshold": e}
            labels = by_source[id(s)].labels(**options)
            frontier.append(
                {"source": s.name, "part": s.part, "embedding_threshold": e, **incentive_scores(s.groups, labels),
                 **collapsed(s, **options)}
            )
    return {"grid": grid, "pick": pick, "frontier": frontier, "code": choose_code_weight(sources, by_source, thresholds)}


def choose_code_weight(sources: list, by_source: dict, thresholds: dict) -> dict:
    """``code_weight`` picked on the program-holding groups of strategy_sets' test part (short,
    long), at the ``thresholds`` picked, as they are (``best_eligible``, near-ties to the lower
    weight); the frontier on every source's code groups."""
    frontier = []
    for s in sources:
        rows = by_source[id(s)].rows()
        code = [k for k, r in enumerate(rows) if all(by_source[id(s)].constructs[r])]
        if not code:
            continue
        groups = [s.groups[k] for k in code]
        for weight in GRID_CODE:
            labels = by_source[id(s)].labels(code_weight=weight, **thresholds)
            frontier.append(
                {"source": s.name, "part": s.part, "code_weight": weight, "groups": len(groups),
                 **incentive_scores(groups, [labels[k] for k in code])}
            )
    choice = [f for f in frontier if f["part"] == "test" and f["source"] in ("strategy_sets (short)", "strategy_sets (long)")]
    grid = [
        {"code_weight": w, "min_one_pct": min(f["one_pct"] for f in cells), "mean_ari": float(np.mean([f["ari"] for f in cells]))}
        for w in GRID_CODE
        if (cells := [f for f in choice if f["code_weight"] == w])
    ]
    pick = best_eligible(grid, "code_weight")
    print(json.dumps({"code_pick": pick}), flush=True)
    return {"grid": grid, "pick": pick, "frontier": frontier}


def soft_count_advantages(kernel: np.ndarray, set_size: int = SET_SIZE) -> np.ndarray:
    """``(n,)`` marginal advantages of the soft count with every reward 1, by enumeration:
    ``mean_{S ni i} D(S)/k - mean_S D(S)/k`` over the size-k subsets S of the n responses,
    ``D(S) = sum_{i in S} 1 / sum_{j in S} K_ij``; ``kernel`` is ``(n, n)``, symmetric, unit diagonal."""
    n = len(kernel)
    subsets = np.array(list(itertools.combinations(range(n), set_size)))
    within = kernel[subsets[:, :, None], subsets[:, None, :]]
    scores = (1.0 / within.sum(2)).sum(1) / set_size
    hits = np.zeros((len(subsets), n))
    np.put_along_axis(hits, subsets, 1.0, axis=1)
    return hits.T @ scores / hits.sum(0) - scores.mean()


def evidence_kernel(evidence: np.ndarray, shift: float, tau: float) -> np.ndarray:
    kernel = 1.0 / (1.0 + np.exp(-(evidence + shift) / tau))
    np.fill_diagonal(kernel, 1.0)
    return kernel


def cosine_kernel(vectors: np.ndarray, power: int) -> np.ndarray:
    kernel = np.clip(vectors @ vectors.T, 0.0, 1.0) ** power
    np.fill_diagonal(kernel, 1.0)
    return kernel


def pay_scores(groups: list, advantages: np.ndarray) -> dict:
    """Wording pay (mean |A| on one-strategy groups) and method pay (``beta``, ``corr``)."""
    out = {}
    one = [a for g, a in zip(groups, advantages) if g.kind == "one"]
    if one:
        out["abs_advantage"] = float(np.abs(one).mean())
    varied = [(g, a) for g, a in zip(groups, advantages) if g.kind == "multi" and len(set(g.truth)) > 1]
    if varied:
        predicted = np.concatenate([a for _, a in varied])
        true = all_correct_advantages([g.truth for g, _ in varied]).ravel()
        out["beta"] = float(predicted @ true / (true @ true))
        out["corr"] = float(np.corrcoef(predicted, true)[0, 1]) if predicted.std() > 0 else 0.0
    return out


def soft_count_study(sources: list, model) -> list[dict]:
    """Per source: the hard default, every soft kernel of the grid, and the soft kernel that pays
    least for wording among those paying at least the hard default's ``beta`` (``matched``)."""
    rows = []
    for source in sources:
        prepared_source = prepared(source.groups, model)
        spans = prepared_source.rows()
        evidence = [
            tc.evidence_matrix(
                prepared_source.vectors[r],
                prepared_source.numbers[r],
                prepared_source.weights,
                constructs=prepared_source.constructs[r],
            )
            for r in spans
        ]
        kernels = {f"soft: shift {shift}, tau {tau}": [evidence_kernel(e, shift, tau) for e in evidence]
                   for shift in SOFT_SHIFTS for tau in SOFT_TAUS}
        kernels.update({f"soft: cosine^{p}": [cosine_kernel(prepared_source.vectors[r], p) for r in spans] for p in SOFT_POWERS})
        hard = {"kernel": "hard labels (default)", **pay_scores(source.groups, all_correct_advantages(prepared_source.labels()))}
        soft = [
            {"kernel": name, **pay_scores(source.groups, np.array([soft_count_advantages(k) for k in per_group]))}
            for name, per_group in kernels.items()
        ]
        row = {"source": source.name, "part": source.part, "hard": hard, "soft": soft}
        if hard.get("beta", 0.0) > 0 and "abs_advantage" in hard:
            paying = [x for x in soft if x["beta"] >= hard["beta"]]
            row["matched"] = min(paying, key=lambda x: x["abs_advantage"]) if paying else None
        rows.append(row)
        matched = row.get("matched")
        print(
            f"{source.name:<38} {source.part:<4} hard |A| {hard.get('abs_advantage', float('nan')):.4f} "
            f"beta {hard.get('beta', float('nan')):.3f}"
            + (f"  soft at >= its beta: |A| {matched['abs_advantage']:.4f} beta {matched['beta']:.3f} ({matched['kernel']})" if matched else ""),
            flush=True,
        )
    return rows


def word_matching(groups: list, model) -> list[np.ndarray]:
    """Per group, the ``(n, n)`` similarity of two responses' wording by matching word pieces, not by
    pooling them: each alphabetic word piece of response i's reasoning (``tc.reasoning_text``;
    each piece once) is matched to its closest piece of j (cosine of the static table's rows,
    generic direction removed), the matches averaged with the static encoder's weights
    (``log((N + 1) / df) + 1`` over the call), and the two directions averaged. 1 on the
    diagonal; 0 where a side holds no alphabetic piece."""
    tokenizer = model.tokenizer
    texts = [tc.reasoning_text(str(t)) for g in groups for t in g.texts]
    pieces = [
        sorted({t for t in row if tokenizer.convert_ids_to_tokens(t).lstrip("#").isalpha()})
        for row in tokenizer(texts, add_special_tokens=False)["input_ids"]
    ]
    df = Counter(t for row in pieces for t in row)
    table = tc.static_table(model, sorted(df))
    generic = tc.generic_direction(model)
    rows = [tc.without_generic_direction(np.stack([table[t] for t in row]), generic) if row else None for row in pieces]
    present = sum(1 for text in texts if text.strip())  # the encoder's N: texts that are not blank
    weights = [np.array([np.log((present + 1) / df[t]) + 1.0 for t in row]) for row in pieces]
    out, start = [], 0
    for g in groups:
        n = len(g.texts)
        similarity = np.eye(n)
        for i, j in itertools.combinations(range(n), 2):
            a, b = rows[start + i], rows[start + j]
            if a is not None and b is not None:
                cosines = a @ b.T
                wa, wb = weights[start + i], weights[start + j]
                both_ways = wa @ cosines.max(1) / wa.sum() + wb @ cosines.max(0) / wb.sum()
                similarity[i, j] = similarity[j, i] = 0.5 * both_ways
        out.append(similarity)
        start += n
    return out


def wording_auc(groups: list, similarities: list[np.ndarray]) -> float | None:
    """How well a pairwise similarity tells methods from wordings, whatever the threshold: the
    probability that a pair of one method's wordings (a one-strategy group) scores above a pair of
    different methods (a multi-strategy group), ties counted half; 0.5 is no signal."""
    wordings, methods = [], []
    for g, similarity in zip(groups, similarities):
        for i, j in itertools.combinations(range(len(g.texts)), 2):
            if g.kind == "one":
                wordings.append(similarity[i, j])
            elif g.truth[i] != g.truth[j]:
                methods.append(similarity[i, j])
    if not wordings or not methods:
        return None
    w, m = np.array(wordings)[:, None], np.array(methods)[None, :]
    return float((w > m).mean() + 0.5 * (w == m).mean())


def matched_labels(similarities: list[np.ndarray], p: tc.PreparedGroups, **options: float) -> list[list[int]]:
    """The default's decision with ``word_matching``'s ``similarities`` in place of the pooled
    embedding's cosine (``p``: the same groups, ``prepared``); exact copies merged first, as
    ``cluster_group`` finds them (pooled cosine >= 0.9999)."""
    return [
        tc.average_linkage(evidence, 0.0, must_link=p.vectors[r] @ p.vectors[r].T >= 0.9999)
        for evidence, r in zip(default_evidence(p, similarities, **options), p.rows())
    ]


def default_evidence(p: tc.PreparedGroups, similarities: list[np.ndarray], **options: float) -> list[np.ndarray]:
    """The default's evidence for each prepared group, from ``similarities`` (one ``(n, n)`` per
    group: its pooled cosines, or another similarity in their place)."""
    return [
        tc.similarity_evidence(similarity, p.numbers[r], p.weights, constructs=p.constructs[r], **options)
        for similarity, r in zip(similarities, p.rows())
    ]


def best_setting(groups: list, p: tc.PreparedGroups, steps: list[tc.PreparedGroups]) -> dict | None:
    """The most ARI the default's decision could give a source at any of its two thresholds,
    chosen on the source itself (an upper bound over ``GRID_BEST_EMBEDDING`` x ``GRID_BEST_NUMBERS``,
    not a setting): among the settings keeping (i) >= ``ONE_TARGET`` in mixed steps (``p``, the
    source prepared as one call) and collapsed ones (``steps``), the best ARI. Shifting both
    thresholds by the same amount shifts every evidence alike, so the grid holds every uniform
    cut of the default's evidence on its diagonal."""
    cells = []
    for e, n in itertools.product(GRID_BEST_EMBEDDING, GRID_BEST_NUMBERS):
        options = {"embedding_threshold": e, "numbers_threshold": n}
        cell = {**options, **incentive_scores(groups, p.labels(**options))}
        cell.update(collapsed_score([found for step in steps for found in step.labels(**options)]))
        kept_whole = min(cell.get("one_pct", 100.0), cell.get("collapsed_one_pct", 100.0))
        if cell.get("ari") is not None and kept_whole >= ONE_TARGET:
            cells.append(cell)
    return max(cells, key=lambda c: c["ari"]) if cells else None


def separation_study(sources: list, model) -> dict:
    """Can wording and methods be told apart by what the default reads? Per source, ``wording_auc``
    of the pooled embedding's cosine (the default's), of ``word_matching``, of the numbers' weighted
    overlap, of the default's whole evidence and of that evidence with word matching in place of
    the cosine; ``best_setting`` of the default's decision; then that decision with word matching
    in place of the cosine, its ``embedding_threshold`` chosen on strategy_sets' dev part by the
    default's rule (``best_eligible``, numbers_threshold as the default), and its frontier on every
    source."""
    default = {k: getattr(SemanticOptions(), k) for k in tc.DEFAULT_EVIDENCE}
    separation, frontier = [], []
    for s in sources:
        p, matching = prepared(s.groups, model), word_matching(s.groups, model)
        pooled = [p.vectors[r] @ p.vectors[r].T for r in p.rows()]
        steps = [(prepared(step, model), word_matching(step, model)) for step in collapsed_steps(s.groups)]
        kinds = {
            "embedding (pooled)": pooled,
            "word matching": matching,
            "numbers": [
                np.array([[tc.weighted_overlap(a, b, p.weights) for b in p.numbers[r]] for a in p.numbers[r]])
                for r in p.rows()
            ],
            "default evidence": default_evidence(p, pooled, **default),
            "evidence, word matching": default_evidence(p, matching, **default),
        }
        row = {"source": s.name, "part": s.part, "auc": {k: wording_auc(s.groups, v) for k, v in kinds.items()}}
        pairs = np.concatenate([c[np.triu_indices(len(c), 1)] for c in pooled])
        row["pooled_cosine_percentiles"] = [float(x) for x in np.percentile(pairs, [5, 50, 95])] if pairs.size else None
        row["best_setting"] = best_setting(s.groups, p, [q for q, _ in steps])
        separation.append(row)
        print(json.dumps(row), flush=True)
        for e in GRID_MATCHING:
            options = {**default, "embedding_threshold": e}
            cell = {"source": s.name, "part": s.part, "embedding_threshold": e}
            cell.update(incentive_scores(s.groups, matched_labels(matching, p, **options)))
            cell.update(collapsed_score([found for q, m in steps for found in matched_labels(m, q, **options)]))
            frontier.append(cell)
    dev = [f for f in frontier if f["part"] == "dev" and f["source"].startswith("strategy_sets")]
    grid = [
        {
            "embedding_threshold": e,
            "min_one_pct": min(min(f["one_pct"], f.get("collapsed_one_pct", 100.0)) for f in cells),
            "mean_ari": float(np.mean([f["ari"] for f in cells])),
        }
        for e in GRID_MATCHING
        if (cells := [f for f in dev if f["embedding_threshold"] == e])
    ]
    pick = best_eligible(grid, "embedding_threshold") if grid else None  # None: no dev source was run
    print(json.dumps({"matching_pick": pick}), flush=True)
    return {"separation": separation, "grid": grid, "pick": pick, "frontier": frontier}


def paper_step_groups(tokenizer) -> list[list[str]]:
    """One paper-scale step's responses: ``PAPER_GROUPS`` groups of ``PAPER_N``, each response
    test-part long responses of strategy_sets drawn at random (seed 0) and joined until it has
    at least ``PAPER_TOKENS`` of ``tokenizer``'s word pieces."""
    source = strategy_sources.strategy_sets("test", "long")
    pieces = [t for g in source.groups for t in g.texts]
    lengths = [len(ids) for ids in tokenizer(pieces, add_special_tokens=False)["input_ids"]]
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(PAPER_GROUPS * PAPER_N):
        parts, total = [], 0
        while total < PAPER_TOKENS:
            k = int(rng.integers(len(pieces)))
            parts.append(pieces[k])
            total += lengths[k]
        texts.append("\n\n".join(parts))
    return [texts[k : k + PAPER_N] for k in range(0, len(texts), PAPER_N)]


def paper_program(tokenizer) -> str:
    """A response that is one Python program of at most ``PAPER_TOKENS`` word pieces: the source
    of ``text_clusters`` cut before a top-level definition, fenced."""
    source = Path(tc.__file__).read_text()
    cuts = [k for k in range(len(source)) if source.startswith("\ndef ", k)]
    fits = [k for k in cuts if len(tokenizer(source[:k], add_special_tokens=False)["input_ids"]) <= PAPER_TOKENS]
    return f"The program:\n```python\n{source[: max(fits)]}\n```"


def paper_step(model) -> dict:
    """Seconds of the default backend on one paper-scale step (``paper_step_groups``; best of
    two, the first builds the static table's rows), of reading the programs of such a step if
    every response were a program of that size (``paper_program``, best of two), and of the
    final-answer removal of a 100k-character response (best of three)."""
    groups = paper_step_groups(model.tokenizer)
    texts = [t for group in groups for t in group]
    step = min(timed(label_strategies, groups) for _ in range(2))
    long_text = ("We add 17 and 25 to get 42, then check it again. " * 2100)[:100_000] + " The answer is 42."
    removal = min(timed(without_final_answer, long_text) for _ in range(3))
    mean_pieces = float(np.mean([len(ids) for ids in model.tokenizer(texts[:64], add_special_tokens=False)["input_ids"]]))
    program = paper_program(model.tokenizer)
    programs = min(timed(lambda: [program_constructs(program) for _ in texts]) for _ in range(2))
    return {
        "paper_step_s": round(step, 1),
        "mean_word_pieces": round(mean_pieces),
        "programs_read_s": round(programs, 1),
        "program_characters": len(program),
        "answer_removal_100k_s": round(removal, 3),
    }


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def one_and_ari(cell: dict) -> str:
    """A frontier cell: ``one % / ARI``, or ``one % (collapsed %) / ARI``; ``-`` for what the
    source's groups cannot measure."""
    one = f"{cell['one_pct']:.0f}" if "one_pct" in cell else "-"
    if "collapsed_one_pct" in cell:
        one += f" ({cell['collapsed_one_pct']:.0f})"
    ari = f"{cell['ari']:.2f}" if cell.get("ari") is not None else "-"
    return f"{one} / {ari}"


def frontier_rows(frontier: list[dict], *keys: str) -> list[str]:
    """One markdown row per source of a frontier: its ``keys``, then ``one_and_ari`` of each of its
    cells in grid order."""
    by_source: dict[tuple, list[dict]] = {}
    for f in frontier:
        by_source.setdefault(tuple(f[k] for k in keys), []).append(f)
    return ["| " + " | ".join(map(str, key)) + " | " + " | ".join(one_and_ari(c) for c in cells) + " |"
            for key, cells in by_source.items()]


def matching_pick(pick: dict | None) -> str:
    if pick is None:
        return "none (no dev source run)"
    if pick["min_one_pct"] < ONE_TARGET:
        return (f"none, no setting of the grid keeps (i) on dev (the rule's fallback, the best of all: "
                f"{pick['embedding_threshold']}, min one % {pick['min_one_pct']:.1f}, mean dev ARI {pick['mean_ari']:.2f})")
    return f"{pick['embedding_threshold']} (min one % {pick['min_one_pct']:.1f}, mean dev ARI {pick['mean_ari']:.2f})"


def markdown(result: dict) -> str:
    lines = ["# Strategy labelling: what each backend pays for", "", result["note"], ""]
    lines += [
        "(i) one-strategy groups labelled one (%) and mean |A| paid on them (all rewards 1), and labelled one "
        "in collapsed steps (each method's one-strategy groups in a call of their own); (ii) ARI, "
        "precision / recall on multi-strategy groups; (iii) correlation with the true-strategy advantages.",
        "",
        "| source | part | backend | one % | collapsed % | mean abs A | ARI | P / R | corr |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["scores"]:
        one = f"{r['one_pct']:.0f}" if "one_pct" in r else "-"
        collapsed = f"{r['collapsed_one_pct']:.0f}" if "collapsed_one_pct" in r else "-"
        a = f"{r['abs_advantage']:.3f}" if "abs_advantage" in r else "-"
        ari = f"{r['ari']:.2f}" if r.get("ari") is not None else "-"
        pr = f"{r['precision']:.2f} / {r['recall']:.2f}" if "precision" in r else "-"
        corr = f"{r['corr']:.2f}" if "corr" in r else "-"
        lines.append(f"| {r['source']} | {r['part']} | {r['backend']} | {one} | {collapsed} | {a} | {ari} | {pr} | {corr} |")
    if "choice" in result:
        pick = result["choice"]["pick"]
        lines += [
            "",
            f"Chosen on strategy_sets dev: embedding_threshold {pick['embedding_threshold']}, numbers_threshold "
            f"{pick['numbers_threshold']} (min one % on dev, mixed and collapsed steps, {pick['min_one_pct']:.0f}; mean dev ARI "
            f"{pick['mean_ari']:.2f}).",
            "",
            "Frontier (semantic, static, at the chosen numbers_threshold): one % (in collapsed steps) / ARI per "
            "embedding_threshold.",
            "",
            "| source | part | " + " | ".join(str(e) for e in GRID_EMBEDDING) + " |",
            "|---|---|" + "---|" * len(GRID_EMBEDDING),
        ]
        lines += frontier_rows(result["choice"]["frontier"], "source", "part")
        code = result["choice"]["code"]
        lines += [
            "",
            f"code_weight chosen on the code groups of strategy_sets test (short, long): {code['pick']['code_weight']} "
            f"(min one % {code['pick']['min_one_pct']:.0f}, mean ARI {code['pick']['mean_ari']:.2f}). Frontier on the "
            "groups whose every response holds a program: one % / ARI per code_weight (0: programs read as prose only).",
            "",
            "| source | part | code groups | " + " | ".join(str(w) for w in GRID_CODE) + " |",
            "|---|---|---|" + "---|" * len(GRID_CODE),
        ]
        lines += frontier_rows(code["frontier"], "source", "part", "groups")
    if "soft_count" in result:
        lines += [
            "",
            "Soft count of strategies against the hard labels (all rewards 1): wording pay |A| on one-strategy "
            "groups, method pay beta on multi-strategy groups; the soft kernel paying least for wording among "
            "those with beta at least the hard default's.",
            "",
            "| source | part | hard: abs A / beta | soft at >= that beta: abs A / beta | kernel |",
            "|---|---|---|---|---|",
        ]
        for row in result["soft_count"]:
            hard, matched = row["hard"], row.get("matched")
            hard_text = f"{hard['abs_advantage']:.4f} / {hard['beta']:.3f}" if "beta" in hard and "abs_advantage" in hard else "-"
            soft_text = f"{matched['abs_advantage']:.4f} / {matched['beta']:.3f}" if matched else "-"
            if "beta" not in hard:
                kernel = "no multi-strategy groups"
            elif "matched" not in row:
                kernel = "hard pays nothing for methods here"
            else:
                kernel = matched["kernel"] if matched else "none reaches it"
            lines.append(f"| {row['source']} | {row['part']} | {hard_text} | {soft_text} | {kernel} |")
    if "separation" in result:
        study = result["separation"]
        lines += [
            "",
            "Separation: the probability that a pair of one method's wordings scores above a pair of different "
            "methods (0.5: no signal; 1: every wording pair above every method pair), per similarity (the "
            "evidences: the default's, and the default's with word matching in place of the pooled cosine); and "
            "the best setting of the default's two thresholds chosen on each source itself (an upper bound, not a "
            "setting): the most ARI any of embedding_threshold " + ", ".join(map(str, GRID_BEST_EMBEDDING))
            + " x numbers_threshold " + ", ".join(map(str, GRID_BEST_NUMBERS))
            + " gives while (i) >= 90% in mixed and collapsed steps.",
            "",
            "| source | part | pooled cosine within groups, 5 / 50 / 95 % | embedding (pooled, the default's) | "
            "word matching | numbers | default evidence | evidence, word matching | best setting: embedding / "
            "numbers threshold, one % (collapsed %) / ARI |",
            "|---|---|---|---|---|---|---|---|---|",
        ]

        def auc(value):
            return f"{value:.2f}" if value is not None else "-"

        def best_text(row):
            best = row["best_setting"]
            if row["auc"]["default evidence"] is None:
                return "-"  # no multi-strategy group to score
            if best is None:
                return "none keeps (i)"
            return f"{best['embedding_threshold']} / {best['numbers_threshold']}: {one_and_ari(best)}"

        for row in study["separation"]:
            percentiles = row["pooled_cosine_percentiles"]
            spread = " / ".join(f"{x:.2f}" for x in percentiles) if percentiles else "-"
            lines.append(
                f"| {row['source']} | {row['part']} | {spread} | " + " | ".join(auc(v) for v in row["auc"].values())
                + f" | {best_text(row)} |"
            )
        lines += [
            "",
            "Word matching in place of the pooled cosine, embedding_threshold chosen on strategy_sets dev by the "
            "default's rule: " + matching_pick(study["pick"]) + ". Frontier: one % (in collapsed steps) / ARI per "
            "embedding_threshold.",
            "",
            "| source | part | " + " | ".join(str(e) for e in GRID_MATCHING) + " |",
            "|---|---|" + "---|" * len(GRID_MATCHING),
        ]
        lines += frontier_rows(study["frontier"], "source", "part")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--sources", nargs="+", help="source names to keep (substring match); default all")
    parser.add_argument("--choose", action="store_true", help="rerun the choice of the semantic defaults and the frontier")
    parser.add_argument("--soft-count", action="store_true", help="compare a soft count of strategies with the hard labels")
    parser.add_argument("--separation", action="store_true", help="can methods be told from wordings (separation_study)")
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
    if args.soft_count:
        result["soft_count"] = soft_count_study(sources, model)
    if args.separation:
        result["separation"] = separation_study(sources, model)
    if args.paper_step:
        result["timing"] = paper_step(model)
        print(json.dumps(result["timing"]))
    timing = result.get("timing")
    result["note"] = (
        f"`python benchmarks/bench_strategy_detection.py{' --choose' if args.choose else ''}"
        f"{' --soft-count' if args.soft_count else ''}{' --separation' if args.separation else ''}{' --paper-step' if args.paper_step else ''}`, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the start, {time.time() - started:.0f} s in all."
        + (
            f" Paper-scale step (128 x 8 responses of {timing['mean_word_pieces']} word pieces), default backend: "
            f"{timing['paper_step_s']} s; reading {PAPER_GROUPS * PAPER_N} programs of {timing['program_characters']} "
            f"characters: {timing['programs_read_s']} s; final-answer removal of a 100k-character response: "
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
