"""pass@k, majority@k and per-prompt summaries of scored groups: numbers only.

No model, tokenizer or reward code here; a group is plain data::

    {"prompt": str, "responses": [str], "scores": [float], "strategies": [int],
     "answers": [str | None], "answer_classes": [int] (optional), "truncated": [bool] (optional)}

``answers`` are the responses' final answers (``None``: no answer could be extracted);
``answer_classes`` (optional, ``-1`` for no answer) says which answers are equivalent, when
that is more than string equality (``scoring.answer_classes`` fills it with math-verify).

majority@k. For a draw of k of a prompt's N samples, the answer given most often among those
k wins; samples without an answer do not vote, and a draw where no sample answered scores 0.
When several answers tie for most votes, the draw scores the fraction of them that are correct
(the expected outcome of breaking the tie at random), so no sample order matters. Whether an
answer is correct is decided once per prompt, over all N samples giving it: correct when more
than half of them scored correct (a tie counts as wrong). The reward may not agree with itself
on equivalent answers (it reads a response its own way, e.g. with a format check); a majority
rule keeps one odd score from deciding the answer either way, where "any member" would let a
single lucky score carry the answer and "the last one scored" would depend on sample order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence

import numpy as np

# What majority@k measures, in one line for the command's output.
MAJORITY_AT_K_MEANS = (
    "majority@k votes among k samples' final answers; the winning answer counts as correct when more than half of "
    "ALL the samples giving it scored correct, so majority@1 is the fraction of samples whose answer is a correct "
    "one, not pass@1 (each sample's own score): they differ when the reward scores one answer differently across "
    "samples (e.g. a format check) or samples give no answer"
)
# A response is correct when its score exceeds this (binary rewards: score 1); --correct-threshold,
# as training's algorithm.poly_epo.correct_threshold.
DEFAULT_CORRECT_THRESHOLD = 0.5
MAJORITY_DRAWS = 200  # majority@k is exact when C(N, k) <= this many subsets, else estimated from this many


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))  # the ratio as a product: no huge integers


def answer_correctness(answers: Sequence[Hashable | None], correct: Sequence[bool]) -> dict:
    """Each distinct answer -> whether it is correct: more than half of the samples giving it are."""
    votes: dict = {}
    for answer, ok in zip(answers, correct, strict=True):
        if answer is not None:
            right, total = votes.get(answer, (0, 0))
            votes[answer] = (right + bool(ok), total + 1)
    return {answer: 2 * right > total for answer, (right, total) in votes.items()}


def majority_at_k(
    answers: Sequence[Hashable | None],
    correct: Sequence[bool],
    k: int,
    draws: int = MAJORITY_DRAWS,
    seed: int = 0,
) -> float:
    """Probability that the majority answer of k of the N samples is correct (module docstring).

    ``answers[i]`` is sample i's answer (any hashable; equal values are one answer; ``None``: no
    answer), ``correct[i]`` its score's verdict. Exact (every k-subset) when there are at most
    ``draws`` subsets, else the mean over ``draws`` random k-subsets (seeded by ``seed``, n, k)."""
    n = len(answers)
    if len(correct) != n:
        raise ValueError(f"majority_at_k: {n} answers but {len(correct)} correctness values")
    if not 1 <= k <= n:
        raise ValueError(f"majority_at_k needs 1 <= k <= n, got n={n} k={k}")
    right = answer_correctness(answers, correct)
    if not right:
        return 0.0
    index = {answer: i for i, answer in enumerate(right)}
    codes = np.array([-1 if a is None else index[a] for a in answers])
    answer_right = np.array(list(right.values()), dtype=bool)
    if math.comb(n, k) <= draws:
        subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
    else:
        rng = np.random.default_rng([seed, n, k])
        subsets = rng.permuted(np.tile(np.arange(n), (draws, 1)), axis=1)[:, :k]
    drawn = codes[subsets]  # (subsets, k) answer codes, -1 for no answer
    rows = np.broadcast_to(np.arange(len(subsets))[:, None], drawn.shape)
    m = len(right)
    votes = np.bincount((rows * m + drawn)[drawn >= 0], minlength=len(subsets) * m).reshape(len(subsets), m)
    top = votes.max(axis=1)
    tied = (votes == top[:, None]) & (top[:, None] > 0)
    score = np.where(top > 0, (tied & answer_right).sum(axis=1) / np.maximum(tied.sum(axis=1), 1), 0.0)
    return float(score.mean())


def answer_keys(group: dict) -> list:
    """The group's answers as majority@k compares them: its answer classes when given, else its answers."""
    if group.get("answer_classes") is not None:
        return [None if c < 0 else c for c in group["answer_classes"]]
    return list(group["answers"])


def summarize_groups(groups: Sequence[dict], correct_threshold: float = DEFAULT_CORRECT_THRESHOLD) -> dict:
    """Per-prompt and mean (± standard error over prompts) metrics of scored groups.

    Groups as in the module docstring, all with the same N; a response is correct when its score
    exceeds ``correct_threshold``. majority@k is ``None`` (unavailable)
    everywhere when no response of any group has an answer. ``truncated_fraction`` is the
    fraction of all responses cut by the token budget, ``None`` when the groups do not say."""
    if not groups:
        raise ValueError("summarize_groups needs at least one group")
    sizes = {len(g["scores"]) for g in groups}
    if len(sizes) != 1:
        raise ValueError(f"every prompt needs the same number of samples, got sizes {sorted(sizes)}")
    n = sizes.pop()
    keys = [answer_keys(g) for g in groups]
    answered = sum(a is not None for ks in keys for a in ks)
    per_prompt = []
    for g, ks in zip(groups, keys):
        correct = [s > correct_threshold for s in g["scores"]]
        c = sum(correct)
        per_prompt.append(
            {
                "prompt": g["prompt"],
                "correct": c,
                "pass_at_k": [pass_at_k(n, c, k) for k in range(1, n + 1)],
                "majority_at_k": [majority_at_k(ks, correct, k) for k in range(1, n + 1)] if answered else None,
                "distinct_strategies": len({s for s in g["strategies"] if s >= 0}),
                "distinct_correct_strategies": len({s for s, ok in zip(g["strategies"], correct) if s >= 0 and ok}),
            }
        )
    summary = {"n": n, "prompts": len(per_prompt), "correct_threshold": correct_threshold}
    summary["max_score"] = max(s for g in groups for s in g["scores"])
    summary["pass_at_k"] = [mean_se(col) for col in zip(*(p["pass_at_k"] for p in per_prompt))]
    summary["majority_at_k"] = (
        [mean_se(col) for col in zip(*(p["majority_at_k"] for p in per_prompt))] if answered else None
    )
    for key in ("distinct_strategies", "distinct_correct_strategies"):
        summary[key] = mean_se([p[key] for p in per_prompt])
    summary["answered_fraction"] = answered / (n * len(groups))
    if all(g.get("truncated") is not None for g in groups):
        summary["truncated_fraction"] = sum(sum(map(bool, g["truncated"])) for g in groups) / (n * len(groups))
    else:
        summary["truncated_fraction"] = None
    return {"summary": summary, "per_prompt": per_prompt}


def threshold_warning(summary: dict, model: str = "the model") -> str | None:
    """The warning to print when no response scored above the correct threshold: pass@k is then 0
    at every k, which partial-credit rewards (0.1, 0.45) cause at the default 0.5."""
    if summary["max_score"] > summary["correct_threshold"]:
        return None
    return (
        f"WARNING: no response of {model} scored above --correct-threshold {summary['correct_threshold']} (highest "
        f"score {summary['max_score']:g}), so pass@k and majority@k are 0 at every k; if the reward gives partial "
        "credit, set --correct-threshold below the score a correct response gets"
    )


def mean_se(values: Sequence[float]) -> dict:
    """Mean and its standard error (sample standard deviation / sqrt(count); 0 for one value)."""
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return {"mean": m, "se": math.sqrt(var / len(values))}
