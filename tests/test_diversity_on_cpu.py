"""Diversity backends on hand-made groups whose right partition is known."""

import numpy as np
import pytest
import torch

from polyepo_plugin.config import DiversityConfig, NgramOptions
from polyepo_plugin.diversity import ResponseGroups, make_backend
from polyepo_plugin.diversity.ngram import cluster_by_overlap, ngram_set
from polyepo_plugin.grouping import GroupLayout, strategy_codes
from brute_force import same_partition


def padded(sequences, width=12, pad=0):
    responses = torch.full((len(sequences), width), pad)
    mask = torch.zeros(len(sequences), width)
    for row, tokens in enumerate(sequences):
        responses[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return responses, mask


def test_ngram_groups_near_copies_and_separates_other_strategies():
    method_a = [5, 6, 7, 8, 9, 10, 11, 12]
    method_b = [40, 41, 42, 43, 44, 45, 46, 47]
    sequences = [
        method_a,
        method_a[:-1] + [99],  # one token changed: same strategy
        method_b,
        method_b[:6],  # a shorter take on the same method
        [70, 71, 72, 73],
        [],  # empty: degenerate
    ]
    responses, mask = padded(sequences)
    index = np.array(["g"] * len(sequences), dtype=object)
    layout = GroupLayout.from_index(index)
    backend = make_backend(DiversityConfig(backend="ngram", ngram=NgramOptions(n=3, threshold=0.4)))
    labels = backend.assign(ResponseGroups(layout, mask, {"responses": responses}, None)).labels
    assert same_partition(labels.tolist(), [0, 0, 1, 1, 2, -1])


def test_ngram_ignores_tokens_outside_the_mask_and_never_links_across_groups():
    responses, mask = padded([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]], width=8, pad=7)
    responses[2, 4:] = torch.tensor([50, 51, 52, 53])  # differs only under a zero mask
    index = np.array(["x", "x", "y"], dtype=object)
    layout = GroupLayout.from_index(index)
    labels = (
        make_backend(DiversityConfig(backend="ngram"))
        .assign(ResponseGroups(layout, mask, {"responses": responses}, None))
        .labels
    )
    assert labels[0] == labels[1]
    strategies = layout.compact_strategies(labels)
    assert strategies[layout.valid].tolist() == [0, 0, 0]


def test_ngram_clustering_is_permutation_invariant():
    rng = np.random.default_rng(0)
    sets = [ngram_set(torch.as_tensor(rng.integers(0, 5, size=10)), 2) for _ in range(9)]
    labels = cluster_by_overlap(sets, 0.5)
    order = rng.permutation(9)
    permuted = cluster_by_overlap([sets[i] for i in order], 0.5)
    assert same_partition(permuted, [labels[i] for i in order])


def test_jaccard_threshold_is_inclusive():
    a, b = frozenset({1, 2, 3}), frozenset({2, 3, 4})  # Jaccard 2/4
    assert cluster_by_overlap([a, b], 0.5) == [0, 0]
    assert cluster_by_overlap([a, b], 0.51) == [0, 1]


@pytest.mark.parametrize(
    "labels,expected",
    [
        ([3, 3, 0, -2], [0, 0, 1, -1]),
        (["induction", "algebra", "induction", None], [0, 1, 0, -1]),
        ([1.0, 2.0, float("nan"), 1], [0, 1, -1, 0]),
        (np.array([4, -1, 4, 2]), [0, -1, 0, 1]),
    ],
)
def test_strategy_codes(labels, expected):
    assert same_partition(strategy_codes(labels).tolist(), expected)


def test_compact_strategies_numbers_labels_within_each_group():
    index = np.array(["a", "b", "a", "b", "a"], dtype=object)
    layout = GroupLayout.from_index(index)
    compact = layout.compact_strategies(np.array([900, 5, -1, 5, 17]))
    assert compact.tolist() == [[1, -1, 0], [0, 0, -1]]
    assert layout.valid.tolist() == [[True, True, True], [True, True, False]]


class IdsAsWords:
    """A tokenizer whose token i decodes to the word ``w<i>``: what was read is visible."""

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(f"w{i}" for i in ids)


def test_backends_read_the_model_turns_of_an_agent_loop_response_a_line_each():
    # model turn [5, 6], tool observation [90, 91] (masked), model turn [7], right padding
    responses = torch.tensor([[5, 6, 90, 91, 7, 0], [8, 0, 0, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0]])
    groups = ResponseGroups(
        GroupLayout.from_index(np.array(["g", "g"], dtype=object)), mask, {"responses": responses}, None, IdsAsWords()
    )
    assert groups.response_texts("custom") == ["w5 w6\nw7", "w8"]
    assert [t.tolist() for t in groups.response_tokens("ngram")] == [[5, 6, 7], [8]]


def test_a_mask_of_another_width_than_the_responses_is_a_clear_error():
    groups = ResponseGroups(
        GroupLayout.from_index(np.array(["g"], dtype=object)),
        torch.ones(1, 12),
        {"responses": torch.ones(1, 5, dtype=torch.long)},
        None,
    )
    with pytest.raises(ValueError, match=r"response mask is \(1, 12\) but the responses are \(1, 5\)"):
        groups.response_tokens("ngram")
