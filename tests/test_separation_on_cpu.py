"""The benchmark's separation study (``bench_strategy_detection --separation``): its threshold-free
score against a count over every pair, its best setting kept to settings that keep one-method
groups whole, and the word-matching similarity's defining properties with the real
all-MiniLM-L6-v2."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_strategy_detection as bench  # noqa: E402
from strategy_sources import Group  # noqa: E402

from polyepo_plugin.diversity import text_clusters as tc  # noqa: E402


def _groups(rng) -> tuple[list[Group], list[np.ndarray]]:
    groups = [Group(["x"] * 8, [0] * 8, "", "one"), Group(["x"] * 8, [0, 0, 1, 1, 2, 2, 0, 1], "", "multi")]
    similarities = []
    for _ in groups:
        s = rng.integers(0, 4, (8, 8)) / 4  # coarse values: ties happen
        similarities.append(np.triu(s, 1) + np.triu(s, 1).T + np.eye(8))
    return groups, similarities


def test_wording_auc_counts_every_wording_pair_against_every_method_pair():
    groups, similarities = _groups(np.random.default_rng(5))
    wordings = [similarities[0][i, j] for i, j in itertools.combinations(range(8), 2)]
    truth = groups[1].truth
    methods = [similarities[1][i, j] for i, j in itertools.combinations(range(8), 2) if truth[i] != truth[j]]
    wins = sum(1.0 if w > m else 0.5 if w == m else 0.0 for w in wordings for m in methods)
    assert bench.wording_auc(groups, similarities) == pytest.approx(wins / (len(wordings) * len(methods)))


def test_wording_auc_is_one_half_without_signal_and_one_when_wordings_always_score_higher():
    groups, _ = _groups(np.random.default_rng(0))
    flat = [np.full((8, 8), 0.3), np.full((8, 8), 0.3)]
    assert bench.wording_auc(groups, flat) == 0.5
    apart = [np.full((8, 8), 0.9), np.full((8, 8), 0.1)]
    assert bench.wording_auc(groups, apart) == 1.0
    assert bench.wording_auc(groups[:1], flat[:1]) is None  # no pair of different methods to compare


def _prepared(vectors: list[list[float]], sizes: list[int]) -> tc.PreparedGroups:
    x = np.array(vectors, dtype=float)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    m = len(x)
    return tc.PreparedGroups(x, [set()] * m, [set()] * m, {}, [False] * m, sizes)


def test_best_setting_scores_the_default_decision_and_keeps_only_settings_that_keep_groups_whole():
    one = Group(["x"] * 4, [0] * 4, "", "one", "m")
    multi = Group(["x"] * 4, [0, 0, 1, 1], "", "multi")
    # methods orthogonal (cosine 0), wordings of one method at cosine 0.6: every embedding_threshold
    # of the grid below 0.6 keeps them whole and parts the methods (ARI 1); 0.6 and up split them
    wording = [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]]
    mixed = _prepared(wording * 2 + [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], [4, 4])
    step = _prepared(wording * 2, [4])
    best = bench.best_setting([one, multi], mixed, [step])
    assert best["ari"] == pytest.approx(1.0) and best["one_pct"] == 100.0 and best["collapsed_one_pct"] == 100.0
    assert best["embedding_threshold"] < 0.6
    split_step = _prepared([[1.0, 0.0, 0.0]] * 2 + [[0.0, 1.0, 0.0]] * 2, [4])  # a collapsed group no setting keeps whole
    assert bench.best_setting([one, multi], mixed, [split_step]) is None


@pytest.fixture(scope="module")
def model():
    from polyepo_plugin.diversity.embedding import load_model

    return load_model("all-MiniLM-L6-v2", "cpu")


def test_word_matching_reads_words_not_their_order_and_not_symbols(model):
    texts = [
        "Reduce the exponent modulo four by Fermat's little theorem.",
        "By Fermat's little theorem, reduce modulo four the exponent.",  # same words, other order
        "List the powers until the residues repeat with period four.",
        "= + * ^ ( ) -> ...",  # no alphabetic word piece
    ]
    [similarity] = bench.word_matching([Group(texts, [0, 0, 1, 2], "", "multi")], model)
    np.testing.assert_allclose(similarity, similarity.T)
    np.testing.assert_allclose(np.diag(similarity), 1.0)
    assert similarity[0, 1] == pytest.approx(1.0)
    assert similarity[0, 2] < similarity[0, 1]
    assert similarity[3, :3].tolist() == [0.0, 0.0, 0.0]


def test_word_matching_counts_each_word_piece_once(model):
    texts = ["reduce the exponent by the theorem", "theorem theorem reduce the exponent by the the theorem"]
    [similarity] = bench.word_matching([Group(texts, [0, 0], "", "one")], model)
    assert similarity[0, 1] == pytest.approx(1.0)
