"""The v1 trainer (``verl.trainer.ppo.v1``, verl's default since 0.9.0).

Its ``PPOTrainer._compute_advantage(batch, metrics)`` fetches a fixed list of TransferQueue
fields (uid, masks, scores, log-probs) and calls ``compute_advantage_for_multi_trajectories``,
whose rows are keyed ``{uid}_{session}_{i}``: an agent loop may return several outputs per
session. For a group estimator, polyepo does what verl does for GRPO there (see
``final_output_rows``): only each session's final output enters the group, and its advantage
is broadcast to every row of the session.

- in: the wrapped ``_compute_advantage`` makes the trainer and its ``metrics`` known to this
  thread; the wrapped ``compute_advantage_for_multi_trajectories`` picks the final outputs,
  fetches their ``prompts``, ``responses``, the rollout's ``response_mask`` and reward extra
  info from TransferQueue, lays them out as the legacy batch at verl's padded width, checks
  they are the rows verl handed over (``check_same_rows``), and supplies them as
  ``StepInputs`` for its call of ``compute_advantage``;
- out: the estimator writes its metrics into the trainer's ``metrics`` dict.

Rows as verl's agent loops write them (``agent_loop_tq``): a response holds the model's turns
and, between them, tool and observation tokens with ``response_mask`` 0; backends read the
model's turns (``StepInputs.text_mask``). verl's v1 pads a batch with synthetic rows tagged
``is_padding`` (``padding_utils.upsample_batch_to_divisible_size``: one masked token, no
score); they are passed on as ``StepInputs.padding`` and join no group. Rejection sampling
(``rollout_correction.rollout_rs``) hands over a ``response_mask`` with rejected tokens removed:
rows keep their identity (their key), their group and their text.

Early labelling starts in the wrapped ``_balance_batch``: ``_step_once`` calls it on every step
(it returns the batch unchanged when balancing is off), after the rollout and a colocated
reward model's scoring, before old log-probs, reference and values; ``_compute_old_log_prob``
is not a hook because bypass mode skips it. The rows labelled are each session's final output,
identified by their TransferQueue keys, and the advantage stage collects them by key.

Streamed: v1's replay buffer (``replay_buffer.ReplayBuffer.sample``, every trainer mode) polls
TransferQueue's tags every ``poll_interval`` (2 s in 0.9.1) until enough prompt groups are
finished, while the agent loops still run. The wrapped ``_sync_metadata_from_transfer_queue``
starts each newly finished group's labelling then (``StreamedLabelling.add_group``, its final
outputs keyed as above), during the step's ``_step_once``; the wrapped ``_balance_batch`` seals
it with the step's rows instead of starting a labelling of the whole batch. The hook acts on
the polls of a step's sampling only (it learns the trainer from ``_step_once``); in the
asynchronous modes the agent loops also finish groups while the trainer computes and updates,
so ``FinishedGroupWatch``, a thread started with ``fit``, lists the training partition every
``WATCH_INTERVAL_S`` and starts those groups then. Both see a
group at their first look after it finished and label it once (verl clears a group's prompt
key when it samples the group, so no look sees it finished again). Finished groups a step did
not sample keep their labelling in the next step's stream; groups verl evicts are dropped.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from polyepo_plugin.config import parse_config
from polyepo_plugin.diversity import close_backends
from polyepo_plugin.diversity.early_labelling import PendingLabelling, StreamedLabelling, step_groups
from polyepo_plugin.estimator import GROUP_ESTIMATORS, StepInputs, supplying
from polyepo_plugin.integration.legacy import (
    labels_early,
    patch_advantage_functions,
    streams_groups,
    wrap_init,
    wrap_reward_loop_setup,
)
from polyepo_plugin.integration.patching import class_to_patch, wrap_attribute


@dataclass
class _AdvantageCall:
    trainer: Any
    batch: Any  # the KVBatchMeta of the step
    metrics: dict


_current_call: contextvars.ContextVar[_AdvantageCall | None] = contextvars.ContextVar("polyepo_v1_call", default=None)
# Each trainer's labelling started early in the current step, collected (and removed) at its
# advantage stage.
_pending: weakref.WeakKeyDictionary[Any, PendingLabelling | StreamedLabelling] = weakref.WeakKeyDictionary()
# Each trainer's groups labelled as they finish in the step being sampled, until _balance_batch seals them.
_streams: weakref.WeakKeyDictionary[Any, StreamedLabelling] = weakref.WeakKeyDictionary()
# One look at a time, from listing TransferQueue to adding the groups it found (the step's own
# poll, the watch thread), and none while _balance_batch seals the stream.
_stream_lock = threading.Lock()
# The trainer whose _step_once runs in this thread (the replay buffer's polls run inside it).
_stepping: contextvars.ContextVar[Any] = contextvars.ContextVar("polyepo_v1_stepping", default=None)
TRAIN_PARTITION = "train"
# The replay buffer's polls that streaming sees come every 2 s, and only while a step samples.
WATCH_INTERVAL_S = 0.5
logger = logging.getLogger(__name__)


def final_output_rows(keys: list[str]) -> tuple[list[int], list[int]]:
    """Rows of each session's final output, and for every row the position of its session's.

    Keys are ``{uid}_{session}_{i}``; a session's final output is its largest ``i``. The rule and
    the order (sessions by first appearance) are those of verl 0.9.1's GRPO path in
    ``verl.trainer.ppo.v1.utils.compute_advantage_for_multi_trajectories``.
    Returns ``(final_rows, session_of_row)``: ``final_rows[s]`` is a row index, ``session_of_row[r]``
    indexes ``final_rows``.
    """
    final: dict[str, tuple[int, int]] = {}
    session_keys = []
    for row, key in enumerate(keys):
        parts = key.rsplit("_", 2)
        if len(parts) != 3:
            raise ValueError(f"polyepo: v1 row key {key!r} is not of the form {{uid}}_{{session}}_{{index}}")
        session = f"{parts[0]}_{parts[1]}"
        session_keys.append(session)
        output = int(parts[2])
        if session not in final or final[session][0] < output:
            final[session] = (output, row)
    position = {session: s for s, session in enumerate(final)}
    return [row for _, row in final.values()], [position[session] for session in session_keys]


# verl's per-token fields that TransferQueue stores under the same or another name: the row
# check compares them, token for token, between the rows we fetch and the rows verl hands over.
_STORED_NAME = {
    "token_level_scores": "rm_scores",
    "old_log_probs": "old_log_probs",
    "rollout_log_probs": "rollout_log_probs",
}


@dataclass
class StoredRows:
    """Rows as TransferQueue holds them, padded to verl's width: the mask the rollout wrote and
    the per-token fields (under verl's names) that the row check compares."""

    response_mask: torch.Tensor  # (B, L) bool
    fields: dict[str, torch.Tensor]  # name -> (B, L)


def check_same_rows(stored: StoredRows, given_mask: torch.Tensor, given: dict[str, torch.Tensor]) -> None:
    """The rows fetched for the estimator must be, in order, the rows verl gives it.

    ``given_mask`` and ``given`` are verl's ``response_mask`` and per-token fields. Each side
    is read independently, so a permutation inside a prompt group (rows share a uid there),
    which would pair strategies with the wrong rewards, shows as a row whose scores or
    log-probs differ, or whose mask covers a token the stored row does not have. verl's mask
    may lack tokens of the stored one: rollout correction's rejection sampling
    (``verl.trainer.ppo.rollout_corr_helper.compute_rollout_correction_and_add_to_batch``)
    removes tokens from training and writes the reduced mask back only after the advantages.
    """
    rows = len(stored.response_mask)
    if rows != len(given_mask):
        raise RuntimeError(f"polyepo: fetched {rows} rows from TransferQueue for {len(given_mask)} given rows")
    given_mask = given_mask.bool()
    differs = (given_mask & ~stored.response_mask).any(-1)
    trained_on_both = stored.response_mask & given_mask
    for name, values in stored.fields.items():
        # Scores on every token (a reward sits on the last one, masked or not); log-probs where both train.
        where = torch.ones_like(trained_on_both) if name == "token_level_scores" else trained_on_both
        ours, theirs = values.double(), given[name].double()
        # NaN on both sides is the same value (the estimator then says the reward is not finite).
        differs |= ((ours != theirs) & ~(ours.isnan() & theirs.isnan()) & where).any(-1)
    wrong = differs.nonzero().flatten().tolist()
    if wrong:
        row = wrong[0]
        raise RuntimeError(
            f"polyepo: the responses fetched from TransferQueue do not line up with the rows given to the estimator "
            f"({len(wrong)} of {rows} rows differ; row {row}: fetched {_describe(stored.response_mask[row], stored.fields, row)}, "
            f"given {_describe(given_mask[row], given, row)}); refusing to pair strategies with the wrong rewards"
        )


def _describe(mask: torch.Tensor, fields: dict[str, torch.Tensor], row: int) -> str:
    score = float(fields["token_level_scores"][row].sum()) if "token_level_scores" in fields else float("nan")
    return f"(trained tokens {int(mask.sum())}, score {score:.5g})"


def fetch_step_inputs(
    trainer, partition: str, keys: list[str], tags: list[dict], width: int | None = None, compared: tuple[str, ...] = ()
) -> tuple[StepInputs, StoredRows, np.ndarray]:
    """The rows ``keys`` laid out as the legacy trainer's batch, as stored, and their uids.

    Responses are right-padded to ``width`` (verl's padded width for the step, set by its longest
    row, which may be an output this call does not fetch) or to the longest fetched one.
    ``attention_mask`` covers every response token, as in the legacy trainer; ``text_mask`` is
    the rollout's ``response_mask`` (an agent loop's tool and observation tokens are 0 there).
    ``compared``: verl field names (``_STORED_NAME``) to fetch for ``check_same_rows``.
    """
    import transfer_queue as tq

    stored_names = [_STORED_NAME[name] for name in compared]
    fields = tq.kv_batch_get(
        keys=keys,
        partition_id=partition,
        select_fields=["uid", "prompts", "responses", "response_mask", "extra_fields", *stored_names],
    )
    tokenizer = trainer.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer is not None and tokenizer.pad_token_id is not None else 0
    responses, response_lengths = pad_ragged(fields["responses"], pad_id, left=False, width=width)
    text_mask, _ = pad_ragged(fields["response_mask"], 0, left=False, width=responses.shape[1])
    prompts, prompt_lengths = pad_ragged(fields["prompts"], pad_id, left=True)
    prompt_mask = torch.arange(prompts.shape[1]) >= (prompts.shape[1] - prompt_lengths)[:, None]
    all_response_tokens = torch.arange(responses.shape[1]) < response_lengths[:, None]
    extra = reward_extra_info(list(fields["extra_fields"]))
    diversity = parse_config(trainer.config.algorithm).diversity
    if diversity.backend == "labels" and diversity.key not in extra:  # the one backend that reads it
        extra.update(top_level_reward_keys(keys, partition, [diversity.key]))
    inputs = StepInputs(
        batch={
            "responses": responses.long(),
            "prompts": prompts.long(),
            "attention_mask": torch.cat([prompt_mask, all_response_tokens], dim=1).long(),
        },
        non_tensor_batch=extra,
        tokenizer=tokenizer,
        padding=np.array([bool(tag.get("is_padding", False)) for tag in tags], dtype=bool),
        text_mask=text_mask.bool(),
    )
    stored = StoredRows(
        text_mask.bool(),
        {name: pad_ragged(fields[_STORED_NAME[name]], 0, left=False, width=responses.shape[1])[0] for name in compared},
    )
    uids = np.array([getattr(uid, "data", uid) for uid in list(fields["uid"])], dtype=object)
    return inputs, stored, uids


def reward_extra_info(extra_fields: list) -> dict[str, np.ndarray]:
    """Each key of the rows' ``extra_fields["reward_extra_info"]`` as one object array."""
    infos = []
    for extra in extra_fields:
        extra = getattr(extra, "data", extra)
        info = extra.get("reward_extra_info", {}) if isinstance(extra, dict) else {}
        infos.append(info if isinstance(info, dict) else {})
    keys = sorted({key for info in infos for key in info})
    return {key: _object_array([info.get(key) for info in infos]) for key in keys}


def top_level_reward_keys(keys: list[str], partition: str, names: list[str]) -> dict[str, np.ndarray]:
    """Reward extra info that v1 stores as fields of their own: with a colocated reward model,
    ``PPOTrainer._compute_reward_colocate`` writes each reward-extra key at the top level."""
    import transfer_queue as tq

    found = {}
    for name in names:
        try:
            values = tq.kv_batch_get(keys=keys, partition_id=partition, select_fields=[name])[name]
        except Exception:  # noqa: BLE001 - TransferQueue raises plain errors for a field no row has;
            continue  # the labels backend then stops with the keys it found
        found[name] = _object_array([getattr(v, "data", v) for v in list(values)])
    return found


def _object_array(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)  # keeps ints and strings apart, lists as lists
    array[:] = values
    return array


def pad_ragged(rows, pad_value, left: bool, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, L)`` rows padded with ``pad_value`` on the left or right, and each row's length.

    ``L`` is ``width`` when given (no row may be longer), else the longest row; dtypes are kept."""
    rows = list(rows.unbind()) if isinstance(rows, torch.Tensor) and rows.is_nested else list(rows)
    lengths = torch.tensor([row.numel() for row in rows], dtype=torch.long)
    longest = int(lengths.max()) if rows else 0
    if width is not None and width < longest:
        raise ValueError(f"polyepo: a stored row of {longest} tokens is longer than verl's padded width {width}")
    width = longest if width is None else width
    if not rows:
        return torch.zeros(0, width, dtype=torch.long), lengths
    padded = torch.full((len(rows), width), pad_value, dtype=rows[0].dtype)
    for i, row in enumerate(rows):
        if row.numel():
            target = padded[i, width - row.numel() :] if left else padded[i, : row.numel()]
            target.copy_(row)
    return padded, lengths


def wrap_compute_advantage_method(original):
    @functools.wraps(original)
    def _compute_advantage(self, batch, metrics):
        if self.config.algorithm.adv_estimator not in GROUP_ESTIMATORS:
            return original(self, batch, metrics)
        token = _current_call.set(_AdvantageCall(self, batch, metrics))
        try:
            return original(self, batch, metrics)
        finally:
            _current_call.reset(token)

    return _compute_advantage


def wrap_multi_trajectories(original, compute_advantage):
    """Around ``compute_advantage_for_multi_trajectories``: final outputs only, for group estimators."""

    @functools.wraps(original)
    def compute_advantage_for_multi_trajectories(data, batch_keys, adv_estimator, *args, **kwargs):
        call = _current_call.get()
        if adv_estimator not in GROUP_ESTIMATORS or call is None:
            return original(data, batch_keys, adv_estimator, *args, **kwargs)
        final_rows, session_of_row = final_output_rows(list(batch_keys))
        final = data.select_idxs(final_rows)
        final_keys = [batch_keys[r] for r in final_rows]
        tags = list(call.batch.tags) if call.batch.tags else [{}] * len(batch_keys)
        given_mask = final.batch["response_mask"]
        compared = tuple(name for name in _STORED_NAME if name in final.batch.keys())
        inputs, stored, _ = fetch_step_inputs(
            call.trainer,
            call.batch.partition_id,
            final_keys,
            [tags[r] for r in final_rows],
            width=given_mask.shape[1],
            compared=compared,
        )
        check_same_rows(stored, given_mask, {name: final.batch[name] for name in compared})
        inputs.metrics = call.metrics
        inputs.early, inputs.row_ids = _pending.pop(call.trainer, None), final_keys
        try:
            with supplying(inputs):
                final = compute_advantage()(final, adv_estimator, *args, **kwargs)
        finally:
            if inputs.early is not None:
                inputs.early.cancel()  # a step that raised leaves no labelling running (no-op once collected)
        # One value per final output (constant over its tokens), spread over its session's rows.
        per_session = (final.batch["advantages"] * final.batch["response_mask"]).sum(-1) / final.batch[
            "response_mask"
        ].sum(-1).clamp(min=1)
        spread = per_session[torch.as_tensor(session_of_row)][:, None] * data.batch["response_mask"]
        data.batch["advantages"] = spread.to(final.batch["advantages"].dtype)
        data.batch["returns"] = data.batch["advantages"].clone()
        return data

    return compute_advantage_for_multi_trajectories


def fetched_groups(trainer, partition: str, keys: list[str], tags: list[dict]):
    """The rows ``keys`` from TransferQueue as the estimator groups them."""
    inputs, _, uids = fetch_step_inputs(trainer, partition, keys, tags)
    return step_groups(uids, inputs.text_mask, inputs.batch, inputs.non_tensor_batch, inputs.tokenizer, inputs.padding)


def wrap_balance_batch(original):
    """Seal the step's streamed labelling, or start one, once its rows are final (see the module docstring)."""

    @functools.wraps(original)
    def _balance_batch(self, batch, *args, **kwargs):
        batch = original(self, batch, *args, **kwargs)
        early = labels_early(self)
        if early:
            final_rows, _ = final_output_rows(list(batch.keys))
            keys = [batch.keys[r] for r in final_rows]
            tags = list(batch.tags) if batch.tags else [{}] * len(batch.keys)
            groups = fetched_groups(self, batch.partition_id, keys, [tags[r] for r in final_rows])
        with _stream_lock:  # a look of the watch sees the stream before or after the seal, not during
            stale, stream = _pending.pop(self, None), _streams.pop(self, None)
            if stream is not None and early:
                # Groups finished but not sampled in this step keep their labels for a later one.
                carry = _streams[self] = stream.successor()
                _pending[self] = stream.seal(groups, keys, carry=carry)
            elif early:
                _pending[self] = PendingLabelling(parse_config(self.config.algorithm).diversity, groups, keys)
        if stale is not None:
            stale.cancel()
        if stream is not None and not early:
            stream.cancel()
        return batch

    return _balance_batch


def wrap_step_once(original):
    @functools.wraps(original)
    def _step_once(self, *args, **kwargs):
        token = _stepping.set(self)
        try:
            return original(self, *args, **kwargs)
        finally:
            _stepping.reset(token)

    return _step_once


def wrap_sync_metadata(original):
    """Around the replay buffer's poll of TransferQueue's tags: label each training group that
    has finished since (see the module docstring)."""

    @functools.wraps(original)
    def _sync_metadata_from_transfer_queue(self, *args, **kwargs):
        trainer = _stepping.get()
        if trainer is None or not streams_groups(trainer):
            return original(self, *args, **kwargs)
        with _stream_lock:  # the listing and what it starts or drops, with no look of the watch between
            result = original(self, *args, **kwargs)
            stream_finished_groups(
                trainer,
                self.finished_keys[TRAIN_PARTITION],
                self.failure_keys[TRAIN_PARTITION],
                self.partitions[TRAIN_PARTITION],
            )
        return result

    return _sync_metadata_from_transfer_queue


def trains_failed_groups(replay_buffer) -> bool:
    """Whether verl samples groups with a failed agent loop (``sync`` mode's default, their
    missing rows padded) rather than evicting and refilling them (the async modes)."""
    return replay_buffer.trainer_mode == "sync" and not getattr(replay_buffer, "sync_refill_failed_groups", False)


def stream_finished_groups(trainer, finished: set[str], failed: set[str], tags: dict[str, dict]) -> None:
    """Start labelling the training groups seen ``finished`` (prompt uids), and those seen
    ``failed`` where verl trains on them (``trains_failed_groups``), once each. ``tags``: every
    output key of the training partition and its tag, listed with them (a sampled group is not
    among them: verl clears its prompt's key when it samples it). Called with ``_stream_lock``
    held since the listing."""
    if trains_failed_groups(trainer.replay_buffer):
        finished = finished | failed
    stream = _streams.get(trainer)
    if stream is not None:
        stream.retain(tags)  # groups verl evicted (stale, filtered, failed) are gone for good
    outputs: dict[str, list[str]] = {}
    for key in tags:
        uid = key.rsplit("_", 2)[0]
        if uid in finished:
            outputs.setdefault(uid, []).append(key)
    new_keys = []  # the final outputs of the groups not labelled yet, group after group
    for keys in outputs.values():
        final_rows, _ = final_output_rows(keys)
        final_keys = [keys[r] for r in final_rows]
        if stream is None or not stream.has_group(final_keys):
            new_keys += final_keys
    if new_keys:  # one fetch and one arrival per poll: groups seen finished together came in together
        if stream is None:
            stream = _streams[trainer] = StreamedLabelling(parse_config(trainer.config.algorithm).diversity)
        stream.add_group(fetched_groups(trainer, TRAIN_PARTITION, new_keys, [tags[key] for key in new_keys]), new_keys)


class FinishedGroupWatch:
    """A daemon thread that lists TransferQueue's training partition every ``interval_s`` and
    starts labelling the groups finished since (``stream_finished_groups``), so that groups the
    asynchronous modes finish while the trainer computes or updates are labelled by the time a
    step samples them. A failed look is retried at the next one (the step's own polls and its
    seal still label every group) and warned about when it starts failing, then once a minute
    while it goes on failing."""

    def __init__(self, trainer, interval_s: float = WATCH_INTERVAL_S):
        self.trainer, self.interval_s = trainer, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="polyepo-v1-group-watch", daemon=True)

    def start(self) -> FinishedGroupWatch:
        self._thread.start()
        return self

    def stop(self, wait_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(wait_s)

    def _run(self) -> None:
        failing = 0  # consecutive failed looks
        while not self._stop.wait(self.interval_s):
            try:
                self.look()
                failing = 0
            except Exception:  # noqa: BLE001 - e.g. a group verl evicted between the listing and the fetch
                if failing % max(1, round(60 / self.interval_s)) == 0:
                    logger.warning(
                        "polyepo: watching TransferQueue for finished groups failed (%d looks in a row); "
                        "groups are labelled at the replay buffer's polls meanwhile",
                        failing + 1,
                        exc_info=True,
                    )
                failing += 1

    def look(self) -> None:
        import transfer_queue as tq

        with _stream_lock:
            if self._stop.is_set():  # the run ended while this look waited
                return
            listed = (tq.kv_list(partition_id=TRAIN_PARTITION) or {}).get(TRAIN_PARTITION, {})
            ended = {status: set() for status in ("finished", "failure")}
            outputs = {}
            for key, tag in listed.items():
                if not tag.get("is_prompt"):
                    outputs[key] = tag
                elif tag.get("status") in ended:
                    ended[tag["status"]].add(key)
            stream_finished_groups(self.trainer, ended["finished"], ended["failure"], outputs)


def wrap_fit(original):
    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        watch = FinishedGroupWatch(self).start() if streams_groups(self) else None
        try:
            return original(self, *args, **kwargs)
        finally:
            if watch is not None:
                watch.stop()
            with _stream_lock:  # a look still running ends before, and starts nothing after
                left = (_pending.pop(self, None), _streams.pop(self, None))
            for pending in left:  # nothing outlives the run
                if pending is not None:
                    pending.cancel()
            close_backends()

    return fit


def patch_v1_utils(module) -> None:
    patch_advantage_functions(module)
    if _native_sessions(module):
        return
    wrap_attribute(
        module,
        "compute_advantage_for_multi_trajectories",
        lambda original: wrap_multi_trajectories(original, lambda: module.compute_advantage),
        ("data", "batch_keys", "adv_estimator"),
        module.__name__,
    )


def patch_v1_trainer(module) -> None:
    trainer = class_to_patch(module, "PPOTrainer")
    if trainer is None:
        return
    where = f"{module.__name__}.PPOTrainer"
    wrap_attribute(trainer, "__init__", wrap_init, ("config",), where)
    wrap_attribute(trainer, "_setup", wrap_reward_loop_setup, (), where)
    if hasattr(trainer, "_add_estimator_inputs"):  # a verl patched with patches/ fetches the fields itself
        return
    wrap_attribute(trainer, "_compute_advantage", wrap_compute_advantage_method, ("batch", "metrics"), where)
    wrap_attribute(trainer, "_balance_batch", wrap_balance_batch, ("batch",), where)
    wrap_attribute(trainer, "_step_once", wrap_step_once, (), where)
    wrap_attribute(trainer, "fit", wrap_fit, (), where)
    # trainer_base binds the function by name at import: wrap that binding too.
    from verl.trainer.ppo.v1 import utils

    module.compute_advantage_for_multi_trajectories = utils.compute_advantage_for_multi_trajectories


def _native_sessions(module) -> bool:
    """A verl patched with patches/ groups sessions for group estimators itself."""
    return hasattr(module, "estimator_takes_final_outputs")


def patch_replay_buffer(module) -> None:
    replay_buffer = class_to_patch(module, "ReplayBuffer")
    if replay_buffer is not None:
        wrap_attribute(
            replay_buffer, "_sync_metadata_from_transfer_queue", wrap_sync_metadata, (), f"{module.__name__}.ReplayBuffer"
        )
