"""Wrapping verl's functions and methods in place, with their shape checked first.

A target that is missing, or lacks a parameter a wrapper relies on, is not wrapped: the problem
is recorded in ``problems`` and a ``poly_epo``/``grpo_div`` run stops on it at start-up
(``checks.validate_run``), while every other estimator trains as if polyepo were absent.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

problems: list[str] = []


def wrap_attribute(owner, name: str, wrap: Callable, required_params: tuple[str, ...], where: str) -> None:
    """Replace ``owner.name`` by ``wrap(owner.name)`` once, if it takes ``required_params``.

    ``owner`` may be a ``@ray.remote`` class: then the method is wrapped on the class it was
    built from, and the copy Ray made of it is dropped (see ``_drop_actor_copy``)."""
    actor_metadata = getattr(owner, "__ray_metadata__", None)
    if actor_metadata is not None:
        _wrap_once(owner.__ray_actor_class__, name, wrap, required_params, where)
        _drop_actor_copy(actor_metadata.modified_class, name)
    else:
        _wrap_once(owner, name, wrap, required_params, where)


def _drop_actor_copy(actor_class, name: str) -> None:
    """Let the class a Ray actor runs inherit ``name`` again.

    ``@ray.remote`` subclasses the decorated class and puts in that subclass a tracing wrapper
    of every method as it was at decoration time; the subclass is what Ray pickles and runs, so
    a method wrapped on the decorated class afterwards would never run in the actor. Ray
    re-adds its wrapper, around the inherited method, when a worker loads the class."""
    if name in vars(actor_class):
        delattr(actor_class, name)


def _wrap_once(owner, name: str, wrap: Callable, required_params: tuple[str, ...], where: str) -> None:
    current = getattr(owner, name, None)
    if current is None:
        problems.append(f"{where}.{name} not found")
        return
    if getattr(current, "__polyepo_wrapped__", False):
        return
    params = inspect.signature(current).parameters
    missing = [p for p in required_params if p not in params]
    if missing:
        problems.append(f"{where}.{name} has no parameter(s) {', '.join(missing)}")
        return
    wrapped = wrap(current)
    wrapped.__polyepo_wrapped__ = True
    setattr(owner, name, wrapped)


def class_to_patch(module, name: str):
    """``module.name``, or None with its absence recorded in ``problems``."""
    found = getattr(module, name, None)
    if found is None:
        problems.append(f"{module.__name__}.{name} not found")
    return found


def passes_group_inputs(compute_advantage) -> bool:
    """True for a verl whose ``compute_advantage`` hands estimators the batch and tokenizer itself
    (verl patched with ``patches/``, or upstream once PR #7473 lands)."""
    return "tokenizer" in inspect.signature(compute_advantage).parameters
