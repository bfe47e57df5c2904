"""Strategy labelling started before the advantage stage and collected there, by row identity.

A group's labels depend only on its prompt and responses, which exist once the rollout is done,
while the trainer still computes rewards, log-probs and values before advantages. The trainer
integration starts a ``PendingLabelling`` as soon as a step's rows are final; the estimator
collects it, waiting only for what is left. Rows are matched by identity, never by position:
a row's identity is given by the integration (v1: its TransferQueue key; legacy: a hash of its
uid, prompt and response tokens, see ``row_identities``). If the rows at the advantage stage are
not exactly the rows labelled, the estimator labels synchronously instead (and says so).

Only backends that are slow enough to pay for a thread start early (``STARTS_EARLY``): the LLM
judge, the sentence-model backends (``semantic``, ``embedding``) and math-verify answers.
``ngram`` (cheap) and ``labels`` (it reads the reward's output, which does not exist yet) run at
the advantage stage as before.

Bounded: the advantage stage waits for a labelling until ``diversity.label_timeout_s`` after it
started; then it cancels it and the step's groups take ``diversity.timeout_fallback`` (``error``
stops training). Cancelled (by that, or because the step or the run ended without collecting
it), a backend stops at its next group or model batch, and its ``cancel()`` aborts what is in
flight (the judge's requests, the answer worker's group).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Hashable, Sequence

import numpy as np
import torch

from polyepo_plugin.config import CONFIG_ROOT, DiversityConfig
from polyepo_plugin.diversity import label_groups, make_backend, with_fallback_labels
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.grouping import DEGENERATE, GroupLayout

logger = logging.getLogger(__name__)

STARTS_EARLY = ("judge", "semantic", "embedding", "answer")
CANCEL_WAIT_S = 5.0


def starts_early(config: DiversityConfig) -> bool:
    return config.early_start and config.backend in STARTS_EARLY


def row_identities(uids: Sequence, responses: Sequence[torch.Tensor], prompts: Sequence[torch.Tensor]) -> list[str]:
    """One identity per row: a hash of its uid, prompt token ids and response token ids.

    ``responses[i]``/``prompts[i]``: row i's ids without padding. Rows identical in all three (a
    prompt sampled to the same response twice) are told apart by their order of occurrence, so
    identities are unique and equal multisets of rows give equal sets of identities.
    """
    seen: dict[str, int] = {}
    identities = []
    for uid, response, prompt in zip(uids, responses, prompts):
        digest = hashlib.blake2b(digest_size=16)
        digest.update(str(uid).encode())
        digest.update(b"\x00" + prompt.to(torch.int64).cpu().numpy().tobytes())
        digest.update(b"\x01" + response.to(torch.int64).cpu().numpy().tobytes())
        key = digest.hexdigest()
        seen[key] = seen.get(key, -1) + 1
        identities.append(f"{key}:{seen[key]}")
    return identities


def start_labelling(
    config: DiversityConfig,
    uids: Sequence,
    response_mask: torch.Tensor,
    batch,
    non_tensor_batch,
    tokenizer,
    row_ids: Sequence[Hashable],
    padding: np.ndarray | None = None,
) -> PendingLabelling:
    """Start labelling a step's rows (the legacy batch layout, as the estimator reads it)."""
    layout = GroupLayout.from_index(np.asarray(uids, dtype=object), padding=padding)
    groups = ResponseGroups(layout, response_mask, batch, non_tensor_batch, tokenizer)
    return PendingLabelling(config, groups, row_ids)


class PendingLabelling:
    """One step's labelling, running in a daemon thread from construction on."""

    def __init__(self, config: DiversityConfig, groups: ResponseGroups, row_ids: Sequence[Hashable]):
        if len(row_ids) != groups.layout.num_rows:
            raise ValueError(f"{len(row_ids)} row identities for {groups.layout.num_rows} rows")
        self.config = config
        self.groups = groups
        self.row_ids = list(row_ids)
        self.started = time.perf_counter()
        self.finished: float | None = None
        self._labelling: Labelling | None = None
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="polyepo-labelling", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._labelling = label_groups(self.config, self.groups)
        except BaseException as error:  # noqa: BLE001 - handed to the collecting thread
            self._error = error
        finally:
            self.finished = time.perf_counter()

    @property
    def duration_s(self) -> float:
        """How long the labelling ran (so far, if it still runs)."""
        return (time.perf_counter() if self.finished is None else self.finished) - self.started

    def matches(self, row_ids: Sequence[Hashable]) -> bool:
        return len(row_ids) == len(self.row_ids) and set(row_ids) == set(self.row_ids)

    def collect(self, row_ids: Sequence[Hashable], layout: GroupLayout) -> tuple[Labelling, float]:
        """The labelling of rows ``row_ids`` (in ``layout``) and the seconds spent waiting for it.

        Waits until ``label_timeout_s`` after the labelling started; a labelling not finished by
        then is cancelled and its groups take ``timeout_fallback``. Raises what the labelling
        raised (e.g. ``fallback=error``), or ``TimeoutError`` with ``timeout_fallback=error``.
        Call ``matches`` first.
        """
        waited_from = time.perf_counter()
        self._thread.join(max(0.0, self.started + self.config.label_timeout_s - waited_from))
        if self._thread.is_alive():
            labelling = self._timed_out()
        elif self._error is not None:
            raise self._error
        else:
            labelling = self._labelling
        waited = time.perf_counter() - waited_from
        return self._relabel(labelling, row_ids, layout), waited

    def _timed_out(self) -> Labelling:
        """Cancel the labelling (not waiting for its thread to end); every group of the step
        takes ``timeout_fallback``."""
        self.cancel(wait_s=0)
        config, layout = self.config, self.groups.layout
        message = (
            f"{CONFIG_ROOT}.diversity.backend={config.backend}: the step's labelling ({layout.num_groups} groups) did "
            f"not finish within diversity.label_timeout_s={config.label_timeout_s:g} s"
        )
        labels = np.full(layout.num_rows, DEGENERATE, dtype=np.int64)
        every_group = np.ones(layout.num_groups, dtype=bool)
        backend = make_backend(config)
        if hasattr(backend, "on_step_timed_out"):  # the judge counts it toward max_failed_steps
            backend.on_step_timed_out(message)
        timed_out = Labelling.with_timeouts(labels, every_group, config.timeout_fallback, message)
        return with_fallback_labels(config, self.groups, timed_out)

    def _relabel(self, labelling: Labelling, row_ids: Sequence[Hashable], layout: GroupLayout) -> Labelling:
        """Per-row labels and per-group flags moved from the labelled rows to ``row_ids``."""
        position = {row_id: row for row, row_id in enumerate(self.row_ids)}
        source = np.array([position[row_id] for row_id in row_ids], dtype=np.int64)
        group_of_row = np.full(self.groups.layout.num_rows, -1, dtype=np.int64)
        for group, members in enumerate(self.groups.member_rows):
            group_of_row[members] = group

        def per_group(flags: np.ndarray) -> np.ndarray:
            rows = np.zeros(len(source), dtype=bool)
            known = group_of_row[source] >= 0
            rows[known] = flags[group_of_row[source][known]]
            return np.array([rows[members].any() for members in layout.member_rows()], dtype=bool)

        return Labelling(
            labels=labelling.labels[source],
            failed_groups=per_group(labelling.failed_groups),
            zero_advantage_groups=per_group(labelling.zero_advantage_groups),
            metrics=labelling.metrics,
        )

    def cancel(self, wait_s: float = CANCEL_WAIT_S) -> None:
        """Stop waiting for this labelling: the backend stops at its next group or batch and
        aborts what is in flight; the thread gets ``wait_s`` to end (it is a daemon: it never
        keeps the process alive)."""
        if self._cancelled or not self._thread.is_alive():
            return
        self._cancelled = True
        self.groups.cancelled.set()
        backend = make_backend(self.config)
        if hasattr(backend, "cancel"):
            backend.cancel()
        self._thread.join(wait_s)
        if wait_s and self._thread.is_alive():
            logger.warning("polyepo: a cancelled strategy labelling is still running after %.0f s", wait_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
