"""Strategy-diversity backends: the interface and the registry, nothing else.

A backend labels every response of a group with a strategy. It is a class built from the
``DiversityConfig`` with one method, ``assign(groups: ResponseGroups) -> Labelling``
(``polyepo_plugin.diversity.groups``): an int64 label per flat row, ``-1`` for a degenerate
response (it counts for no strategy), plus the groups whose labelling failed. Labels are
compared only within a group, so a backend may number them however it likes. A backend may
also define ``check_ready()``, which the start-up checks call once before any model loads
(e.g. to reach an endpoint or load a model), ``cancel()``, which aborts the work in flight of
its cancelled labellings, and ``close()``, which releases what it keeps between steps (the
answer backend's worker process) when a trainer's ``fit`` ends.

The built-in backends are named here and imported only when one is built, so importing the
package (which ``import verl`` does in every process) stays light. Add your own with
``@register_backend(name)`` on its class.
"""

from __future__ import annotations

import dataclasses
import importlib
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

import numpy as np

from polyepo_plugin.config import CONFIG_ROOT, ONE_STRATEGY, DiversityConfig
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.grouping import DEGENERATE

BUILTIN_BACKENDS = {
    "ngram": "polyepo_plugin.diversity.ngram:NgramOverlap",
    "labels": "polyepo_plugin.diversity.labels:RewardExtraInfoLabels",
    "judge": "polyepo_plugin.diversity.judge:LlmJudge",
    "answer": "polyepo_plugin.diversity.answer:AnswerEquivalence",
    "embedding": "polyepo_plugin.diversity.embedding:EmbeddingSimilarity",
    "semantic": "polyepo_plugin.diversity.semantic:SemanticClusters",
    "custom": "polyepo_plugin.diversity.custom:UserLabels",
}
_registered: dict[str, Callable[[DiversityConfig], StrategyBackend]] = {}
_built: weakref.WeakSet = weakref.WeakSet()


class StrategyBackend(Protocol):
    def assign(self, groups: ResponseGroups) -> Labelling: ...


def register_backend(name: str):
    """Class decorator: make ``diversity.backend=name`` build this class."""

    def decorator(factory):
        _registered[name] = factory
        return factory

    return decorator


def backend_names() -> list[str]:
    return sorted({*BUILTIN_BACKENDS, *_registered})


def backend_class(name: str) -> Callable[[DiversityConfig], StrategyBackend]:
    """The class registered as ``name``; an unknown name is a ``ValueError`` listing the valid ones."""
    if name in _registered:
        return _registered[name]
    if name not in BUILTIN_BACKENDS:
        choices = ", ".join(repr(n) for n in backend_names())
        raise ValueError(f"{CONFIG_ROOT}.diversity.backend={name!r}: expected one of {choices}")
    module, _, attribute = BUILTIN_BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


@lru_cache(maxsize=16)
def make_backend(diversity_config: DiversityConfig) -> StrategyBackend:
    """The backend for these options, built once per run (the config is frozen and hashable):
    a judge's prompt file is read, a user's file loaded, once."""
    backend = backend_class(diversity_config.backend)(diversity_config)
    _built.add(backend)
    return backend


def close_backends() -> None:
    """Release what the backends built so far keep between steps; they start it again when used."""
    for backend in list(_built):
        if hasattr(backend, "close"):
            backend.close()


def check_backend_ready(diversity_config: DiversityConfig) -> StrategyBackend:
    """Build the backend (its name, files and packages are checked) and run its ``check_ready``
    when it has one (what exists only at run time: an endpoint, a model, a device); returns it."""
    backend = make_backend(diversity_config)
    if hasattr(backend, "check_ready"):
        backend.check_ready()
    return backend


def label_groups(diversity_config: DiversityConfig, groups: ResponseGroups) -> Labelling:
    """The configured backend's labelling, with its fallback applied (``with_fallback_labels``)."""
    return with_fallback_labels(diversity_config, groups, make_backend(diversity_config).assign(groups))


def with_fallback_labels(diversity_config: DiversityConfig, groups: ResponseGroups, labelling: Labelling) -> Labelling:
    """``labelling`` where the groups it failed on take their fallback's labels
    (``Labelling.fallback``): ``one_strategy``, every response of the group strategy 0 and a
    blank one degenerate, so the group's diversity term is the same in every subset (a neutral,
    GRPO-shaped advantage); else that backend's labels, computed on the same groups."""
    if labelling.fallback is None or not labelling.failed_groups.any():
        return labelling
    rows = [row for members, failed in zip(groups.member_rows, labelling.failed_groups) if failed for row in members]
    labels = labelling.labels.copy()
    if labelling.fallback == ONE_STRATEGY:
        labels[rows] = np.where(groups.blank_rows()[rows], DEGENERATE, 0)
    else:
        fallback = make_backend(dataclasses.replace(diversity_config, backend=labelling.fallback)).assign(groups)
        labels[rows] = fallback.labels[rows]  # a failed group is labelled by the fallback alone
    return dataclasses.replace(labelling, labels=labels)


__all__ = [
    "BUILTIN_BACKENDS",
    "Labelling",
    "ResponseGroups",
    "StrategyBackend",
    "backend_class",
    "backend_names",
    "close_backends",
    "label_groups",
    "make_backend",
    "register_backend",
    "with_fallback_labels",
]
