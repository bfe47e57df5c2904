"""``semantic`` backend: strategies recovered from whole response texts, robust to paraphrase.

Decodes each response, removes its final answer (``final_answer``), embeds the rest whole with
the sentence model (the shipped MiniLM by default, offline), and clusters each group with
``text_clusters.label_texts``: what the group's responses all share is discounted, the
rationale's numbers, words and worked-step shapes are compared as further channels
(``strategy_terms``), and clusters are merged by average linkage on within-group standardised
similarities.
A blank response is degenerate. See ``polyepo_plugin.diversity.text_clusters`` for the formulas.
A cancelled labelling stops at the next model batch or group.
"""

from __future__ import annotations

import numpy as np

from polyepo_plugin.diversity.embedding import check_model_ready, load_model
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.diversity.text_clusters import label_texts
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
            encoder=options.encoder,
            unit_tokens=options.unit_tokens,
            batch_size=options.batch_size,
            checkpoint=groups.stop_if_cancelled,
            threshold=options.threshold,
            numbers_weight=options.numbers_weight,
            words_weight=options.words_weight,
            steps_weight=options.steps_weight,
        )
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        for rows, group_labels in zip(members, per_group):
            labels[rows] = group_labels
        return Labelling.complete(labels, groups.layout.num_groups)
