"""``labels`` backend: strategies emitted per response by the reward function.

A verl reward function returning ``{"score": ..., "strategy": ...}`` puts ``strategy`` in the
reward extra info, which reaches the estimator as ``non_tensor_batch["strategy"]`` (the key is
``diversity.key``). Integers or strings; ``None`` or a negative integer is degenerate.
"""

from __future__ import annotations

import numpy as np

from polyepo_plugin.config import CONFIG_ROOT
from polyepo_plugin.diversity import MissingInputError, ResponseGroups, register_backend
from polyepo_plugin.grouping import strategy_codes


@register_backend("labels")
class RewardExtraInfoLabels:
    def __init__(self, diversity_config):
        self.key = diversity_config.key

    def assign(self, groups: ResponseGroups) -> np.ndarray:
        where = f"{CONFIG_ROOT}.diversity.backend=labels reads non_tensor_batch[{self.key!r}]"
        if groups.non_tensor_batch is None:
            raise MissingInputError(
                f"{where}, but the estimator got no non_tensor_batch. Stock verl 0.9.1 passes only rewards, "
                "masks and uids to registered estimators; run with the polyepo trainer integration or a verl "
                "patched with patches/, or pick an objective that needs no strategies (max, mean)."
            )
        if self.key not in groups.non_tensor_batch:
            available = ", ".join(sorted(map(str, groups.non_tensor_batch))) or "none"
            raise MissingInputError(
                f"{where}, which is missing (keys present: {available}). Return {self.key!r} from the reward "
                f"function alongside 'score', or set {CONFIG_ROOT}.diversity.key to the key it uses."
            )
        labels = groups.non_tensor_batch[self.key]
        if len(labels) != groups.layout.num_rows:
            raise ValueError(f"{where}: it has {len(labels)} entries for {groups.layout.num_rows} responses")
        return strategy_codes(labels)
