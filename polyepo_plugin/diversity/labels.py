"""``labels`` backend: strategies emitted per response by the reward function.

A verl reward function returning ``{"score": ..., "strategy": ...}`` puts ``strategy`` in the
reward extra info, which reaches the estimator as ``non_tensor_batch["strategy"]`` (the key is
``diversity.key``). Integers or strings; ``None`` or a negative integer is degenerate.
"""

from __future__ import annotations

from polyepo_plugin.config import CONFIG_ROOT
from polyepo_plugin.diversity.groups import Labelling, MissingInputError, ResponseGroups, missing_input
from polyepo_plugin.grouping import strategy_codes


class RewardExtraInfoLabels:
    def __init__(self, diversity_config):
        self.key = diversity_config.key

    def assign(self, groups: ResponseGroups) -> Labelling:
        needs = f"non_tensor_batch[{self.key!r}]"
        if groups.non_tensor_batch is None:
            raise missing_input("labels", needs, "no non_tensor_batch")
        if self.key not in groups.non_tensor_batch:
            available = ", ".join(sorted(map(str, groups.non_tensor_batch))) or "none"
            raise MissingInputError(
                f"{CONFIG_ROOT}.diversity.backend=labels reads {needs}, which is missing (keys present: {available}). "
                f"Return {self.key!r} from the reward function alongside 'score', or set "
                f"{CONFIG_ROOT}.diversity.key to the key it uses."
            )
        labels = groups.non_tensor_batch[self.key]
        if len(labels) != groups.layout.num_rows:
            raise ValueError(
                f"{CONFIG_ROOT}.diversity.backend=labels: {needs} has {len(labels)} entries for {groups.layout.num_rows} responses"
            )
        return Labelling.complete(strategy_codes(labels), groups.layout.num_groups)
