"""The only module that touches verl internals: registration and trainer integration.

Registration: ``register()`` binds ``poly_epo`` in verl's advantage-estimator registry. It is
safe in every process and on repeated imports: it looks at verl's registry itself.

Trainer integration: verl 0.9.1 calls a registered estimator with rewards, masks and uids only.
Poly-EPO also needs each group's responses (and reward extra info, and a tokenizer to decode
text). When a trainer module is imported, these wrappers are installed (lazily: importing the
trainers at entry-point time would pull optional dependencies):

- ``compute_advantage`` where a trainer binds it by name (legacy ``ray_trainer``,
  ``v1.utils``, ``experimental.separation.ray_trainer``): for ``poly_epo`` only, it makes the
  DataProto's ``batch``/``non_tensor_batch`` and the tokenizer visible to the estimator;
- v1 ``PPOTrainer._compute_advantage``: for ``poly_epo`` only, it also fetches ``responses``,
  ``prompts`` and ``extra_fields`` from TransferQueue (stock v1 fetches a fixed list without
  them) and lays them out like the legacy trainer's batch;
- both trainers' ``__init__``: validates the run's config before any model loads;
- ``compute_data_metrics`` (legacy): adds the ``poly_epo/*`` metrics to the step's metrics.

Every other estimator goes through verl's code untouched. Each target's shape is checked
before it is wrapped; a mismatch is recorded and stops a ``poly_epo`` run at start-up.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.abc
import importlib.machinery
import inspect
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from polyepo_plugin.config import AUTO, parse_config
from polyepo_plugin.diversity import make_backend
from polyepo_plugin.estimator import compute_grpo_div_advantage, compute_poly_epo_advantage

logger = logging.getLogger(__name__)

ESTIMATOR_NAME = "poly_epo"
GRPO_DIV_NAME = "grpo_div"  # the paper's GRPO+DIV baseline, labelled by the same backends
TESTED_VERL_VERSIONS = ("0.9.1",)
PAPER_LOSS_AGG_MODE = "seq-mean-token-sum-norm"
METRICS_META_KEY = "poly_epo_metrics"


@dataclass
class GroupInputs:
    """What the trainer hands the estimator beyond verl's standard keywords, for one call."""

    batch: Any = None
    non_tensor_batch: Any = None
    tokenizer: Any = None
    metrics: dict = field(default_factory=dict)


_group_inputs: contextvars.ContextVar[GroupInputs | None] = contextvars.ContextVar("polyepo_group_inputs", default=None)
_legacy_tokenizer: list = [None]  # set by the legacy trainer's __init__; one trainer per process
_integration_problems: list[str] = []
_warned: set[str] = set()


def _registered_estimator(name: str, compute):
    """The function registered as ``name``. A verl patched with ``patches/`` passes the group
    inputs itself (it reads them off this signature); otherwise the trainer integration does."""

    def estimator(
        token_level_rewards,
        response_mask,
        index=None,
        config=None,
        batch=None,
        non_tensor_batch=None,
        tokenizer=None,
        metrics=None,
        **kwargs,
    ):
        given = {"batch": batch, "non_tensor_batch": non_tensor_batch, "tokenizer": tokenizer, "metrics": metrics}
        inputs = _group_inputs.get()
        if inputs is not None:  # the trainer integration fills in what the caller left out
            given = {key: getattr(inputs, key) if value is None else value for key, value in given.items()}
        return compute(token_level_rewards, response_mask, index=index, config=config, **given, **kwargs)

    # A stable, distinct name per estimator: register() recognises its own function by it.
    estimator.__name__ = estimator.__qualname__ = f"{name}_estimator"
    return estimator


poly_epo_estimator = _registered_estimator(ESTIMATOR_NAME, compute_poly_epo_advantage)
grpo_div_estimator = _registered_estimator(GRPO_DIV_NAME, compute_grpo_div_advantage)
ESTIMATORS = {ESTIMATOR_NAME: poly_epo_estimator, GRPO_DIV_NAME: grpo_div_estimator}
# Estimators that read prompt groups: the trainer integration and start-up checks apply to them.
GROUP_ESTIMATORS = tuple(ESTIMATORS)  # a tuple: `in` compares with ==, which verl's str enums support


def register() -> None:
    from verl.trainer.ppo import core_algos

    for name, function in ESTIMATORS.items():
        current = core_algos.ADV_ESTIMATOR_REGISTRY.get(name)
        if current is function:
            continue
        if current is not None and not _same_function(current, function):
            logger.warning(
                "polyepo: advantage estimator %r is already registered to %s.%s; leaving it in place",
                name,
                current.__module__,
                current.__qualname__,
            )
            continue
        # Either new, or our own function from an earlier import of this module (a reload):
        # replace it directly, since register_adv_est refuses a second, different object.
        core_algos.ADV_ESTIMATOR_REGISTRY.pop(name, None)
        core_algos.register_adv_est(name)(function)
    _install_import_hook()


def _same_function(a, b) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


# ----------------------------------------------------------------------------- start-up checks


def validate_run(config) -> None:
    """Stop a misconfigured poly_epo/grpo_div run before models load; note settings that differ from the paper."""
    algorithm = config.algorithm
    name = algorithm.get("adv_estimator")
    if name not in GROUP_ESTIMATORS:
        return
    if _integration_problems:
        raise RuntimeError(
            f"polyepo cannot hand prompt groups to {name} in this verl "
            f"({_verl_version()}; tested: {', '.join(TESTED_VERL_VERSIONS)}): " + "; ".join(_integration_problems)
        )
    if _verl_version() not in TESTED_VERL_VERSIONS:
        _warn_once(
            f"polyepo was tested with verl {', '.join(TESTED_VERL_VERSIONS)}; this is verl {_verl_version()}. "
            "The trainer integration's shape checks passed."
        )
    options = parse_config(algorithm)
    if name != ESTIMATOR_NAME or options.uses_strategies:
        # Building the backend loads what it needs (a custom file, math-verify, the judge's prompt);
        # check_ready probes what only exists at run time (the judge endpoint, the embedding model).
        backend = make_backend(options.diversity)
        if hasattr(backend, "check_ready"):
            backend.check_ready()
    rollout_n = int(config.actor_rollout_ref.rollout.n)
    if name == ESTIMATOR_NAME:
        _check_set_size(options, rollout_n)
    elif rollout_n < 2:
        raise ValueError(
            f"algorithm.adv_estimator={name} with actor_rollout_ref.rollout.n={rollout_n}: a group of one response "
            "gets advantage 0 and training would learn nothing; expected rollout.n >= 2."
        )
    actor = config.actor_rollout_ref.actor
    loss_agg_mode = actor.get("loss_agg_mode")
    if loss_agg_mode != PAPER_LOSS_AGG_MODE:
        _warn_once(
            f"{name}: actor.loss_agg_mode={loss_agg_mode}; the paper used {PAPER_LOSS_AGG_MODE} "
            "(Dr.GRPO-style, with actor.loss_scale_factor = max response length)."
        )
    elif actor.get("loss_scale_factor") is None:
        _warn_once(
            f"{name}: loss_agg_mode={PAPER_LOSS_AGG_MODE} without actor.loss_scale_factor divides by the padded "
            "response width (set per micro-batch by the v1 trainer); the paper divides by the max response length: "
            "set actor_rollout_ref.actor.loss_scale_factor=<data.max_response_length>."
        )
    filter_groups = algorithm.get("filter_groups")
    if filter_groups is not None and filter_groups.get("enable", False):
        _warn_once(
            f"{name}: algorithm.filter_groups is on; it drops all-correct groups, where {name} still has a "
            "signal (it prefers rarer strategies among correct answers)."
        )


def _check_set_size(options, rollout_n: int) -> None:
    k = max(1, rollout_n // 2) if options.set_size == AUTO else int(options.set_size)
    if k >= rollout_n:
        raise ValueError(
            f"algorithm.poly_epo.set_size={options.set_size} gives k={k} with actor_rollout_ref.rollout.n={rollout_n}: "
            "a set as large as the group makes every advantage 0 and training would learn nothing. "
            "Use set_size < rollout.n (the paper: rollout.n=8, set_size=4)."
        )


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _verl_version() -> str:
    import verl

    return getattr(verl, "__version__", "unknown")


# ----------------------------------------------------------------------------- wrappers


def _wrap_compute_advantage(original):
    """Around a trainer's ``compute_advantage(data, adv_estimator, ...)``: expose the DataProto."""

    @functools.wraps(original)
    def compute_advantage(data, adv_estimator, *args, **kwargs):
        if adv_estimator not in GROUP_ESTIMATORS:
            return original(data, adv_estimator, *args, **kwargs)
        inputs = _group_inputs.get()
        if inputs is None:  # legacy and separation trainers: the DataProto holds everything
            inputs = GroupInputs(data.batch, data.non_tensor_batch, _legacy_tokenizer[0])
        else:  # v1: the rows were fetched for the same keys; make sure they line up
            _check_same_rows(inputs.non_tensor_batch["uid"], data.non_tensor_batch["uid"])
        token = _group_inputs.set(inputs)
        try:
            result = original(data, adv_estimator, *args, **kwargs)
        finally:
            _group_inputs.reset(token)
        result.meta_info[METRICS_META_KEY] = inputs.metrics
        return result

    return compute_advantage


def _wrap_compute_data_metrics(original):
    @functools.wraps(original)
    def compute_data_metrics(batch, *args, **kwargs):
        metrics = original(batch, *args, **kwargs)
        metrics.update(batch.meta_info.get(METRICS_META_KEY, {}))
        return metrics

    return compute_data_metrics


def _wrap_legacy_init(original):
    @functools.wraps(original)
    def __init__(self, config, tokenizer, *args, **kwargs):
        validate_run(config)
        _legacy_tokenizer[0] = tokenizer
        original(self, config, tokenizer, *args, **kwargs)

    return __init__


def _wrap_v1_init(original):
    @functools.wraps(original)
    def __init__(self, config, *args, **kwargs):
        validate_run(config)
        original(self, config, *args, **kwargs)

    return __init__


def _wrap_v1_compute_advantage(original):
    @functools.wraps(original)
    def _compute_advantage(self, batch, metrics):
        if self.config.algorithm.adv_estimator not in GROUP_ESTIMATORS:
            return original(self, batch, metrics)
        inputs = _fetch_v1_group_inputs(batch, self.tokenizer)
        inputs.metrics = metrics
        token = _group_inputs.set(inputs)
        try:
            return original(self, batch, metrics)
        finally:
            _group_inputs.reset(token)

    return _compute_advantage


def _fetch_v1_group_inputs(batch, tokenizer) -> GroupInputs:
    """Fetch what stock v1 leaves in TransferQueue and lay it out as the legacy batch."""
    import transfer_queue as tq

    fields = tq.kv_batch_get(
        keys=batch.keys, partition_id=batch.partition_id, select_fields=["uid", "prompts", "responses", "extra_fields"]
    )
    pad_id = tokenizer.pad_token_id if tokenizer is not None and tokenizer.pad_token_id is not None else 0
    responses, response_lengths = _pad_ragged(fields["responses"], pad_id, left=False)
    prompts, prompt_lengths = _pad_ragged(fields["prompts"], pad_id, left=True)
    prompt_mask = torch.arange(prompts.shape[1]) >= (prompts.shape[1] - prompt_lengths)[:, None]
    response_mask = torch.arange(responses.shape[1]) < response_lengths[:, None]
    non_tensor = {"uid": np.array(list(fields["uid"]), dtype=object)}
    extra_infos = [_reward_extra_info(extra) for extra in list(fields["extra_fields"])]
    for key in sorted({k for info in extra_infos for k in info}):
        non_tensor[key] = np.array([info.get(key) for info in extra_infos], dtype=object)
    batch_tensors = {
        "responses": responses,
        "prompts": prompts,
        "attention_mask": torch.cat([prompt_mask, response_mask], dim=1).long(),
    }
    return GroupInputs(batch_tensors, non_tensor, tokenizer)


def _pad_ragged(nested: torch.Tensor, pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    rows = list(nested.unbind()) if nested.is_nested else list(nested)
    lengths = torch.tensor([row.numel() for row in rows])
    width = int(lengths.max()) if rows else 0
    padded = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        if row.numel():
            if left:
                padded[i, width - row.numel() :] = row
            else:
                padded[i, : row.numel()] = row
    return padded, lengths


def _reward_extra_info(extra_fields) -> dict:
    extra_fields = getattr(extra_fields, "data", extra_fields)
    info = extra_fields.get("reward_extra_info", {}) if isinstance(extra_fields, dict) else {}
    return info if isinstance(info, dict) else {}


def _check_same_rows(fetched_uids, estimator_uids) -> None:
    if len(fetched_uids) != len(estimator_uids) or any(a != b for a, b in zip(fetched_uids, estimator_uids)):
        raise RuntimeError(
            "polyepo: the responses fetched from TransferQueue are not in the order of the rows given to the "
            "estimator; refusing to pair strategies with the wrong rewards"
        )


# ----------------------------------------------------------------------------- patching


def _patch_attribute(owner, name: str, wrap, required_params: tuple[str, ...], where: str) -> None:
    current = getattr(owner, name, None)
    if current is None:
        _integration_problems.append(f"{where}.{name} not found")
        return
    if getattr(current, "__polyepo_wrapped__", False):
        return
    params = inspect.signature(current).parameters
    missing = [p for p in required_params if p not in params]
    if missing:
        _integration_problems.append(f"{where}.{name} has no parameter(s) {', '.join(missing)}")
        return
    wrapped = wrap(current)
    wrapped.__polyepo_wrapped__ = True
    setattr(owner, name, wrapped)


def passes_group_inputs(compute_advantage) -> bool:
    """True for a verl whose compute_advantage hands estimators the batch and tokenizer itself
    (verl patched with ``patches/``, or upstream once PR #7473 lands)."""
    return "tokenizer" in inspect.signature(compute_advantage).parameters


def _patch_module_with_compute_advantage(module) -> None:
    where = module.__name__
    current = getattr(module, "compute_advantage", None)
    if current is not None and passes_group_inputs(current):
        return
    _patch_attribute(module, "compute_advantage", _wrap_compute_advantage, ("data", "adv_estimator", "config"), where)
    if hasattr(module, "compute_data_metrics"):
        _patch_attribute(module, "compute_data_metrics", _wrap_compute_data_metrics, ("batch",), where)


def _patch_legacy_trainer(module) -> None:
    _patch_module_with_compute_advantage(module)
    trainer = getattr(module, "RayPPOTrainer", None)
    if trainer is None:
        _integration_problems.append(f"{module.__name__}.RayPPOTrainer not found")
        return
    _patch_attribute(
        trainer, "__init__", _wrap_legacy_init, ("config", "tokenizer"), f"{module.__name__}.RayPPOTrainer"
    )


def _patch_v1_trainer(module) -> None:
    trainer = getattr(module, "PPOTrainer", None)
    if trainer is None:
        _integration_problems.append(f"{module.__name__}.PPOTrainer not found")
        return
    where = f"{module.__name__}.PPOTrainer"
    _patch_attribute(trainer, "__init__", _wrap_v1_init, ("config",), where)
    if not hasattr(trainer, "_add_estimator_inputs"):  # the patched v1 fetches the fields itself
        _patch_attribute(trainer, "_compute_advantage", _wrap_v1_compute_advantage, ("batch", "metrics"), where)


MODULE_PATCHES = {
    "verl.trainer.ppo.ray_trainer": _patch_legacy_trainer,
    "verl.trainer.ppo.v1.utils": _patch_module_with_compute_advantage,
    "verl.trainer.ppo.v1.trainer_base": _patch_v1_trainer,
    "verl.experimental.separation.ray_trainer": _patch_module_with_compute_advantage,
}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of a target module to patch it once executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in MODULE_PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _PatchingLoader(spec.loader, MODULE_PATCHES[fullname])
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, patch):
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _apply_patch(self._patch, module)


def _apply_patch(patch, module) -> None:
    try:
        patch(module)
    except Exception as error:  # noqa: BLE001 - record it; a poly_epo run stops on it at start-up
        _integration_problems.append(f"patching {module.__name__} failed: {error!r}")
        logger.warning("polyepo: could not patch %s", module.__name__, exc_info=True)


def _install_import_hook() -> None:
    # By name, so that a reloaded copy of this module does not add a second hook.
    if not any(type(finder).__qualname__ == _PatchAfterImport.__qualname__ for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())
    for name, patch in MODULE_PATCHES.items():
        if name in sys.modules:
            _apply_patch(patch, sys.modules[name])
