"""The fully async trainer's message queue: each group labelled where and when it is complete.

verl's fully async rollouter puts one prompt's ``rollout.n`` responses at a time into a queue
(``MessageQueueClient.put_sample``, a pickled ``RolloutSample``), and the trainer pulls a
step's worth with ``get_sample``. The rollouter runs ahead of the trainer (up to
``async_training.staleness_threshold``), so a step's groups usually wait in the queue while the
trainer finishes the previous step.

- In the rollouter's process (its ``fit`` makes it known to the tasks it starts): the wrapped
  ``put_sample`` labels the group before it enters the queue, in a bounded pool
  (``group_labelling_workers``) with the ``label_timeout_s`` rule, and puts
  ``(LABELLED_SAMPLE, sample, records)`` instead of the sample: the labelling travels with it
  as JSON. A labelling that raises (``judge.fallback=error``, ``timeout_fallback=error``)
  travels as its error, raised again where the trainer collects the step; a sample the
  rollouter cannot read goes bare. Holding the put holds the sample's slot among the
  rollouter's active tasks, so the staleness bound still counts it (and the rollouter's own
  timings count the labelling as rollout time).
- In the trainer's process: the wrapped ``get_sample`` hands verl the bare sample, adds a
  travelling labelling to the step's ``StreamedLabelling`` (``add_labelled``), and starts
  labelling a bare group as it is pulled (``add_group``). The wrapped ``extract_reward``
  (``legacy``) seals the step; a group whose rows changed after the queue is labelled again.

Only where groups stream (``early_labelling.streams``: the judge without consistency probes,
``answer``). A judge served by verl (``base_url: verl``) is the rollouter's reward model here:
the rollouter builds verl's reward loop, so the judge is connected to its router there, once
its ``init_workers`` has built it (``served_judge.connect_if_served``), and a run whose groups
would not all be labelled there stops before it starts (``check_served_judge_streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from polyepo_plugin.config import CONFIG_ROOT, DiversityConfig, parse_config
from polyepo_plugin.diversity import close_backends, label_groups
from polyepo_plugin.diversity.groups import ResponseGroups
from polyepo_plugin.diversity.early_labelling import (
    StreamedLabelling,
    cancel_labelling,
    failed_record,
    group_labelling_workers,
    labelled_record,
    rows_of,
    step_groups,
    timed_out_record,
)
from polyepo_plugin.integration import served_judge
from polyepo_plugin.integration.legacy import batch_row_ids, current_run, streams_groups
from polyepo_plugin.integration.patching import class_to_patch, wrap_attribute

logger = logging.getLogger(__name__)

LABELLED_SAMPLE = "polyepo-labelled-sample"  # first item of a sample put with its labelling


def sample_groups(sample: bytes, tokenizer):
    """A queued ``RolloutSample``'s rows as the estimator will read them, and their identities."""
    import ray
    from verl.trainer.ppo.ray_trainer import compute_response_mask

    data = ray.cloudpickle.loads(sample).full_batch
    if "response_mask" not in data.batch.keys():  # as verl's assemble_batch_from_rollout_samples does
        data.batch["response_mask"] = compute_response_mask(data)
    groups = step_groups(data.non_tensor_batch["uid"], data.batch["response_mask"], data.batch, data.non_tensor_batch, tokenizer)
    return groups, batch_row_ids(data)


class RolloutLabeller:
    """The rollouter's labelling of the groups it puts into the queue."""

    def __init__(self, config: DiversityConfig, tokenizer):
        self.config = config
        self.tokenizer = tokenizer
        self._pool = ThreadPoolExecutor(group_labelling_workers(config), thread_name_prefix="polyepo-rollout-labelling")
        self._in_flight: dict[int, ResponseGroups] = {}  # the groups being labelled, by id

    async def labelled(self, sample: bytes):
        """``sample`` with its groups' labelling, as the queue carries it."""
        loop = asyncio.get_running_loop()
        groups, row_ids = await loop.run_in_executor(None, sample_groups, sample, self.tokenizer)
        records = []
        for group, members in enumerate(groups.member_rows):
            records.append(await self._record(rows_of(groups, group), [row_ids[r] for r in members]))
        return LABELLED_SAMPLE, sample, json.dumps(records)

    async def _record(self, group: ResponseGroups, row_ids: list[str]) -> dict:
        """One group labelled here within ``label_timeout_s``, as a record for the trainer."""
        started = time.perf_counter()
        labelling = asyncio.wrap_future(self._pool.submit(label_groups, self.config, group))
        self._in_flight[id(group)] = group
        try:
            done, _ = await asyncio.wait({labelling}, timeout=self.config.label_timeout_s)
        finally:
            del self._in_flight[id(group)]
        took = time.perf_counter() - started
        if not done:
            cancel_labelling(self.config, group)
            return timed_out_record(row_ids, took)
        try:
            return labelled_record(labelling.result(), row_ids, took)
        except Exception as error:  # noqa: BLE001 - raised again where the step collects it
            return failed_record(row_ids, took, error)

    def close(self) -> None:
        """Stop every labelling in flight (the rollouter's ``fit`` ended)."""
        for group in list(self._in_flight.values()):
            cancel_labelling(self.config, group)
        self._pool.shutdown(wait=False, cancel_futures=True)


_labeller: contextvars.ContextVar[RolloutLabeller | None] = contextvars.ContextVar("polyepo_rollout_labeller", default=None)


@contextlib.contextmanager
def _labelling_in(rollouter):
    diversity = parse_config(rollouter.config.algorithm).diversity
    labeller = RolloutLabeller(diversity, rollouter.tokenizer) if streams_groups(rollouter) else None
    token = _labeller.set(labeller)
    try:
        yield
    finally:
        _labeller.reset(token)
        if labeller is not None:
            labeller.close()
            close_backends()


def wrap_rollouter_fit(original):
    """Around the rollouter's async ``fit``: its tasks (which put the samples) see the labeller.
    (Ray pickles the rollouter's class by value: the wrapper refers to no context variable itself.)"""

    @functools.wraps(original)
    async def fit(self, *args, **kwargs):
        with _labelling_in(self):
            return await original(self, *args, **kwargs)

    return fit


def check_served_judge_streams(rollouter) -> None:
    """A judge served by verl is reachable only from the rollouter here, so every group must be
    labelled there."""
    if served_judge.served_judge_of(rollouter) is not None and not streams_groups(rollouter):
        raise ValueError(
            f"{CONFIG_ROOT}.diversity.judge.base_url=verl on the fully async trainer: verl serves the judge from the "
            "rollouter's reward loop, so the groups must be labelled there, as they are queued. That needs "
            f"{CONFIG_ROOT}.diversity.early_start=true and diversity.judge.consistency_fraction=0; or serve the judge "
            "yourself (examples/judge/serve_judge.sh) and give its base_url."
        )


def wrap_rollouter_init_workers(original):
    """Around the rollouter's async ``init_workers``: a judge that verl serves is pointed at the
    router of the reward loop it built (blocking calls in a thread, as verl builds that loop)."""

    @functools.wraps(original)
    async def init_workers(self, *args, **kwargs):
        check_served_judge_streams(self)
        result = await original(self, *args, **kwargs)
        await asyncio.get_running_loop().run_in_executor(None, served_judge.connect_if_served, self)
        return result

    return init_workers


def wrap_put_sample(original):
    @functools.wraps(original)
    async def put_sample(self, sample, *args, **kwargs):
        labeller = _labeller.get()
        if sample is not None and labeller is not None:
            try:
                sample = await labeller.labelled(sample)
            except Exception as error:  # noqa: BLE001 - reading the sample failed: the trainer labels it
                logger.warning("polyepo: reading a group in the rollouter failed (%r); the trainer labels it", error)
        return await original(self, sample, *args, **kwargs)

    return put_sample


def wrap_get_sample(original):
    @functools.wraps(original)
    async def get_sample(self, *args, **kwargs):
        sample, queue_length = await original(self, *args, **kwargs)
        records = None
        if isinstance(sample, tuple) and sample[0] == LABELLED_SAMPLE:
            _, sample, records = sample
        run = current_run()
        if sample is not None and run is not None and not run.validating and streams_groups(run.trainer):
            if run.stream is None:
                run.stream = StreamedLabelling(parse_config(run.trainer.config.algorithm).diversity)
            if records is not None:
                run.stream.add_labelled(json.loads(records))
            else:
                run.stream.add_group(*sample_groups(sample, run.trainer.tokenizer))
        return sample, queue_length

    return get_sample


def patch_message_queue(module) -> None:
    wrap_attribute(module.MessageQueueClient, "put_sample", wrap_put_sample, ("sample",), module.__name__)
    wrap_attribute(module.MessageQueueClient, "get_sample", wrap_get_sample, (), module.__name__)


def patch_rollouter(module) -> None:
    rollouter = class_to_patch(module, "FullyAsyncRollouter")
    if rollouter is not None:
        where = f"{module.__name__}.FullyAsyncRollouter"
        wrap_attribute(rollouter, "init_workers", wrap_rollouter_init_workers, (), where)
        wrap_attribute(rollouter, "fit", wrap_rollouter_fit, (), where)
