"""The per-step view a strategy backend reads, and the labelling it returns.

``ResponseGroups`` is one advantage call's batch seen group by group: the layout of prompt
groups, the response mask, verl's ``batch``/``non_tensor_batch`` and a tokenizer, decoded on
demand. ``Labelling`` is a backend's answer: an int64 label per flat row (``-1`` degenerate)
and the groups whose labelling failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch

from polyepo_plugin.config import CONFIG_ROOT
from polyepo_plugin.grouping import GroupLayout


logger = logging.getLogger(__name__)

# Groups of the step that were not labelled in time and took ``diversity.timeout_fallback``.
TIMED_OUT_METRIC = "poly_epo/diversity_timed_out_groups"
# A source of fallbacks (a judge failing some groups every step) warns at most this often; the
# metrics count every step.
FALLBACK_WARNING_INTERVAL_S = 300.0


class LabellingCancelled(Exception):
    """Nobody waits for this labelling any more (``ResponseGroups.cancelled`` is set)."""


class MissingInputError(ValueError):
    """The estimator was called without an input its diversity backend reads."""


def missing_input(backend: str, needs: str, got: str) -> MissingInputError:
    return MissingInputError(
        f"{CONFIG_ROOT}.diversity.backend={backend} reads {needs}, but the estimator got {got}. Stock verl 0.9.1 "
        "passes only rewards, masks and uids to registered estimators: run it through verl's trainers with "
        "polyepo installed (its trainer integration supplies them), or a verl patched with patches/, or pick "
        "an objective that needs no strategies (max, mean)."
    )


@dataclass
class ResponseGroups:
    """What a backend may read: the group layout plus verl's batch, as the estimator got it.

    ``response_mask``: ``(B, L)``, the tokens of each response that the model wrote, as the
    rollout recorded them. Backends read a response's text under it, so in an agent loop's
    response (model turns with tool and observation tokens between them, masked 0) they see the
    model's own turns, one line apart, and never the environment's text.
    ``decoded_responses``/``decoded_prompts``: per-row texts given directly (``label_strategies``
    outside verl); when set, ``response_texts``/``prompt_texts`` return them, decoding nothing.
    ``cancelled``: set when nobody waits for this labelling any more; a backend stops at its
    next group or batch (``stop_if_cancelled``), and its ``cancel()`` aborts what is in flight
    (the judge's requests, the answer worker's group). ``whole_step``: these are all of a step's
    groups; False for one group labelled apart (streamed), whose step the caller judges as a whole
    (the judge's ``max_failed_steps``: ``on_step_labelled``).
    """

    layout: GroupLayout
    response_mask: torch.Tensor
    batch: Mapping[str, Any] | None
    non_tensor_batch: Mapping[str, Any] | None
    tokenizer: Any = None
    decoded_responses: Sequence[str] | None = None
    decoded_prompts: Sequence[str] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    whole_step: bool = True

    def batch_tensor(self, key: str, backend: str) -> torch.Tensor:
        if self.batch is None or key not in self.batch.keys():
            raise missing_input(
                backend, f"batch[{key!r}]", "no batch" if self.batch is None else f"a batch without {key!r}"
            )
        return self.batch[key]

    def response_tokens(self, backend: str) -> list[torch.Tensor]:
        """Each row's response token ids under the response mask (the model's turns, joined)."""
        return [torch.cat(turns) if turns else torch.zeros(0, dtype=torch.long) for turns in self._turns(backend)]

    def response_texts(self, backend: str) -> list[str]:
        """Each row's decoded response (special tokens dropped), a model turn per line."""
        if self.decoded_responses is not None:
            return list(self.decoded_responses)
        turns = self._turns(backend)
        return ["\n".join(self._decode(row, backend)) for row in turns]

    def _turns(self, backend: str) -> list[list[torch.Tensor]]:
        """Each row's runs of consecutive unmasked response tokens: one run per model turn."""
        responses = self.batch_tensor("responses", backend).cpu()
        mask = self.response_mask.cpu().bool()
        if mask.shape != responses.shape:
            raise ValueError(
                f"{backend}: the response mask is {tuple(mask.shape)} but the responses are {tuple(responses.shape)}; "
                "the rows handed to the estimator are laid out inconsistently"
            )
        turns = []
        for row in range(self.layout.num_rows):
            kept = mask[row].nonzero().flatten()
            breaks = (kept.diff() > 1).nonzero().flatten() + 1
            turns.append([responses[row][run] for run in torch.tensor_split(kept, breaks)] if kept.numel() else [])
        return turns

    def prompt_texts(self, backend: str) -> list[str]:
        """Each row's decoded prompt; left padding is removed through the attention mask."""
        if self.decoded_prompts is not None:
            return list(self.decoded_prompts)
        prompts = self.batch_tensor("prompts", backend).cpu()
        if self.batch is not None and "attention_mask" in self.batch.keys():
            keep = self.batch["attention_mask"][:, : prompts.shape[1]].cpu().bool()
            rows = [prompts[row][keep[row]] for row in range(prompts.shape[0])]
        else:
            rows = list(prompts)
        return self._decode(rows, backend)

    def _decode(self, rows: list[torch.Tensor], backend: str) -> list[str]:
        if self.tokenizer is None:
            raise missing_input(backend, "decoded text (a tokenizer)", "no tokenizer")
        return [self.tokenizer.decode(row.tolist(), skip_special_tokens=True) for row in rows]

    def blank_rows(self) -> np.ndarray:
        """``(B,)`` bool: rows whose response has no token the model wrote (degenerate for every
        backend that reads tokens or text)."""
        return (self.response_mask == 0).all(-1).cpu().numpy()

    def stop_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise LabellingCancelled

    @cached_property
    def member_rows(self) -> list[list[int]]:
        """Flat rows of each group's members, in group order (computed once per labelling)."""
        return self.layout.member_rows()


@dataclass(frozen=True)
class Labelling:
    """A backend's answer. ``failed_groups``: labelling failed for these groups;
    ``zero_advantage_groups``: those groups must get advantage 0 (the ``zero`` fallback);
    ``fallback``: what labels the failed groups take instead, ``one_strategy`` or a backend's name
    (``None``: keep these);
    ``metrics``: the backend's own ``poly_epo/*`` statistics for the step;
    ``failure_reasons``: why groups failed (reason -> groups), summed by a caller that judges a
    step labelled group by group (``ResponseGroups.whole_step`` False).
    """

    labels: np.ndarray
    failed_groups: np.ndarray
    zero_advantage_groups: np.ndarray
    fallback: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    failure_reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def complete(cls, labels: np.ndarray, num_groups: int) -> Labelling:
        return cls(labels, np.zeros(num_groups, dtype=bool), np.zeros(num_groups, dtype=bool))

    @classmethod
    def with_failures(
        cls, labels: np.ndarray, failed: np.ndarray, fallback: str, metrics: dict[str, float] | None = None
    ) -> Labelling:
        """``failed`` groups handled as the option ``fallback`` says: ``zero`` (advantage 0),
        ``one_strategy`` or another backend's labels; ``error`` is for the caller to raise before."""
        zero = failed if fallback == "zero" else np.zeros_like(failed)
        return cls(labels, failed, zero, None if fallback in ("zero", "error") else fallback, metrics or {})

    @classmethod
    def with_timeouts(
        cls,
        labels: np.ndarray,
        timed_out: np.ndarray,
        fallback: str,
        message: str,
        warn: Callable[[str], object] = logger.warning,
    ) -> Labelling:
        """The ``timed_out`` groups (``message`` says which limit they overran) take ``fallback``
        (``diversity.timeout_fallback``), with a WARNING through ``warn``; ``error`` raises
        ``TimeoutError``."""
        if timed_out.any():
            if fallback == "error":
                raise TimeoutError(f"{message}; {CONFIG_ROOT}.diversity.timeout_fallback=error stops training")
            warn(f"{message}; they take timeout_fallback={fallback}")
        return cls.with_failures(labels, timed_out, fallback, {TIMED_OUT_METRIC: float(timed_out.sum())})


class OccasionalWarning:
    """One source's WARNING, logged at most once per ``interval_s``: a judge that fails a few
    groups every step would otherwise fill the log. The next one logged says how many were held
    back. Thread-safe (early labelling warns from its own thread)."""

    def __init__(self, interval_s: float = FALLBACK_WARNING_INTERVAL_S):
        self.interval_s = interval_s
        self._last: float | None = None
        self._held = 0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> bool:
        """Log ``message`` unless one was logged less than ``interval_s`` ago; whether it was."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < self.interval_s:
                self._held += 1
                return False
            held, self._held, self._last = self._held, 0, now
        if held:
            message += f" ({held} more such warning(s) since the last one were not logged)"
        logger.warning(message)
        return True
