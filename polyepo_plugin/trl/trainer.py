"""TRL's ``GRPOTrainer`` with the set advantages of ``estimator.set_advantages`` in place of its own.

TRL 1.16 computes advantages inline in ``GRPOTrainer._generate_and_score_completions``, from the
rewards ``_calculate_rewards`` gathered from every process. ``PolyEpoGRPOTrainer`` overrides
those two steps and nothing else, so generation (HF or vLLM), the loss, clipping, logging and
accelerate/DeepSpeed scaling stay TRL's:

- ``_calculate_rewards``: gathers the step's prompt and completion texts from every process
  (``gather_object``) and, on the main process, starts labelling them in the background for the
  backends that start early (``early_labelling``), while TRL's reward functions run; then keeps
  the rewards TRL gathers, and for ``diversity.backend=labels`` the labels the reward functions
  logged (``log_extra(diversity.key, labels)``), gathered too.
- ``_generate_and_score_completions``: after TRL's own, the main process computes the set
  advantages of the whole generation batch (every group labelled once, whole, wherever its
  completions were generated), broadcasts them with the metrics, and every process keeps its
  own slice, as TRL slices its own advantages.

Groups are TRL's: its sampler puts a prompt's ``num_generations`` completions next to each other
in the generation batch gathered over processes, so row ``i`` belongs to group
``i // num_generations`` (the layout TRL's ``rewards.view(-1, num_generations)`` assumes).
Completions whose reward functions all returned None get advantage 0 and join no group, as in
TRL. The rewards are the weighted sum of the reward functions (``reward_weights``), never scaled
by a standard deviation: ``scale_rewards`` is not applied (a WARNING says so once when it asks
for scaling). Option errors name TRL's field (``PolyEpoGRPOConfig.poly_epo.set_size``), not
verl's key path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import trl
from accelerate import PartialState
from accelerate.utils import broadcast_object_list, gather_object
from trl import GRPOConfig, GRPOTrainer

from polyepo_plugin.config import CONFIG_ROOT, PolyEpoConfig, parse_config
from polyepo_plugin.diversity import check_backend_ready, close_backends
from polyepo_plugin.diversity.early_labelling import PendingLabelling, starts_early
from polyepo_plugin.estimator import (
    GROUP_ESTIMATORS,
    StepInputs,
    check_group_size,
    load_custom_objective,
    reads_strategies,
    set_advantages,
)
from polyepo_plugin.grouping import GroupLayout

TESTED_TRL = ">=1.16,<1.17"
TRL_OPTIONS = "PolyEpoGRPOConfig.poly_epo"  # TRL's name for what verl calls algorithm.poly_epo
logger = logging.getLogger(__name__)
_noted_scale_rewards: list[bool] = []
# The private steps overridden below, with the parameters this module passes on.
_OVERRIDDEN = {
    "_calculate_rewards": ["self", "inputs", "prompts", "completions", "completion_ids_list"],
    "_generate_and_score_completions": ["self", "inputs"],
}


def _check_trl_steps() -> None:
    for name, expected in _OVERRIDDEN.items():
        got = list(inspect.signature(getattr(GRPOTrainer, name)).parameters)
        if got != expected:
            raise ImportError(
                f"polyepo_plugin.trl overrides GRPOTrainer.{name}({', '.join(expected)}), but trl {trl.__version__} "
                f"has {name}({', '.join(got)}); install a tested TRL: pip install 'trl{TESTED_TRL}'"
            )


_check_trl_steps()


@dataclass
class PolyEpoGRPOConfig(GRPOConfig):
    """``GRPOConfig`` plus the set-advantage options, checked when the config is built.

    advantage_estimator: ``poly_epo`` (the marginal set advantage) or ``grpo_div`` (the GRPO+DIV
    baseline). poly_epo: the options as under verl's ``algorithm.poly_epo`` (``set_size``,
    ``objective``, ``diversity.*``, ...), a dict, or its JSON on the command line; None: the
    paper's defaults.
    """

    advantage_estimator: str = field(
        default="poly_epo",
        metadata={"help": f"Set-level advantage estimator: one of {', '.join(GROUP_ESTIMATORS)}."},
    )
    poly_epo: dict | str | None = field(
        default=None,
        metadata={"help": f"Options as under verl's {CONFIG_ROOT} (a dict, or its JSON); None: the defaults."},
    )

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.poly_epo, str):
            self.poly_epo = json.loads(self.poly_epo)
        checked_options(self)


def checked_options(args: GRPOConfig | None) -> tuple[str, PolyEpoConfig]:
    """The run's estimator and options (``PolyEpoGRPOConfig``'s; a plain ``GRPOConfig`` or None:
    ``poly_epo`` with the defaults), validated by the verl side's parser. A ``ValueError`` says
    what is wrong."""
    estimator = getattr(args, "advantage_estimator", "poly_epo")
    if estimator not in GROUP_ESTIMATORS:
        raise ValueError(f"advantage_estimator={estimator!r}: expected one of {', '.join(map(repr, GROUP_ESTIMATORS))}")
    section = getattr(args, "poly_epo", None)
    if section is not None and not isinstance(section, Mapping):
        raise ValueError(f"poly_epo must be a dict of options as under verl's {CONFIG_ROOT}, got {section!r}")
    with named_for_trl():
        options = parse_config({"poly_epo": section})
        if options.objective == "custom":
            load_custom_objective(options)
        if args is not None:
            check_group_size(estimator, options, int(args.num_generations), "num_generations")
    if args is not None:
        _note_scale_rewards(args.scale_rewards, estimator)
    if args is not None and args.multi_objective_aggregation != "sum_then_normalize":
        raise ValueError(
            f"multi_objective_aggregation={args.multi_objective_aggregation!r}: {estimator} reads the weighted sum "
            "of the raw rewards, which 'normalize_then_sum' replaces by per-group normalised rewards; "
            "use multi_objective_aggregation='sum_then_normalize' (the default)"
        )
    return estimator, options


@contextlib.contextmanager
def named_for_trl():
    """Option errors raised inside name TRL's config field (``PolyEpoGRPOConfig.poly_epo.set_size``)
    where the shared parser names verl's key (``algorithm.poly_epo.set_size``)."""
    try:
        yield
    except ValueError as error:
        if CONFIG_ROOT not in str(error):
            raise
        raise ValueError(str(error).replace(CONFIG_ROOT, TRL_OPTIONS)) from error


def _note_scale_rewards(scale_rewards, estimator: str) -> None:
    """Once a process: TRL's ``scale_rewards`` does nothing here (no advantage is divided by a
    standard deviation), which a user who asked for scaling should hear."""
    if scale_rewards in ("none", False) or _noted_scale_rewards:
        return
    _noted_scale_rewards.append(True)
    logger.warning(
        "scale_rewards=%r has no effect on %s: its set advantages are never divided by a standard deviation "
        "(TRL's default is 'group'; set scale_rewards='none' to say so and silence this note).",
        scale_rewards,
        estimator,
    )


@dataclass
class _Step:
    """One generation batch between the reward and the advantage stage (every process's rows)."""

    group_ids: np.ndarray
    inputs: StepInputs  # the responses as the main process's backend reads them
    rewards_per_func: torch.Tensor | None = None


class PolyEpoGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` training with ``poly_epo`` (or ``grpo_div``) advantages; same arguments.

    Options come from ``args`` (a ``PolyEpoGRPOConfig``; a plain ``GRPOConfig`` runs ``poly_epo``
    with the defaults) and are checked, with the strategy backend's start-up check (a judge that
    answers, a model that loads), before TRL loads the model. ``poly_epo/*`` metrics go to TRL's
    logger with its own.
    """

    def __init__(self, model, reward_funcs=None, args: GRPOConfig | None = None, *more, **kwargs):
        self.advantage_estimator, self.poly_epo = checked_options(args)
        if PartialState().is_main_process and reads_strategies(self.advantage_estimator, self.poly_epo):
            with named_for_trl():
                check_backend_ready(self.poly_epo.diversity)  # the main process labels every group
        self._poly_epo_step: _Step | None = None
        super().__init__(model, reward_funcs, args, *more, **kwargs)

    def train(self, *args, **kwargs):
        try:
            return super().train(*args, **kwargs)
        finally:
            step, self._poly_epo_step = self._poly_epo_step, None
            if step is not None and step.inputs.early is not None:
                step.inputs.early.cancel()  # a step that raised leaves no labelling running
            close_backends()

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        self._poly_epo_step = self._start_step(prompts, completions)
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._poly_epo_step.rewards_per_func = rewards_per_func
        if self.poly_epo.diversity.backend == "labels" and reads_strategies(self.advantage_estimator, self.poly_epo):
            labels = self._gathered_labels(len(prompts))
            self._poly_epo_step.inputs = dataclasses.replace(
                self._poly_epo_step.inputs,
                non_tensor_batch={self.poly_epo.diversity.key: np.array(labels, dtype=object)},
            )
        return rewards_per_func

    def _start_step(self, prompts: list, completions: list) -> _Step:
        """The step's groups; with strategies, every process's texts, labelled early where the backend starts early."""
        mode = "train" if self.model.training else "eval"
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        if not reads_strategies(self.advantage_estimator, self.poly_epo):
            rows = len(prompts) * self.accelerator.num_processes
            return _Step(np.arange(rows) // num_generations, StepInputs())
        texts = gather_object([message_text(c, roles=("assistant",)) for c in completions])
        prompt_texts = gather_object([message_text(p) for p in prompts])
        group_ids = np.arange(len(texts)) // num_generations
        inputs = (
            StepInputs.from_texts(texts, prompt_texts, self._tokenizer)
            if self.accelerator.is_main_process
            else StepInputs()
        )
        if self.accelerator.is_main_process and starts_early(self.poly_epo.diversity):
            row_ids = list(range(len(texts)))
            groups = inputs.response_groups(GroupLayout.from_index(group_ids.astype(object)))
            inputs = dataclasses.replace(
                inputs, early=PendingLabelling(self.poly_epo.diversity, groups, row_ids), row_ids=row_ids
            )
        return _Step(group_ids, inputs)

    def _gathered_labels(self, local_rows: int) -> list:
        """Every process's labels, logged by the reward functions under ``diversity.key``."""
        key = self.poly_epo.diversity.key
        per_process = gather_object([self._pending_extra_logs.get(key)])
        for labels in per_process:
            if labels is None or len(labels) != local_rows:
                got = "none" if labels is None else f"{len(labels)} labels for {local_rows} completions"
                raise ValueError(
                    f"{CONFIG_ROOT}.diversity.backend=labels reads each completion's strategy, which a reward function "
                    f"logs with log_extra({key!r}, labels), one per completion; got {got} on a process"
                )
        return [label for labels in per_process for label in labels]

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        step, self._poly_epo_step = self._poly_epo_step, None
        mode = "train" if self.model.training else "eval"
        advantages, metrics = self._set_advantages(step)
        local = len(output["advantages"])
        start = self.accelerator.process_index * local
        output["advantages"] = torch.tensor(
            advantages[start : start + local], dtype=output["advantages"].dtype, device=output["advantages"].device
        )
        logged = self._logs["advantages"]  # TRL logged its own advantages of every process's rows
        for _ in range(min(len(logged), len(advantages))):
            logged.pop()
        logged.extend(advantages)
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        return output

    def _set_advantages(self, step: _Step) -> tuple[list[float], dict[str, float]]:
        """Every process's advantages and the metrics, computed on the main process and broadcast."""
        result = None
        if self.accelerator.is_main_process:
            rewards_per_func = step.rewards_per_func.cpu()
            unscored = torch.isnan(rewards_per_func).all(dim=1)
            rewards = (rewards_per_func * self.reward_weights.cpu().unsqueeze(0)).nansum(dim=1)
            inputs = dataclasses.replace(step.inputs, padding=unscored.numpy())
            try:
                advantages, metrics = set_advantages(
                    rewards, step.group_ids, self.poly_epo, estimator=self.advantage_estimator, inputs=inputs
                )
                result = (advantages.tolist(), metrics, None)
            except Exception as error:
                # The other processes wait for this broadcast: they fail with the main process's error.
                broadcast_object_list([(None, None, f"{type(error).__name__}: {error}")])
                raise
        advantages, metrics, error = broadcast_object_list([result])[0]
        if error is not None:
            raise RuntimeError(
                f"{self.advantage_estimator}: the main process failed to compute the advantages: {error}"
            )
        return advantages, metrics


def message_text(message: str | Sequence[Mapping[str, Any]], roles: Sequence[str] | None = None) -> str:
    """A prompt or completion as text: a conversational one (a list of messages) as the text of
    its messages with a role in ``roles`` (all when None), one message a line."""
    if isinstance(message, str):
        return message
    lines = []
    for turn in message:
        if roles is not None and turn.get("role") not in roles:
            continue
        content = turn.get("content") or ""
        if not isinstance(content, str):  # multimodal content parts
            content = " ".join(part.get("text", "") for part in content if isinstance(part, Mapping))
        lines.append(content)
    return "\n".join(lines)
