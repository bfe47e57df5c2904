"""``semantic`` backend: strategies from whole response texts, split only on strong evidence.

Decodes each response and its prompt, removes the final answer (``final_answer``), embeds the
rest whole with the sentence model (the shipped MiniLM by default, offline), and labels each
group with ``text_clusters.label_texts``: responses are one strategy unless the numbers they
compute, or their embeddings once the generic-text direction is removed, differ clearly.
A blank response is degenerate. See ``polyepo_plugin.diversity.text_clusters`` for the formulas.
A cancelled labelling stops at the next response, model batch or group.
"""

from __future__ import annotations

import numpy as np

from polyepo_plugin.diversity.embedding import check_model_ready, load_model
from polyepo_plugin.diversity.groups import Labelling, MissingInputError, ResponseGroups
from polyepo_plugin.diversity.text_clusters import DEFAULT_EVIDENCE, label_texts
from polyepo_plugin.grouping import DEGENERATE


class SemanticClusters:
    def __init__(self, diversity_config):
        self.options = diversity_config.semantic

    def check_ready(self) -> None:
        check_model_ready(self.options.model, self.options.device, "semantic")

    def assign(self, groups: ResponseGroups) -> Labelling:
        texts = groups.response_texts("semantic")
        members = groups.member_rows
        options = self.options
        per_group = label_texts(
            [[texts[row] for row in rows] for rows in members],
            load_model(options.model, options.device),
            prompts=_group_prompts(groups, members),
            checkpoint=groups.stop_if_cancelled,
            evidence={key: getattr(options, key) for key in DEFAULT_EVIDENCE},
            encoder=options.encoder,
            unit_tokens=options.unit_tokens,
            batch_size=options.batch_size,
        )
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        for rows, group_labels in zip(members, per_group):
            labels[rows] = group_labels
        return Labelling.complete(labels, groups.layout.num_groups)


def _group_prompts(groups: ResponseGroups, members: list[list[int]]) -> list[str] | None:
    """Each group's prompt (its first row's), so that the problem's own numbers are not read as
    computed; None where the batch has no prompts (then every stated number counts)."""
    try:
        prompts = groups.prompt_texts("semantic")
    except MissingInputError:
        return None
    return [prompts[rows[0]] if rows else "" for rows in members]
