"""The legacy trainer (``verl.trainer.ppo.ray_trainer``) and the separation trainer built on it.

Their ``compute_advantage(data, ...)`` gets the whole ``DataProto`` (responses, prompts,
attention mask, each reward-extra-info key as its own array), so the estimator reads it there;
what the call lacks is the tokenizer and a way back for metrics:

- in: ``fit`` is wrapped to make the running trainer known to this thread; the wrapped
  ``compute_advantage`` builds ``StepInputs`` from ``data`` and that trainer's tokenizer and
  supplies them to the estimator for the call;
- out: the estimator's metrics travel in the returned ``DataProto.meta_info`` (the function
  takes no metrics argument), and the wrapped ``compute_data_metrics`` merges them into the
  step's metrics.

The legacy trainer adds no padding rows before advantages (``pad_dataproto_to_divisor`` runs
only around validation generation in 0.9.1), so its groups are whole.
"""

from __future__ import annotations

import contextvars
import functools

from polyepo_plugin.estimator import GROUP_ESTIMATORS, StepInputs, supplied_inputs, supplying
from polyepo_plugin.integration.checks import validate_run
from polyepo_plugin.integration.patching import passes_group_inputs, problems, wrap_attribute

METRICS_META_KEY = "poly_epo_metrics"

_running_trainer: contextvars.ContextVar = contextvars.ContextVar("polyepo_running_trainer", default=None)


def wrap_compute_advantage(original):
    """Around a trainer's ``compute_advantage(data, adv_estimator, ...)``: supply the step's inputs."""

    @functools.wraps(original)
    def compute_advantage(data, adv_estimator, *args, **kwargs):
        if adv_estimator not in GROUP_ESTIMATORS or supplied_inputs() is not None:
            # Other estimators: verl's code untouched. v1: its wrapper supplied the inputs already.
            return original(data, adv_estimator, *args, **kwargs)
        trainer = _running_trainer.get()
        inputs = StepInputs(data.batch, data.non_tensor_batch, getattr(trainer, "tokenizer", None), metrics={})
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


def wrap_fit(original):
    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        token = _running_trainer.set(self)
        try:
            return original(self, *args, **kwargs)
        finally:
            _running_trainer.reset(token)

    return fit


def patch_advantage_functions(module) -> None:
    """Wrap a module's own binding of ``compute_advantage`` (and ``compute_data_metrics``)."""
    where = module.__name__
    current = getattr(module, "compute_advantage", None)
    if current is not None and passes_group_inputs(current):
        return  # a patched verl passes batch, tokenizer and metrics itself
    wrap_attribute(module, "compute_advantage", wrap_compute_advantage, ("data", "adv_estimator", "config"), where)
    if hasattr(module, "compute_data_metrics"):
        wrap_attribute(module, "compute_data_metrics", wrap_compute_data_metrics, ("batch",), where)


def patch_trainer_module(module, trainer_class: str, wrap_its_init: bool) -> None:
    patch_advantage_functions(module)
    trainer = getattr(module, trainer_class, None)
    where = f"{module.__name__}.{trainer_class}"
    if trainer is None:
        problems.append(f"{where} not found")
        return
    if wrap_its_init:
        wrap_attribute(trainer, "__init__", wrap_init, ("config",), where)
    if not passes_group_inputs(module.compute_advantage):
        wrap_attribute(trainer, "fit", wrap_fit, (), where)


def patch_legacy_trainer(module) -> None:
    patch_trainer_module(module, "RayPPOTrainer", wrap_its_init=True)


def patch_separation_trainer(module) -> None:
    # Its __init__ calls RayPPOTrainer.__init__, which validates; its fit is its own.
    patch_trainer_module(module, "SeparateRayPPOTrainer", wrap_its_init=False)
