"""Whether the strategy labels carry any signal, watched over the last few steps.

Poly-EPO's diversity term d(S) = distinct strategies in S / k only varies between subsets when a
group's labels are neither all distinct nor all one strategy:

- every response its own strategy: d(S) = 1 for every subset, and the set advantage is a
  rescaled GRPO advantage (the labels see wording, not strategy);
- every response one strategy: d(S) = 1/k for every subset, and diversity is never rewarded.

A group counts when it has at least two non-degenerate responses. When, over the last
``window`` steps, at least ``threshold`` of the counted groups are of one of these two kinds,
the diversity term is inert: this is reported as the ``poly_epo/labels_inert`` metric (1 or 0)
every step, and said once per kind in a WARNING with what to change.
"""

from __future__ import annotations

import logging
from collections import deque

import torch

from polyepo_plugin.grouping import distinct_per_group

logger = logging.getLogger(__name__)

WINDOW_STEPS = 5
INERT_THRESHOLD = 0.9
ADVICE = {
    "all_distinct": (
        "nearly every response of a group gets a strategy of its own, so every subset has the same diversity and "
        "poly_epo trains like GRPO with a smaller step. The labels see wording, not strategy: raise the backend's "
        "similarity tolerance (a lower diversity.ngram.threshold or diversity.semantic.embedding_threshold), or use the "
        "semantic or judge backend."
    ),
    "all_one": (
        "nearly every group gets a single strategy, so diversity is never rewarded. The default semantic backend "
        "splits a group only on strong evidence (different computed numbers or programs, clearly different text), so that it "
        "does not pay for rewording; where it cannot tell methods apart it pays nothing. "
        "To reward strategies, label them with an LLM judge, as the paper did (diversity.backend=judge), or with your reward's labels "
        "(diversity.backend=labels); a higher diversity.semantic.embedding_threshold splits more, some of it by "
        "wording. Other backends: the labels merge different strategies (e.g. a long shared restatement, or answers "
        "compared instead of methods): use a stricter setting or the judge."
    ),
}


class LabelSignalMonitor:
    """Counts all-distinct and all-one groups over a sliding window of steps."""

    def __init__(self, window: int = WINDOW_STEPS, threshold: float = INERT_THRESHOLD):
        self.threshold = threshold
        self._steps: deque[tuple[int, int, int]] = deque(maxlen=window)  # (counted, all distinct, all one)
        self._warned: set[str] = set()

    def observe(self, strategies: torch.Tensor, valid: torch.Tensor) -> dict[str, float]:
        """One step's ``(G, N)`` labels (``-1`` degenerate) and member mask -> its metrics."""
        member = valid & (strategies >= 0)
        members = member.sum(1)
        distinct = distinct_per_group(strategies, member)
        counted = members >= 2
        all_distinct = int((counted & (distinct == members)).sum())
        all_one = int((counted & (distinct == 1)).sum())
        self._steps.append((int(counted.sum()), all_distinct, all_one))
        total = sum(step[0] for step in self._steps)
        fractions = {
            "all_distinct": sum(step[1] for step in self._steps) / total if total else 0.0,
            "all_one": sum(step[2] for step in self._steps) / total if total else 0.0,
        }
        inert = [kind for kind, fraction in fractions.items() if total and fraction >= self.threshold]
        full_window = len(self._steps) == self._steps.maxlen
        for kind in inert:
            if full_window and kind not in self._warned:
                self._warned.add(kind)
                logger.warning(
                    "poly_epo: the diversity term is inert: over the last %d steps %.0f%% of groups were %s; %s",
                    len(self._steps),
                    100 * fractions[kind],
                    "all distinct" if kind == "all_distinct" else "a single strategy",
                    ADVICE[kind],
                )
        step_groups = int(counted.sum())
        return {
            "poly_epo/all_distinct_group_fraction": all_distinct / step_groups if step_groups else 0.0,
            "poly_epo/single_strategy_group_fraction": all_one / step_groups if step_groups else 0.0,
            "poly_epo/labels_inert": float(bool(inert) and full_window),
        }
