"""The warning when strategy labels carry no signal (all distinct, or all one, nearly always)."""

import logging

import numpy as np
import torch

from polyepo_plugin.estimator import compute_poly_epo_advantage
from polyepo_plugin.diversity.label_signal import WINDOW_STEPS, LabelSignalMonitor


def step(labels):
    strategies = torch.tensor(labels)
    return strategies, torch.ones_like(strategies, dtype=torch.bool)


def test_all_distinct_labels_are_reported_inert_once_the_window_is_full(caplog):
    monitor = LabelSignalMonitor()
    with caplog.at_level(logging.WARNING):
        seen = [monitor.observe(*step([[0, 1, 2, 3], [4, 5, 6, 7]])) for _ in range(WINDOW_STEPS + 2)]
    assert [m["poly_epo/labels_inert"] for m in seen] == [0.0] * (WINDOW_STEPS - 1) + [1.0] * 3
    assert seen[0]["poly_epo/all_distinct_group_fraction"] == 1.0
    assert caplog.text.count("the diversity term is inert") == 1 and "all distinct" in caplog.text


def test_single_strategy_groups_are_the_other_inert_kind(caplog):
    monitor = LabelSignalMonitor()
    with caplog.at_level(logging.WARNING):
        for _ in range(WINDOW_STEPS):
            metrics = monitor.observe(*step([[0, 0, 0, -1], [2, 2, 2, 2]]))
    assert metrics["poly_epo/labels_inert"] == 1.0 and metrics["poly_epo/single_strategy_group_fraction"] == 1.0
    assert "a single strategy" in caplog.text


def test_labels_with_signal_stay_quiet(caplog):
    monitor = LabelSignalMonitor()
    with caplog.at_level(logging.WARNING):
        for _ in range(3 * WINDOW_STEPS):
            metrics = monitor.observe(*step([[0, 0, 1, 2], [0, 1, 1, 1], [0, 1, 2, 3], [5, 5, 5, 5]]))
    assert metrics["poly_epo/labels_inert"] == 0.0
    assert metrics["poly_epo/all_distinct_group_fraction"] == 0.25
    assert caplog.text == ""


def test_groups_of_fewer_than_two_real_responses_do_not_count():
    metrics = LabelSignalMonitor().observe(*step([[0, -1, -1, -1], [0, 1, 0, 1]]))
    assert metrics["poly_epo/all_distinct_group_fraction"] == 0.0
    assert metrics["poly_epo/single_strategy_group_fraction"] == 0.0


def test_the_estimator_reports_the_label_signal():
    rewards = torch.zeros(8, 3)
    rewards[:, -1] = torch.tensor([1.0, 0, 1, 0, 1, 1, 0, 0])
    metrics = {}
    compute_poly_epo_advantage(
        rewards,
        torch.ones(8, 3),
        index=np.array(["a"] * 4 + ["b"] * 4, dtype=object),
        config={"poly_epo": {"diversity": {"backend": "labels"}}},
        non_tensor_batch={"strategy": np.array(["x", "y", "z", "w", "x", "x", "y", "y"], dtype=object)},
        metrics=metrics,
    )
    assert metrics["poly_epo/all_distinct_group_fraction"] == 0.5
    assert metrics["poly_epo/single_strategy_group_fraction"] == 0.0
