"""Strategy-diversity backends: each labels every response of a group with a strategy.

A backend is built from the ``diversity`` options and has one method,
``assign(groups: ResponseGroups) -> np.ndarray``: an int64 label per flat row, ``-1`` for a
degenerate response (it counts for no strategy). Labels are compared only within a group, so a
backend may number them however it likes. Register a new backend with ``@register_backend``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from polyepo_plugin.grouping import GroupLayout


class MissingInputError(ValueError):
    """The estimator was called without an input its diversity backend reads."""


@dataclass(frozen=True)
class ResponseGroups:
    """What a backend may read: the group layout plus verl's batch, as the estimator got it."""

    layout: GroupLayout
    response_mask: torch.Tensor
    batch: Mapping[str, Any] | None
    non_tensor_batch: Mapping[str, Any] | None


class StrategyBackend(Protocol):
    def assign(self, groups: ResponseGroups) -> np.ndarray: ...


BACKENDS: dict[str, Callable[..., StrategyBackend]] = {}


def register_backend(name: str):
    def decorator(factory):
        BACKENDS[name] = factory
        return factory

    return decorator


def make_backend(diversity_config) -> StrategyBackend:
    return BACKENDS[diversity_config.backend](diversity_config)


# Imported for their registration side effect; both are light (numpy/torch only).
from polyepo_plugin.diversity import labels, ngram  # noqa: E402,F401
