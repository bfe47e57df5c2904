"""Strategies as the connected components of a within-group similarity graph.

Shared by the backends that link pairs of responses (``ngram``: n-gram Jaccard, ``embedding``:
cosine similarity). Components do not depend on the order of the responses, so neither does
the partition, and linking is transitive: a chain of close paraphrases is one strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from polyepo_plugin.grouping import DEGENERATE


def linked_components(present: Sequence[bool], linked: Callable[[int, int], bool]) -> list[int]:
    """One label per item: the component of the 'linked(a, b)' graph among present items.

    ``linked`` is asked only for pairs a < b of present items; absent items get ``-1``
    (degenerate). Labels are the smallest member index of each component.
    """
    parent = list(range(len(present)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]  # path halving keeps the trees flat
            a = parent[a]
        return a

    for a in range(len(present)):
        if not present[a]:
            continue
        for b in range(a + 1, len(present)):
            if present[b] and linked(a, b):
                low, high = sorted((root(a), root(b)))
                parent[high] = low
    return [root(a) if present[a] else DEGENERATE for a in range(len(present))]
