"""Agreement between two labellings of the same responses (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def adjusted_rand_index(a: Sequence[int], b: Sequence[int]) -> float:
    """Adjusted Rand index of two partitions of the same n items (labels compared as values).

    With n_ij the contingency counts, a_i / b_j its row / column sums and C2(x) = x(x-1)/2:
    ARI = (sum C2(n_ij) - E) / ((sum C2(a_i) + sum C2(b_j)) / 2 - E),
    E = sum C2(a_i) * sum C2(b_j) / C2(n). 1 for identical partitions, about 0 for independent
    ones. When both partitions are a single class, or both all singletons, the denominator is 0:
    returns 1.0 if they are identical (the convention of scikit-learn) - callers that must not
    count such cases as agreement should leave them out themselves.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"labellings of different lengths: {a.shape} and {b.shape}")
    n = a.size
    if n < 2:
        return 1.0
    _, a_codes = np.unique(a, return_inverse=True)
    _, b_codes = np.unique(b, return_inverse=True)
    table = np.zeros((a_codes.max() + 1, b_codes.max() + 1), dtype=np.int64)
    np.add.at(table, (a_codes, b_codes), 1)

    def pairs(x):
        return (x * (x - 1) // 2).sum()

    index = pairs(table)
    rows, columns = pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * columns / (n * (n - 1) / 2)
    maximum = (rows + columns) / 2
    if maximum == expected:
        return 1.0 if index == maximum else 0.0
    return float((index - expected) / (maximum - expected))


def is_single_class(labels: Sequence[int]) -> bool:
    return len(set(np.asarray(labels).tolist())) <= 1


def agreement_with_truth(predicted: Sequence[Sequence[int]], truths: Sequence[Sequence[int]]) -> dict:
    """How well predicted strategy labels recover the true ones, over many groups.

    ``predicted[g]`` and ``truths[g]`` label the same responses of group g; labels compare only
    within a group. A response whose true label is < 0 has no strategy (degenerate) and is left
    out; a predicted label < 0 links to nothing (a class of its own). Returns

    - ``ari``: mean adjusted Rand index over the groups with >= 2 true strategies (a group with
      one strategy would count as agreement by construction, so it is left out); None if none;
    - ``precision`` / ``recall``: over all pairs of responses in the same group, of the pairs
      linked by the prediction, the share with the same true strategy, and of the pairs with
      the same true strategy, the share linked;
    - ``degenerate``: among the groups with >= 2 true strategies, the share labelled all-one or
      all-distinct (what a backend that sees nothing would return);
    - ``groups``: how many groups the ARI averages over.
    """
    aris, degenerate = [], 0
    tp = fp = fn = 0
    for labels, truth in zip(predicted, truths, strict=True):
        labels, truth = np.asarray(labels), np.asarray(truth)
        kept = truth >= 0
        labels, truth = labels[kept], truth[kept]
        # Unlinked responses become singletons: distinct negative ids.
        labels = np.where(labels >= 0, labels, -1 - np.arange(labels.size))
        if not is_single_class(truth):
            aris.append(adjusted_rand_index(truth, labels))
            found = len(set(labels.tolist()))
            degenerate += found in (1, len(labels))
        same = truth[:, None] == truth[None, :]
        linked = labels[:, None] == labels[None, :]
        upper = np.triu(np.ones_like(same), k=1)
        tp += int((same & linked & upper).sum())
        fp += int((linked & ~same & upper).sum())
        fn += int((same & ~linked & upper).sum())
    return {
        "ari": float(np.mean(aris)) if aris else None,
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "degenerate": degenerate / max(len(aris), 1),
        "groups": len(aris),
    }
