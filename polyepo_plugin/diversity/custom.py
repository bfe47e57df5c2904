"""``custom`` backend: a user function labels each group, loaded from a file like verl's custom rewards.

Set ``diversity.custom.path=/path/file.py`` and ``diversity.custom.name=fn`` (default
``label_strategies``), where::

    def fn(prompt: str, responses: list[str]) -> list[int | str | None]:
        '''One label per response, in order. Equal labels share a strategy; None or a negative
        integer marks a degenerate response (it counts for no strategy).'''

It is called once per prompt group with the decoded prompt and responses. A wrong number of
labels, an unhashable label or an exception stops the step with an error naming the function.
"""

from __future__ import annotations


import numpy as np

from polyepo_plugin.config import CONFIG_ROOT
from polyepo_plugin.user_code import load_function
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.grouping import DEGENERATE, strategy_codes


class UserLabels:
    def __init__(self, diversity_config):
        options = diversity_config.custom
        # DiversityConfig already requires a path with backend=custom; a missing file or name is
        # a ValueError naming the key.
        self.function = load_function(options.path, options.name, f"{CONFIG_ROOT}.diversity.custom")
        self.where = f"{CONFIG_ROOT}.diversity.custom function {options.name!r} of {options.path}"

    def assign(self, groups: ResponseGroups) -> Labelling:
        texts = groups.response_texts("custom")
        prompts = groups.prompt_texts("custom")
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        for uid, members in zip(groups.layout.uids, groups.member_rows):
            labels[members] = self.label_group(prompts[members[0]], [texts[row] for row in members], uid)
        return Labelling.complete(labels, len(groups.member_rows))

    def label_group(self, prompt: str, responses: list[str], uid) -> np.ndarray:
        try:
            result = list(self.function(prompt, responses))
        except Exception as error:
            raise ValueError(f"{self.where} failed on group {uid!r}: {type(error).__name__}: {error}") from error
        if len(result) != len(responses):
            raise ValueError(
                f"{self.where} returned {len(result)} labels for the {len(responses)} responses of group {uid!r}; "
                "expected one label (int, str or None) per response"
            )
        values = np.empty(len(result), dtype=object)  # keeps ints and strings apart: -1 must not become '-1'
        for position, value in enumerate(result):
            values[position] = value
        try:
            return strategy_codes(values)
        except TypeError as error:
            raise ValueError(
                f"{self.where} returned a label that is not an int, str or None for group {uid!r}: {error}"
            ) from None
