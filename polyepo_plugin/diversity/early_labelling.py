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

Streamed (``StreamedLabelling``): where a trainer receives its step's rows group by group (the
fully async trainer pulls one prompt's responses at a time from its rollouter's queue) and the
backend labels a group on its own (``streams``), each group is labelled from the moment it arrives, in a bounded pool (``group_labelling_workers``),
keyed by its rows' identities. Once the step's rows are final (``seal``), a group whose rows are
exactly a labelled group's keeps that labelling, any other group is labelled then, and labelled
groups absent from the step are cancelled. The timeout rule holds per group: a group not labelled
``label_timeout_s`` after it started takes ``timeout_fallback``; the other groups keep their labels.

Labelled apart: where a group is produced in another process (the fully async rollouter), it
can be labelled there, before it is handed on, so that a group waiting for the trainer is
labelled while it waits. Its labelling travels with it as plain data (``labelled_record``,
``timed_out_record``, ``failed_record``) and joins the step with ``StreamedLabelling.add_labelled``
(``from_record``), as if labelled here.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import logging
import threading
import time
from collections.abc import Container, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import torch

from polyepo_plugin.config import CONFIG_ROOT, DiversityConfig
from polyepo_plugin.diversity import label_groups, make_backend, with_fallback_labels
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.grouping import DEGENERATE, GroupLayout

logger = logging.getLogger(__name__)

STARTS_EARLY = ("judge", "semantic", "embedding", "answer")
CANCEL_WAIT_S = 5.0
# Streamed labelling's step metrics: the groups whose labelling started before the step's last
# group came in, and those labelled only once the step's rows were final (rows changed, or not streamed).
STREAMED_METRIC = "poly_epo/diversity_streamed_groups"
RELABELLED_METRIC = "poly_epo/diversity_relabelled_groups"
APART_METRIC = "poly_epo/diversity_labelled_apart_groups"  # labels that came with the group (``add_labelled``)


def streams(config: DiversityConfig) -> bool:
    """Whether groups may be labelled one by one as they arrive (``StreamedLabelling``): only
    where a group's labels do not depend on the step's other groups. ``answer`` compares a
    group's answers; the judge reads one group a request, unless ``consistency_fraction`` picks
    groups to ask twice among the step's. ``semantic`` weighs words and numbers over the whole
    step, so a group labelled alone could get other labels than in its step: it is labelled
    whole, as measured."""
    if config.backend == "judge":
        return config.judge.consistency_fraction == 0
    return config.backend == "answer"


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


def step_groups(
    uids: Sequence, response_mask: torch.Tensor, batch, non_tensor_batch, tokenizer, padding: np.ndarray | None = None
) -> ResponseGroups:
    """Rows in the legacy batch layout (as the estimator reads them), grouped by uid."""
    layout = GroupLayout.from_index(np.asarray(uids, dtype=object), padding=padding)
    return ResponseGroups(layout, response_mask, batch, non_tensor_batch, tokenizer)


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
        return moved_to_rows(labelling, self.groups, self.row_ids, row_ids, layout), waited

    def _timed_out(self) -> Labelling:
        """Cancel the labelling (not waiting for its thread to end); every group of the step
        takes ``timeout_fallback``."""
        self.cancel(wait_s=0)
        layout = self.groups.layout
        message = (
            f"{CONFIG_ROOT}.diversity.backend={self.config.backend}: the step's labelling ({layout.num_groups} groups) "
            f"did not finish within diversity.label_timeout_s={self.config.label_timeout_s:g} s"
        )
        labels = np.full(layout.num_rows, DEGENERATE, dtype=np.int64)
        return timed_out_labelling(self.config, self.groups, labels, np.ones(layout.num_groups, dtype=bool), message)

    def cancel(self, wait_s: float = CANCEL_WAIT_S) -> None:
        """Stop waiting for this labelling: the backend stops at its next group or batch and
        aborts what is in flight; the thread gets ``wait_s`` to end (it is a daemon: it never
        keeps the process alive)."""
        if self._cancelled or not self._thread.is_alive():
            return
        self._cancelled = True
        cancel_labelling(self.config, self.groups)
        self._thread.join(wait_s)
        if wait_s and self._thread.is_alive():
            logger.warning("polyepo: a cancelled strategy labelling is still running after %.0f s", wait_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def cancel_labelling(config: DiversityConfig, groups: ResponseGroups) -> None:
    """Stop labelling ``groups``: the backend stops at its next group or batch, and aborts what
    it has in flight for them (the judge's requests for these groups alone)."""
    groups.cancelled.set()
    backend = make_backend(config)
    if hasattr(backend, "cancel"):
        backend.cancel()


def timed_out_labelling(
    config: DiversityConfig, groups: ResponseGroups, labels: np.ndarray, timed_out: np.ndarray, message: str
) -> Labelling:
    """``labels`` of ``groups`` where the ``timed_out`` groups take ``timeout_fallback``; the
    judge counts the step toward ``max_failed_steps``."""
    backend = make_backend(config)
    if hasattr(backend, "on_step_timed_out"):
        backend.on_step_timed_out(message)
    return with_fallback_labels(
        config, groups, Labelling.with_timeouts(labels, timed_out, config.timeout_fallback, message)
    )


def moved_to_rows(
    labelling: Labelling,
    labelled: ResponseGroups,
    labelled_ids: Sequence[Hashable],
    row_ids: Sequence[Hashable],
    layout: GroupLayout,
) -> Labelling:
    """A labelling of ``labelled`` (rows ``labelled_ids``) moved to rows ``row_ids`` in
    ``layout``: per-row labels taken by identity, a group's flags set if any of its rows came
    from a group flagged."""
    position = {row_id: row for row, row_id in enumerate(labelled_ids)}
    source = np.array([position[row_id] for row_id in row_ids], dtype=np.int64)
    group_of_row = np.full(labelled.layout.num_rows, -1, dtype=np.int64)
    for group, members in enumerate(labelled.member_rows):
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


def group_labelling_workers(config: DiversityConfig) -> int:
    """Groups labelled at once when they stream: the judge's requests in flight
    (``judge.max_concurrency``); one for the backends that run a model or math-verify here."""
    return config.judge.max_concurrency if config.backend == "judge" else 1


def rows_of(groups: ResponseGroups, group: int) -> ResponseGroups:
    """``groups`` restricted to its group ``group`` (its rows, in order), as a backend reads them."""
    index = list(groups.member_rows[group])
    row_uid = np.empty(len(index), dtype=object)
    row_uid[:] = np.asarray(groups.layout.uids, dtype=object)[group]
    batch = None if groups.batch is None else {key: groups.batch[key][index] for key in groups.batch.keys()}
    non_tensor = None if groups.non_tensor_batch is None else {k: v[index] for k, v in groups.non_tensor_batch.items()}
    return ResponseGroups(
        GroupLayout.from_index(row_uid),
        groups.response_mask[index],
        batch,
        non_tensor,
        groups.tokenizer,
        None if groups.decoded_responses is None else [groups.decoded_responses[r] for r in index],
        None if groups.decoded_prompts is None else [groups.decoded_prompts[r] for r in index],
        whole_step=False,
    )


@dataclass
class _GroupLabelling:
    """One group's labelling in the pool: its rows as labelled (None: labelled apart, in another
    process, and received), their identities, when it started."""

    groups: ResponseGroups | None
    row_ids: list
    started: float
    done: Future | None = None
    finished: float | None = None

    @property
    def apart(self) -> bool:
        return self.groups is None

    def run(self, config: DiversityConfig) -> Labelling:
        try:
            return label_groups(config, self.groups)
        finally:
            self.finished = time.perf_counter()


class StreamedLabelling:
    """A step's labelling group by group, each group from the moment its last row is in (see
    the module docstring). ``add_group`` while the step's rows arrive, ``seal`` once they are
    final, then ``matches``/``collect``/``cancel`` as for ``PendingLabelling``."""

    def __init__(self, config: DiversityConfig, pool: ThreadPoolExecutor | None = None):
        """``pool``: a predecessor's, taken over (``successor``); a new one by default."""
        self.config = config
        self._pool = pool or ThreadPoolExecutor(
            group_labelling_workers(config), thread_name_prefix="polyepo-group-labelling"
        )
        self._owns_pool = True  # until a successor takes it (``successor``)
        self._labellings: dict[frozenset, _GroupLabelling] = {}
        self._step: tuple[ResponseGroups, list] | None = None
        self.started: float | None = None  # the first group's start
        self.last_arrival: float | None = None  # when the step's last group came in (``add_group``)
        self.relabelled_groups = 0  # groups of the step labelled at ``seal`` (rows changed or never streamed)
        self._cancelled = False

    def add_group(self, groups: ResponseGroups, row_ids: Sequence[Hashable]) -> None:
        """Start labelling ``groups`` (rows ``row_ids``), unless rows with these identities are labelled already."""
        self.last_arrival = time.perf_counter()
        for group, members in enumerate(groups.member_rows):
            ids = [row_ids[r] for r in members]
            if not self.has_group(ids):
                self._start(rows_of(groups, group), ids)

    def add_labelled(self, records: Sequence[dict]) -> None:
        """Groups labelled apart, as their records describe them (``from_record``): they join the
        step as if labelled here, done when they arrive."""
        now = self.last_arrival = time.perf_counter()
        for record in records:
            started = now - record["duration_s"]  # its own time, not its wait in the queue
            self.started = started if self.started is None else min(self.started, started)
            done: Future = Future()
            outcome = from_record(record)
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)
            labelling = _GroupLabelling(None, record["row_ids"], started, done, now)
            self._labellings[frozenset(record["row_ids"])] = labelling

    def has_group(self, row_ids: Sequence[Hashable]) -> bool:
        """Whether rows with exactly these identities are labelled (or labelling) as a group."""
        return frozenset(row_ids) in self._labellings

    def _start(self, group: ResponseGroups, row_ids: list) -> None:
        now = time.perf_counter()
        self.started = now if self.started is None else self.started
        labelling = _GroupLabelling(group, row_ids, now)
        labelling.done = self._pool.submit(labelling.run, self.config)
        self._labellings[frozenset(row_ids)] = labelling

    def successor(self) -> StreamedLabelling:
        """An empty stream for the next step, to pass to ``seal`` as ``carry``. It labels in this
        stream's pool and owns it from now on, so one bound holds the concurrency across steps."""
        self._owns_pool = False
        return StreamedLabelling(self.config, pool=self._pool)

    def retain(self, present: Container[Hashable]) -> None:
        """Cancel and forget the groups with a row not ``present`` (their rows were dropped upstream)."""
        for key in [key for key in self._labellings if not all(row_id in present for row_id in key)]:
            self._cancel_group(self._labellings.pop(key))

    def seal(
        self, step: ResponseGroups, row_ids: Sequence[Hashable], carry: StreamedLabelling | None = None
    ) -> StreamedLabelling:
        """The step's final rows: each of its groups keeps the labelling of a group with exactly
        its rows, or is labelled now. Labelled groups the step does not hold go on in ``carry``
        (``successor``; a later step may take them) or, without it, are cancelled."""
        if len(row_ids) != step.layout.num_rows:
            raise ValueError(f"{len(row_ids)} row identities for {step.layout.num_rows} rows")
        self._step = (step, list(row_ids))
        kept = set()
        for group, members in enumerate(step.member_rows):
            ids = [row_ids[r] for r in members]
            kept.add(frozenset(ids))
            if not self.has_group(ids):
                self.relabelled_groups += 1
                self._start(rows_of(step, group), ids)
        for key in set(self._labellings) - kept:
            labelling = self._labellings.pop(key)
            if carry is None:
                self._cancel_group(labelling)
            else:
                carry._labellings[key] = labelling
                carry.started = labelling.started if carry.started is None else min(carry.started, labelling.started)
                carry.last_arrival = max(carry.last_arrival or 0.0, self.last_arrival)  # it came in with this step's
        # The step's own time: from its earliest group's start (groups carried away no longer count).
        self.started = min((g.started for g in self._labellings.values()), default=None)
        return self

    @property
    def streamed_groups(self) -> int:
        """The step's groups whose labelling started before its last group came in."""
        if self.last_arrival is None:
            return 0
        return sum(g.started < self.last_arrival for g in self._labellings.values())

    @property
    def duration_s(self) -> float:
        """From the first group's start to the last group's end (or now)."""
        if self.started is None:
            return 0.0
        ends = [g.finished for g in self._labellings.values() if not g.done.cancelled()]
        return (time.perf_counter() if None in ends else max(ends)) - self.started

    def matches(self, row_ids: Sequence[Hashable]) -> bool:
        return self._step is not None and len(row_ids) == len(self._step[1]) and set(row_ids) == set(self._step[1])

    def collect(self, row_ids: Sequence[Hashable], layout: GroupLayout) -> tuple[Labelling, float]:
        """As ``PendingLabelling.collect``, with ``label_timeout_s`` counted from each group's
        start: the groups not labelled by then take ``timeout_fallback``, the others keep their labels."""
        step, step_ids = self._step
        waited_from = time.perf_counter()
        labels = np.full(step.layout.num_rows, DEGENERATE, dtype=np.int64)
        failed = np.zeros(step.layout.num_groups, dtype=bool)
        zero = np.zeros(step.layout.num_groups, dtype=bool)
        timed_out = np.zeros(step.layout.num_groups, dtype=bool)
        fallback, metrics, reasons = None, [], collections.Counter()
        for group, members in enumerate(step.member_rows):
            labelling = self._labellings[frozenset(step_ids[r] for r in members)]
            deadline = labelling.started + self.config.label_timeout_s
            try:
                result = labelling.done.result(timeout=max(0.0, deadline - time.perf_counter()))
            except concurrent.futures.TimeoutError:
                timed_out[group] = True
                self._cancel_group(labelling)
                continue
            # The group's rows as labelled, in the step's order of them.
            own = {row_id: row for row, row_id in enumerate(labelling.row_ids)}
            labels[members] = result.labels[[own[step_ids[r]] for r in members]]
            failed[group], zero[group] = result.failed_groups[0], result.zero_advantage_groups[0]
            fallback = fallback or result.fallback
            metrics.append(result.metrics)
            reasons.update(result.failure_reasons)
        streaming = {
            STREAMED_METRIC: float(self.streamed_groups),
            RELABELLED_METRIC: float(self.relabelled_groups),
            APART_METRIC: float(sum(g.apart for g in self._labellings.values())),
        }
        labelling = Labelling(labels, failed, zero, fallback, {**merged_group_metrics(metrics), **streaming})
        if timed_out.any():
            message = (
                f"{CONFIG_ROOT}.diversity.backend={self.config.backend}: {int(timed_out.sum())} of the step's "
                f"{step.layout.num_groups} groups were not labelled within diversity.label_timeout_s="
                f"{self.config.label_timeout_s:g} s of their start"
            )
            timeouts = timed_out_labelling(self.config, step, labels, timed_out, message)
            labelling = Labelling(
                timeouts.labels,
                failed | timed_out,
                zero | timeouts.zero_advantage_groups,
                None,
                {**labelling.metrics, **timeouts.metrics},
            )
        else:  # a timed-out step counted already (timed_out_labelling)
            backend = make_backend(self.config)
            if hasattr(backend, "on_step_labelled"):
                backend.on_step_labelled(failed, dict(reasons))
        if self._owns_pool:
            self._pool.shutdown(wait=False)
        return moved_to_rows(labelling, step, step_ids, row_ids, layout), time.perf_counter() - waited_from

    def _cancel_group(self, labelling: _GroupLabelling) -> None:
        if labelling.apart:  # nothing of it runs here
            return
        labelling.groups.cancelled.set()
        if not labelling.done.cancel():  # running: the backend aborts what it has in flight
            cancel_labelling(self.config, labelling.groups)

    def cancel(self, wait_s: float = CANCEL_WAIT_S) -> None:
        """Cancel every group still labelling; the pool's threads get ``wait_s`` to end."""
        if self._cancelled:
            return
        self._cancelled = True
        for labelling in self._labellings.values():
            if not labelling.done.done():
                self._cancel_group(labelling)
        if self._owns_pool:
            self._pool.shutdown(wait=False, cancel_futures=True)
        _, running = wait([labelling.done for labelling in self._labellings.values()], timeout=wait_s)
        if wait_s and running:
            logger.warning("polyepo: %d cancelled group labellings still run after %.0f s", len(running), wait_s)

    @property
    def running(self) -> bool:
        return any(not g.done.done() for g in self._labellings.values())


def labelled_record(labelling: Labelling, row_ids: Sequence[str], duration_s: float) -> dict:
    """One group's ``labelling`` (rows ``row_ids``, in its order; it took ``duration_s``) as
    plain data, for ``StreamedLabelling.add_labelled`` in another process (``from_record``)."""
    return {
        "row_ids": list(row_ids),
        "duration_s": duration_s,
        "labels": labelling.labels.tolist(),
        "failed": bool(labelling.failed_groups[0]),
        "zero_advantage": bool(labelling.zero_advantage_groups[0]),
        "fallback": labelling.fallback,
        "metrics": labelling.metrics,
        "failure_reasons": labelling.failure_reasons,
    }


def timed_out_record(row_ids: Sequence[str], duration_s: float) -> dict:
    """A group not labelled within ``label_timeout_s`` of its start: it takes ``timeout_fallback``
    in the step that collects it."""
    return {"row_ids": list(row_ids), "duration_s": duration_s, "timed_out": True}


def failed_record(row_ids: Sequence[str], duration_s: float, error: BaseException) -> dict:
    """A group whose labelling raised (``fallback=error``, ``timeout_fallback=error``): the step
    that collects it raises too."""
    return {"row_ids": list(row_ids), "duration_s": duration_s, "error": f"{type(error).__name__}: {error}"}


def from_record(record: dict) -> Labelling | BaseException:
    """The labelling a record describes, or the exception its group's collection raises."""
    if "error" in record:
        return RuntimeError(f"labelling a group in another process (the fully async rollouter) failed: {record['error']}")
    if record.get("timed_out"):
        return concurrent.futures.TimeoutError()
    return Labelling(
        np.asarray(record["labels"], dtype=np.int64),
        np.array([record["failed"]]),
        np.array([record["zero_advantage"]]),
        record["fallback"],
        record["metrics"],
        record["failure_reasons"],
    )


def merged_group_metrics(per_group: Sequence[dict[str, float]]) -> dict[str, float]:
    """The step's backend metrics from its groups' labellings: a ``..._groups`` count summed, any
    other value averaged over the groups that reported it, weighted by its ``_groups`` count when
    it has one (``judge_consistency`` by ``judge_consistency_groups``)."""
    keys = {key for metrics in per_group for key in metrics}
    merged = {}
    for key in keys:
        reported = [metrics for metrics in per_group if key in metrics]
        if key.endswith("_groups"):
            merged[key] = float(sum(metrics[key] for metrics in reported))
            continue
        weights = [metrics.get(f"{key}_groups", 1.0) for metrics in reported]
        total = sum(weights)
        merged[key] = float(sum(w * m[key] for w, m in zip(weights, reported)) / total) if total else float("nan")
    return merged
