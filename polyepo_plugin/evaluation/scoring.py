"""Scoring sampled responses: the reward, each response's final answer, and its strategy.

The reward is a verl reward function, ``reward(data_source, solution_str, ground_truth,
extra_info)`` returning a score or a dict with ``score`` (and optionally ``pred``, the answer
it read, and ``strategy``, a strategy label). The user's file is loaded with
``polyepo_plugin.user_code.load_function``; verl's default reward comes through
``polyepo_plugin.integration.rewards`` (this package never imports verl itself).

Final answers, for majority@k: the reward's ``pred`` when it gives one, else the answer
math-verify's parser finds in the response (the last ``\\boxed{...}`` first, else a final
expression); ``None`` when neither gives one. Two answers are the same answer when their
normalized strings match or math-verify's ``verify`` finds them equal (either way round); the
classes are the connected components of that relation, so they do not depend on the order of
the responses. Without math-verify installed, only ``pred`` answers and string equality count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from polyepo_plugin.config import DiversityConfig
from polyepo_plugin.grouping import strategy_codes
from polyepo_plugin.integration import rewards
from polyepo_plugin.diversity.strategies import check_backend, label_strategies
from polyepo_plugin.user_code import load_function

REWARD_FLAGS = ("--reward-path", "--reward-name")  # how the loader's errors name the file and function
NO_PRED = {"", "[INVALID]"}  # what some verl rewards put in ``pred`` when they found no answer
MATH_VERIFY_TIMEOUT_S = 5  # math-verify's default; its alarm-based limit works in the main thread only


def load_reward(path: str | None, name: str = "compute_score") -> Callable:
    """A verl reward function: ``name`` from the file ``path``, or verl's default by data source."""
    if path is None:
        return rewards.default_compute_score()
    return load_function(path, name, "reward", *REWARD_FLAGS)


@dataclass(frozen=True)
class Answer:
    text: str  # as printed and compared as a string (whitespace, $ and a final period dropped)
    parsed: Any = None  # math-verify's parse of it (a list; empty or None when it found nothing)


LABELS = "labels"  # the backend that takes each response's strategy from the reward's output


def check_scoring(
    rows: Sequence[dict], reward: Callable, backend: str = DiversityConfig.backend, **backend_options
) -> None:
    """Fail before any sampling when the responses could not be scored and labelled: ``reward``
    scores a probe response to the first row of each ``data_source`` in ``rows`` (its ground
    truth) with a number or a dict with ``score`` (verl's default reward stops a data source it
    has no rule for: the error says to pass ``--reward-path``); backend ``labels`` needs a
    ``strategy`` in that dict; any other backend must be ready (``strategies.check_backend``: a
    known name and options, a judge that answers, a model that loads). Raises ``ValueError``
    saying what to change."""
    first_of_source = {row["data_source"]: row for row in reversed(rows)}
    for row in first_of_source.values():
        try:
            out = _reward_output(reward, row, str(row["reward_model"]["ground_truth"]))
        except NotImplementedError as error:  # verl's default reward knows a fixed list of data sources
            raise ValueError(
                f"the reward has no rule for data_source {row['data_source']!r} ({error}); pass --reward-path FILE "
                "(and --reward-name FUNCTION) with a reward function for this data"
            ) from None
        if backend == LABELS and "strategy" not in out:
            raise ValueError(
                f"backend {LABELS!r} takes each response's strategy from the reward's output, but the reward returned "
                f"{out if len(out) > 1 else out['score']!r}, with no 'strategy' (a plain score, like the recipe's "
                f"math_reward.py); pick a backend that reads the responses instead: {DiversityConfig.backend!r} "
                "(training's default), 'ngram', 'answer', 'embedding' or 'judge'"
            )
    if backend != LABELS:
        check_backend(backend, **backend_options)


def score_groups(
    rows: Sequence[dict],
    responses: Sequence[Sequence[str]],
    reward: Callable,
    backend: str = DiversityConfig.backend,
    tokenizer=None,
    truncated: Sequence[Sequence[bool]] | None = None,
    **backend_options,
) -> list[dict]:
    """Score every response and read its answer; strategies from the reward's ``strategy``
    (backend ``labels``) or a diversity backend (default: training's). ``truncated[g][i]``: response i of prompt g hit
    the token budget (kept in the group for ``summarize_groups``)."""
    groups = []
    for g, (row, texts) in enumerate(zip(rows, responses)):
        outs = [_reward_output(reward, row, t) for t in texts]
        answers = extract_answers(outs, texts)
        groups.append(
            {
                "prompt": row["prompt"][-1]["content"],
                "responses": list(texts),
                "scores": [float(o["score"]) for o in outs],
                "answers": [None if a is None else a.text for a in answers],
                "answer_classes": answer_classes(answers),
                "strategies": _reward_strategies(outs) if backend == LABELS else None,
                "truncated": None if truncated is None else [bool(t) for t in truncated[g]],
            }
        )
    if backend != LABELS:
        labels = label_strategies(
            [g["responses"] for g in groups],
            [g["prompt"] for g in groups],
            backend=backend,
            tokenizer=tokenizer,
            **backend_options,
        )
        for g, lab in zip(groups, labels):
            g["strategies"] = list(lab)
    return groups


def _reward_output(reward: Callable, row: dict, text: str) -> dict:
    """The reward's verdict on ``text`` as a dict with ``score`` (a plain number becomes one)."""
    out = reward(row["data_source"], text, row["reward_model"]["ground_truth"], row.get("extra_info"))
    if isinstance(out, dict) and "score" in out:
        return out
    try:
        return {"score": float(out)}
    except (TypeError, ValueError):
        raise ValueError(f"the reward returned {out!r}; it must return a number or a dict with a 'score'") from None


def extract_answers(outputs: Sequence[dict], texts: Sequence[str]) -> list[Answer | None]:
    """Each response's final answer (module docstring): the reward's ``pred``, else math-verify's."""
    mv = _math_verify()
    timeout = _timeout()
    answers: list[Answer | None] = []
    for out, text in zip(outputs, texts):
        pred = out.get("pred")
        if pred is not None and str(pred).strip() not in NO_PRED:
            parsed = mv.parse(str(pred), parsing_timeout=timeout) if mv else None
            answers.append(Answer(_normalize(str(pred)), parsed))
        elif mv is not None and text and text.strip():
            parsed = mv.parse(text, parsing_timeout=timeout)
            answers.append(Answer(_normalize(str(parsed[-1])), parsed) if parsed else None)
        else:
            answers.append(None)
    return answers


def answer_classes(answers: Sequence[Answer | None]) -> list[int]:
    """One class id per set of equivalent answers (module docstring), numbered 0, 1, ... by first
    appearance; ``-1`` for no answer."""
    distinct = list(dict.fromkeys(a.text for a in answers if a is not None))
    parsed = {}
    for a in answers:
        if a is not None and a.parsed and a.text not in parsed:
            parsed[a.text] = a.parsed
    parent = {t: t for t in distinct}

    def root(t):
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    mv = _math_verify() if len(parsed) > 1 else None
    timeout = _timeout()
    for i, a in enumerate(distinct):
        for b in distinct[i + 1 :]:
            if root(a) == root(b) or mv is None or a not in parsed or b not in parsed:
                continue
            pa, pb = parsed[a], parsed[b]
            if mv.verify(pa, pb, timeout_seconds=timeout) or mv.verify(pb, pa, timeout_seconds=timeout):
                parent[root(b)] = root(a)
    numbers: dict[str, int] = {}
    return [-1 if a is None else numbers.setdefault(root(a.text), len(numbers)) for a in answers]


def _normalize(text: str) -> str:
    return "".join(text.split()).strip("$").rstrip(".")


_MISSING_WARNED = []


def _math_verify():
    """The math_verify module, or None (said once) when it is not installed."""
    try:
        import math_verify
    except ImportError:
        if not _MISSING_WARNED:
            _MISSING_WARNED.append(True)
            print(
                "[eval] math-verify is not installed (pip install 'math-verify>=0.7'): majority@k uses only "
                "the answers the reward returns as 'pred'",
                flush=True,
            )
        return None
    return math_verify


def _timeout() -> int | None:
    return MATH_VERIFY_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


def _reward_strategies(outs: Sequence[dict]) -> list[int]:
    """The reward's ``strategy`` labels coded as the ``labels`` backend codes them."""
    if any("strategy" not in o for o in outs):
        raise ValueError(f"backend {LABELS!r} needs the reward function to return a 'strategy' for every response")
    return strategy_codes([o["strategy"] for o in outs]).tolist()
