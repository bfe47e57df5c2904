"""The legacy trainer (``verl.trainer.ppo.ray_trainer``), the separation trainer built on it, and
the one-step-off-policy and fully async trainers built on that one (``patch_apart_trainer``).

Their ``compute_advantage(data, ...)`` gets the whole ``DataProto`` (responses, prompts,
attention mask, each reward-extra-info key as its own array), so the estimator reads it there;
what the call lacks is the tokenizer and a way back for metrics:

- in: ``fit`` is wrapped to make the running trainer known to this thread; the wrapped
  ``compute_advantage`` builds ``StepInputs`` from ``data`` and that trainer's tokenizer and
  supplies them to the estimator for the call;
- out: the estimator's metrics travel in the returned ``DataProto.meta_info`` (the function
  takes no metrics argument), and the wrapped ``compute_data_metrics`` merges them into the
  step's metrics.

Early labelling (``polyepo_plugin.diversity.early_labelling``) starts in the wrapped ``extract_reward``:
``fit`` calls it on every training step once the batch is final (after ``_balance_batch``
reorders it, whether or not that runs) and before the reward-model, old-log-prob, reference
and value stages; it runs with ``rollout_correction.bypass_mode`` too, where
``_compute_old_log_prob`` is skipped. Validation calls it as well and is left alone. Rows are
identified by a hash of uid, prompt and response tokens, so a row order changed after the hook
cannot pair labels with the wrong rows, and a ``response_mask`` changed by rejection sampling
(``rollout_correction.rollout_rs``) does not change a row's identity; the mask the rollout wrote
is kept (wrapped ``compute_rollout_correction_and_add_to_batch``) so that backends labelling at
the advantage stage read the same text as those started early.

Streamed (the fully async trainer): its groups are labelled as they are put into or pulled from
the rollouter's message queue (``fully_async``), and the wrapped ``extract_reward`` seals that
``StreamedLabelling`` with the step's final rows instead of starting a labelling of the whole batch.

The legacy trainer adds no padding rows before advantages (``pad_dataproto_to_divisor`` runs
only around validation generation in 0.9.1), so its groups are whole.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from dataclasses import dataclass
from typing import Any

import torch

from polyepo_plugin.config import parse_config
from polyepo_plugin.diversity import close_backends
from polyepo_plugin.diversity.early_labelling import (
    PendingLabelling,
    StreamedLabelling,
    row_identities,
    starts_early,
    step_groups,
    streams,
)
from polyepo_plugin.estimator import GROUP_ESTIMATORS, StepInputs, reads_strategies, supplied_inputs, supplying
from polyepo_plugin.integration import served_judge
from polyepo_plugin.integration.checks import validate_run
from polyepo_plugin.integration.patching import class_to_patch, passes_group_inputs, wrap_attribute

METRICS_META_KEY = "poly_epo_metrics"


@dataclass
class _Run:
    """The trainer whose ``fit`` runs in this thread, the step's early labelling, and the
    step's ``response_mask`` as the rollout wrote it, kept when rollout correction replaces it."""

    trainer: Any
    pending: PendingLabelling | StreamedLabelling | None = None
    validating: bool = False
    rollout_mask: torch.Tensor | None = None
    stream: StreamedLabelling | None = None  # the groups of the step being pulled, not sealed yet

    def take_rollout_mask(self, response_mask: torch.Tensor) -> torch.Tensor | None:
        """The kept mask, if it is the one ``response_mask`` was made from by removing tokens."""
        kept, self.rollout_mask = self.rollout_mask, None
        if kept is None or kept.shape != response_mask.shape or (response_mask.bool() & ~kept.bool()).any():
            return None
        return kept

    def take_pending(self) -> PendingLabelling | None:
        pending, self.pending = self.pending, None
        return pending

    def drop_pending(self) -> None:
        for pending in (self.take_pending(), self.take_stream()):
            if pending is not None:
                pending.cancel()

    def take_stream(self) -> StreamedLabelling | None:
        stream, self.stream = self.stream, None
        return stream


def labels_early(trainer) -> bool:
    """Whether ``trainer``'s estimator reads strategies from a backend that starts early."""
    options = parse_config(trainer.config.algorithm)
    name = trainer.config.algorithm.adv_estimator
    return name in GROUP_ESTIMATORS and reads_strategies(name, options) and starts_early(options.diversity)


def streams_groups(trainer) -> bool:
    """Whether ``trainer``'s groups are labelled one by one as they arrive (``streams``)."""
    return labels_early(trainer) and streams(parse_config(trainer.config.algorithm).diversity)


_run: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("polyepo_legacy_run", default=None)


def current_run() -> _Run | None:
    """The run whose ``fit`` this thread (or task) is in."""
    return _run.get()


def batch_row_ids(data) -> list[str]:
    """Identities of a DataProto's rows: uid, prompt and response tokens under the attention
    mask, which rollout correction leaves alone (it removes tokens from ``response_mask``)."""
    batch = data.batch
    prompts, responses = batch["prompts"], batch["responses"]
    attention = batch["attention_mask"].bool()
    prompt_mask, response_mask = attention[:, : prompts.shape[1]], attention[:, prompts.shape[1] :]
    return row_identities(
        data.non_tensor_batch["uid"],
        [responses[row][response_mask[row]] for row in range(len(responses))],
        [prompts[row][prompt_mask[row]] for row in range(len(prompts))],
    )


def wrap_compute_advantage(original):
    """Around a trainer's ``compute_advantage(data, adv_estimator, ...)``: supply the step's inputs."""

    @functools.wraps(original)
    def compute_advantage(data, adv_estimator, *args, **kwargs):
        if adv_estimator not in GROUP_ESTIMATORS or supplied_inputs() is not None:
            # Other estimators: verl's code untouched. v1: its wrapper supplied the inputs already.
            return original(data, adv_estimator, *args, **kwargs)
        run = _run.get()
        tokenizer = getattr(run.trainer, "tokenizer", None) if run else None
        text_mask = run.take_rollout_mask(data.batch["response_mask"]) if run else None
        inputs = StepInputs(data.batch, data.non_tensor_batch, tokenizer, metrics={}, text_mask=text_mask)
        if run is not None and (pending := run.take_pending()) is not None:
            inputs.early, inputs.row_ids = pending, batch_row_ids(data)
        with supplying(inputs):
            result = original(data, adv_estimator, *args, **kwargs)
        result.meta_info[METRICS_META_KEY] = inputs.metrics
        return result

    return compute_advantage


def wrap_compute_data_metrics(original):
    @functools.wraps(original)
    def compute_data_metrics(batch, *args, **kwargs):
        metrics = original(batch, *args, **kwargs)
        metrics.update(batch.meta_info.get(METRICS_META_KEY, {}))
        return metrics

    return compute_data_metrics


def wrap_init(original):
    @functools.wraps(original)
    def __init__(self, config, *args, **kwargs):
        validate_run(config)
        original(self, config, *args, **kwargs)

    return __init__


def wrap_reward_loop_setup(original):
    """Around the method that builds a trainer's reward loop (legacy: ``init_workers``, v1:
    ``_setup``): a judge that verl serves is pointed at the reward-model router then."""

    @functools.wraps(original)
    def setup(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        served_judge.connect_if_served(self)
        return result

    return setup


def wrap_extract_reward(original):
    """Start the step's labelling as the reward stage begins (see the module docstring)."""

    @functools.wraps(original)
    def extract_reward(batch, *args, **kwargs):
        run = _run.get()
        if run is not None and not run.validating:
            stream = run.take_stream()
            run.drop_pending()  # a labelling the last step never collected
            if labels_early(run.trainer):
                diversity = parse_config(run.trainer.config.algorithm).diversity
                groups = step_groups(
                    batch.non_tensor_batch["uid"],
                    batch.batch["response_mask"],
                    batch.batch,
                    batch.non_tensor_batch,
                    run.trainer.tokenizer,
                )
                if stream is not None:
                    run.pending = stream.seal(groups, batch_row_ids(batch))
                else:
                    run.pending = PendingLabelling(diversity, groups, batch_row_ids(batch))
            elif stream is not None:
                stream.cancel()
        return original(batch, *args, **kwargs)

    return extract_reward


def wrap_rollout_correction(original):
    """Around ``compute_rollout_correction_and_add_to_batch``: keep the rollout's mask for the
    backends, which read what the model wrote, rejected or not (see ``StepInputs.text_mask``)."""

    @functools.wraps(original)
    def compute_rollout_correction_and_add_to_batch(batch, *args, **kwargs):
        run = _run.get()
        if run is not None:
            run.rollout_mask = batch.batch["response_mask"].clone()
        return original(batch, *args, **kwargs)

    return compute_rollout_correction_and_add_to_batch


def patch_rollout_correction(module) -> None:
    # Both legacy trainers import it from the module inside fit, at call time.
    wrap_attribute(
        module, "compute_rollout_correction_and_add_to_batch", wrap_rollout_correction, ("batch",), module.__name__
    )


@contextlib.contextmanager
def _running(trainer):
    run = _Run(trainer)
    token = _run.set(run)
    try:
        yield
    finally:
        run.drop_pending()  # a step that raised, or the last one: nothing outlives the run
        close_backends()
        _run.reset(token)


def wrap_fit(original):
    """Make the trainer known while its ``fit`` runs; an async ``fit`` (the trainers with the
    rollout apart) keeps it in its own task's context, which its steps run in."""
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def fit(self, *args, **kwargs):
            with _running(self):
                return await original(self, *args, **kwargs)

        return fit

    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        with _running(self):
            return original(self, *args, **kwargs)

    return fit


def wrap_validate(original):
    @functools.wraps(original)
    def _validate(self, *args, **kwargs):
        run = _run.get()
        if run is None:
            return original(self, *args, **kwargs)
        run.validating = True
        try:
            return original(self, *args, **kwargs)
        finally:
            run.validating = False

    return _validate


def patch_advantage_functions(module) -> None:
    """Wrap a module's own binding of ``compute_advantage`` (and ``compute_data_metrics``)."""
    where = module.__name__
    current = getattr(module, "compute_advantage", None)
    if current is not None and passes_group_inputs(current):
        return  # a patched verl passes batch, tokenizer and metrics itself
    wrap_attribute(module, "compute_advantage", wrap_compute_advantage, ("data", "adv_estimator", "config"), where)
    if hasattr(module, "compute_data_metrics"):
        wrap_attribute(module, "compute_data_metrics", wrap_compute_data_metrics, ("batch",), where)
    if hasattr(module, "extract_reward"):
        wrap_attribute(module, "extract_reward", wrap_extract_reward, ("batch",), where)


def patch_trainer_module(module, trainer_class: str, wrap_its_init: bool) -> None:
    patch_advantage_functions(module)
    trainer = class_to_patch(module, trainer_class)
    if trainer is None:
        return
    where = f"{module.__name__}.{trainer_class}"
    if wrap_its_init:
        wrap_attribute(trainer, "__init__", wrap_init, ("config",), where)
    wrap_attribute(trainer, "init_workers", wrap_reward_loop_setup, (), where)
    wrap_attribute(trainer, "fit", wrap_fit, (), where)
    if hasattr(trainer, "_validate"):
        wrap_attribute(trainer, "_validate", wrap_validate, (), where)


def patch_legacy_trainer(module) -> None:
    patch_trainer_module(module, "RayPPOTrainer", wrap_its_init=True)


def patch_separation_trainer(module) -> None:
    # Its __init__ calls RayPPOTrainer.__init__, which validates; its fit is its own.
    patch_trainer_module(module, "SeparateRayPPOTrainer", wrap_its_init=False)


# module -> the trainer it defines, built on the separation trainer, with the rollout apart.
APART_TRAINERS = {
    "verl.experimental.one_step_off_policy.ray_trainer": "OneStepOffRayTrainer",
    "verl.experimental.fully_async_policy.fully_async_trainer": "FullyAsyncTrainer",
}


def patch_apart_trainer(module) -> None:
    """The one-step-off-policy and fully async trainers reach their advantage stage through the
    separation trainer's ``_fit_compute_reward`` / ``_fit_compute_advantage`` /
    ``_fit_collect_metrics``, whose functions are wrapped already; what they have of their own is
    an ``__init__`` that skips ``RayPPOTrainer``'s (so it gets the start-up checks here) and an
    async ``fit`` (made known to the step as the others' ``fit`` is). The fully async one is a Ray
    actor class: ``wrap_attribute`` wraps the methods its actor runs."""
    trainer_class = APART_TRAINERS[module.__name__]
    trainer = class_to_patch(module, trainer_class)
    if trainer is None:
        return
    where = f"{module.__name__}.{trainer_class}"
    wrap_attribute(trainer, "__init__", wrap_init, ("config",), where)
    wrap_attribute(trainer, "fit", wrap_fit, (), where)
