"""The benchmark's soft count of strategies (``bench_strategy_detection --soft-count``) against
enumeration: with a 0/1 block kernel it is the number of strategies, so its advantages are
Poly-EPO's under those labels; between two responses, a partial similarity pays part of it."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_strategy_detection as bench  # noqa: E402


@pytest.mark.parametrize("labels", [[0] * 8, [0, 0, 0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 0, 1, 2, 3], list(range(8))])
def test_a_block_kernel_gives_poly_epo_advantages_under_its_labels(labels):
    kernel = (np.array(labels)[:, None] == np.array(labels)[None, :]).astype(float)
    expected = bench.all_correct_advantages([labels])[0]
    np.testing.assert_allclose(bench.soft_count_advantages(kernel), expected, atol=1e-12)


def test_soft_count_matches_a_direct_enumeration():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (8, 8))
    kernel = (x + x.T) / 2
    np.fill_diagonal(kernel, 1.0)
    subsets = list(itertools.combinations(range(8), 4))
    score = {s: sum(1 / sum(kernel[i, j] for j in s) for i in s) / 4 for s in subsets}
    baseline = np.mean(list(score.values()))
    expected = [np.mean([score[s] for s in subsets if i in s]) - baseline for i in range(8)]
    np.testing.assert_allclose(bench.soft_count_advantages(kernel), expected, atol=1e-12)


def test_a_partial_similarity_pays_part_of_a_split():
    one, split = np.ones((8, 8)), np.eye(8)
    split[:6, :6] = 1.0
    split[6:, 6:] = 1.0
    half = split.copy()
    half[:6, 6:] = half[6:, :6] = 0.5
    rare = [bench.soft_count_advantages(k)[7] for k in (one, half, split)]
    assert rare[0] == pytest.approx(0.0, abs=1e-12) and 0 < rare[1] < rare[2]
