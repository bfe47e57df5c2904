"""``ngram`` backend (the default): responses that share many token n-grams share a strategy.

Cheap, deterministic and dependency-free: it reads ``batch["responses"]`` under the response
mask, never decodes text. Two responses are linked when the Jaccard similarity of their n-gram
sets reaches ``threshold``; strategies are the connected components of those links, so the
partition does not depend on the order of the responses. An empty response is degenerate.
It measures surface overlap, a proxy for strategy: tune ``n`` and ``threshold`` per task.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.diversity.graph import linked_components
from polyepo_plugin.grouping import DEGENERATE

_HASH_BASE = 1_000_003


def ngram_set(tokens: torch.Tensor, n: int) -> frozenset[int]:
    """Hashes of the n-grams of a 1-D token sequence (the whole sequence if shorter than n)."""
    tokens = tokens.long()
    if tokens.numel() == 0:
        return frozenset()
    width = min(n, tokens.numel())
    windows = tokens.unfold(0, width, 1)
    powers = _HASH_BASE ** torch.arange(width, dtype=torch.long)  # int64 overflow wraps: fine for a hash
    return frozenset((windows * powers).sum(1).tolist())


def cluster_by_overlap(ngram_sets: Sequence[frozenset[int]], threshold: float) -> list[int]:
    """Connected components of the 'Jaccard >= threshold' graph; ``-1`` for empty sets."""

    def linked(a: int, b: int) -> bool:
        set_a, set_b = ngram_sets[a], ngram_sets[b]
        return len(set_a & set_b) >= threshold * len(set_a | set_b)

    return linked_components([bool(s) for s in ngram_sets], linked)


class NgramOverlap:
    def __init__(self, diversity_config):
        self.n = diversity_config.ngram.n
        self.threshold = diversity_config.ngram.threshold

    def assign(self, groups: ResponseGroups) -> Labelling:
        tokens = groups.response_tokens("ngram")
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        for members in groups.member_rows:
            labels[members] = cluster_by_overlap([ngram_set(tokens[row], self.n) for row in members], self.threshold)
        return Labelling.complete(labels, len(groups.member_rows))
