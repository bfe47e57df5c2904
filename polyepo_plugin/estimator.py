"""The ``poly_epo`` and ``grpo_div`` estimators: the core's host-neutral entry and verl's signature.

``set_advantages`` is the one entry every host calls (verl's estimators below, TRL's trainer in
``polyepo_plugin.trl``, a notebook): one reward and one group id per response, and what the
strategy backend reads of the responses (``StepInputs``: plain texts, or a token batch), give
one advantage per response and the step's ``poly_epo/*`` metrics. Nothing here imports a host.

verl's estimators read: the per-token rewards (a response's reward is their sum), the response
mask, the uid of each row (``index``), the ``algorithm`` config (options under ``poly_epo``) and,
for backends that need them, ``batch`` / ``non_tensor_batch`` as upstream PR #7473 proposes to pass them.
Writes: ``(advantages, returns)`` shaped like ``response_mask``, each response's advantage on its
response tokens: the marginal set advantage (``poly_epo``) or the GRPO+DIV baseline's
(``grpo_div``). Advantages are never divided by a standard deviation (the paper's choice);
verl's ``norm_adv_by_std_in_grpo`` is not passed to registered estimators.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import time
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from polyepo_plugin.config import AUTO, CONFIG_ROOT, MIN_AUTO_SET_SIZE, PolyEpoConfig, parse_config
from polyepo_plugin.diversity import label_groups
from polyepo_plugin.diversity.groups import TIMED_OUT_METRIC, Labelling, ResponseGroups
from polyepo_plugin.diversity.early_labelling import PendingLabelling, starts_early
from polyepo_plugin.grouping import GroupLayout, distinct_per_group, verl_padding_rows
from polyepo_plugin.diversity.label_signal import LabelSignalMonitor
from polyepo_plugin.set_advantage import (
    custom_conditional_means,
    diversity_bonus_advantages,
    marginal_advantages,
    max_conditional_means,
    mean_conditional_means,
    poly_conditional_means,
    stable_seed,
)
from polyepo_plugin.diversity.strategies import tokenized_texts
from polyepo_plugin.user_code import load_function

logger = logging.getLogger(__name__)

# Above this C(N-1, k-1), advantage_scale=sum makes advantages large enough to swamp the
# learning rate the user tuned for GRPO-sized advantages.
SUM_SCALE_WARN_FACTOR = 1000
_warned_sum_factors: set[int] = set()
# Labels that are nearly always all-distinct or all-one make the diversity term inert; watched
# across the steps of this process (one trainer per process computes advantages).
_label_signal = LabelSignalMonitor()


@dataclass
class StepInputs:
    """What one advantage call may read beyond rewards and group ids, and where it reports.

    A host describes its responses either as plain texts (``from_texts``: ``texts``,
    ``prompt_texts``, token ids of the texts for token backends) or, like verl, as a token batch:
    ``batch``/``non_tensor_batch``: verl's batch in the legacy trainer's layout (``responses``,
    ``prompts``, ``attention_mask``; reward extra info per key). ``tokenizer``: to decode text.
    ``metrics``: a dict that receives the ``poly_epo/*`` statistics. ``padding``: ``(B,)`` bool,
    rows a trainer added only to even out the batch (verl's v1 tags them ``is_padding``); they
    join no group (verl's estimators add the rows with verl's padding uid,
    ``grouping.verl_padding_rows``); a uid is never padding by its text alone. ``early``: a
    labelling started earlier in the step, and ``row_ids`` the identities of this call's rows in
    the same terms (``polyepo_plugin.diversity.early_labelling``). ``text_mask``: ``(B, L)`` like
    ``batch["responses"]``, the tokens the model wrote as the rollout recorded them, which
    backends read; the integration passes it when the ``response_mask`` verl hands over may
    differ (rejection sampling removes tokens from training, not from the text); verl's
    estimators default it to the ``response_mask``. ``texts``/``prompt_texts``: ``(B,)`` the
    responses and their prompts as text, read by text backends instead of decoding ``batch``.
    """

    batch: Mapping[str, Any] | None = None
    non_tensor_batch: Mapping[str, Any] | None = None
    tokenizer: Any = None
    metrics: dict[str, float] | None = None
    padding: np.ndarray | None = None
    early: PendingLabelling | None = None
    row_ids: list | None = None
    text_mask: torch.Tensor | None = None
    texts: Sequence[str] | None = None
    prompt_texts: Sequence[str] | None = None

    @classmethod
    def from_texts(
        cls, texts: Sequence[str], prompts: Sequence[str] | None = None, tokenizer: Any = None
    ) -> StepInputs:
        """Responses given as text: ``texts`` ``(B,)``, ``prompts`` ``(B,)`` (``""`` each when None;
        only the ``judge`` and ``custom`` backends read them). Token backends see ``tokenizer``'s
        ids of the texts (``strategies.tokenized_texts``). The ``labels`` backend reads
        ``non_tensor_batch[diversity.key]``, one label per response, as from verl's reward."""
        tokens, mask = tokenized_texts(texts, tokenizer)
        return cls(
            batch={"responses": tokens},
            tokenizer=tokenizer,
            text_mask=mask,
            texts=[str(text) for text in texts],
            prompt_texts=[""] * len(texts) if prompts is None else [str(prompt) for prompt in prompts],
        )

    def response_groups(self, layout: GroupLayout) -> ResponseGroups:
        """What a backend reads of these responses, grouped by ``layout``."""
        return ResponseGroups(
            layout,
            self.text_mask,
            self.batch,
            self.non_tensor_batch,
            self.tokenizer,
            decoded_responses=self.texts,
            decoded_prompts=self.prompt_texts,
        )

    def completed_by(self, other: StepInputs | None) -> StepInputs:
        """These inputs, with what is missing here taken from ``other``."""
        if other is None:
            return self
        missing = {name: getattr(other, name) for name in self.__dataclass_fields__ if getattr(self, name) is None}
        return replace(self, **missing)


# The trainer integration's way in: verl calls a registered estimator with a fixed set of
# keywords, so the integration supplies the rest for the duration of one advantage call.
_supplied: contextvars.ContextVar[StepInputs | None] = contextvars.ContextVar("polyepo_step_inputs", default=None)


@contextlib.contextmanager
def supplying(inputs: StepInputs) -> Iterator[StepInputs]:
    """Make ``inputs`` visible to the estimators called inside the block (in this context only)."""
    token = _supplied.set(inputs)
    try:
        yield inputs
    finally:
        _supplied.reset(token)


def supplied_inputs() -> StepInputs | None:
    return _supplied.get()


def _verl_estimator(name: str):
    """Estimator ``name`` with verl's signature: ``(bs, response_length)`` rewards and mask -> ``(advantages, returns)``."""

    def estimator(
        token_level_rewards: torch.Tensor,
        response_mask: torch.Tensor,
        index: np.ndarray | None = None,
        config: Mapping[str, Any] | None = None,
        batch: Mapping[str, Any] | None = None,
        non_tensor_batch: Mapping[str, Any] | None = None,
        tokenizer: Any = None,
        metrics: dict[str, float] | None = None,
        **_: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # Keywords first (a verl patched with patches/ passes them), then what the trainer
        # integration supplies.
        inputs = StepInputs(batch, non_tensor_batch, tokenizer, metrics).completed_by(_supplied.get())
        if inputs.text_mask is None:
            inputs = replace(inputs, text_mask=response_mask)
        if index is not None:  # verl's padding rows, whether or not the trainer tagged them
            untagged = verl_padding_rows(np.asarray(index, dtype=object))
            inputs = replace(inputs, padding=untagged if inputs.padding is None else inputs.padding | untagged)
        # Summing with dtype=float64 is ~30x slower on CPU: sum, then set_advantages takes float64.
        per_row, step_metrics = set_advantages(
            token_level_rewards.sum(-1), index, parse_config(config), estimator=name, inputs=inputs
        )
        if inputs.metrics is not None:
            inputs.metrics.update(step_metrics)
        advantages = per_row.to(token_level_rewards.dtype)[:, None] * response_mask
        return advantages, advantages

    estimator.__name__ = estimator.__qualname__ = f"compute_{name}_advantage"
    estimator.__doc__ = (
        f"verl estimator ``{name}`` (options under ``algorithm.poly_epo``): ``(bs, response_length)`` rewards and "
        "mask -> ``(advantages, returns)``. Pass a dict as ``metrics`` to receive ``poly_epo/*`` statistics."
    )
    return estimator


def set_advantages(
    rewards: torch.Tensor | Sequence[float],
    group_ids: Sequence[Hashable] | np.ndarray | None,
    options: PolyEpoConfig | Mapping[str, Any] | None = None,
    *,
    estimator: str = "poly_epo",
    inputs: StepInputs | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The core's entry, for every host: ``(B,)`` advantages (float64) and the step's ``poly_epo/*`` metrics.

    ``rewards``: ``(B,)`` one per response. ``group_ids``: ``(B,)`` hashables; responses sharing
    one form a prompt group, in any order. ``options``: a ``PolyEpoConfig``, or the options as
    under verl's ``algorithm.poly_epo`` (a mapping, parsed and validated by ``parse_config``; None:
    the defaults). ``estimator``: ``poly_epo`` (the marginal set advantage) or ``grpo_div`` (the
    GRPO+DIV baseline). ``inputs``: what the strategy backend reads of the responses
    (``StepInputs.from_texts(texts, prompts)`` for plain texts) and which rows join no group
    (``padding``: they get 0). Groups no larger than the set size get 0 (``poly_epo``).
    """
    if estimator not in _GROUPED:
        raise ValueError(f"estimator={estimator!r}: expected one of {', '.join(map(repr, _GROUPED))}")
    if not isinstance(options, PolyEpoConfig):
        options = parse_config(None if options is None else {"poly_epo": options})
    if options.objective == "custom":
        load_custom_objective(options)  # a bad path or name fails before any labelling
    inputs = inputs or StepInputs()
    rewards = _finite_rewards(torch.as_tensor(rewards).double(), group_ids, estimator)
    needs_strategies, grouped_advantages = _GROUPED[estimator]
    groups = LabelledGroups.build(estimator, rewards, group_ids, options, inputs, needs_strategies(options))
    advantages, set_sizes = grouped_advantages(groups, options)
    return groups.finish(advantages, options, set_sizes)


def _finite_rewards(rewards: torch.Tensor, index, name: str) -> torch.Tensor:
    """``rewards``, checked: non-finite rewards are an error."""
    bad = (~torch.isfinite(rewards)).nonzero(as_tuple=True)[0].tolist()
    if bad:
        shown = ", ".join(
            f"row {row} (uid {index[row]!r}): {rewards[row].item()}"
            if index is not None
            else f"row {row}: {rewards[row].item()}"
            for row in bad[:10]
        )
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ValueError(f"{name} got non-finite rewards in {len(bad)} response(s): {shown}{more}")
    return rewards


@dataclass
class LabelledGroups:
    """A batch in the padded group layout, with its strategies when the estimator needs them."""

    layout: GroupLayout
    rewards: torch.Tensor  # (G, N)
    strategies: torch.Tensor | None  # (G, N), -1 degenerate
    labelling: Labelling | None
    timing: LabellingTiming | None

    @classmethod
    def build(cls, name, rewards, index, options, inputs: StepInputs, with_strategies):
        """Group the rows by uid and, when ``with_strategies``, label them with the configured backend."""
        if index is None:
            raise ValueError(
                f"{name} needs the uid of each response (index=...) to form prompt groups; verl passes "
                "data.non_tensor_batch['uid'], which was missing"
            )
        index = np.asarray(index, dtype=object)
        if len(index) != rewards.shape[0]:
            raise ValueError(f"{name} got {len(index)} uids for {rewards.shape[0]} responses")
        layout = GroupLayout.from_index(index, device=rewards.device, padding=inputs.padding)
        strategies = labelling = timing = None
        if with_strategies:
            labelling, timing = _label(options, inputs.response_groups(layout), inputs)
            strategies = layout.compact_strategies(labelling.labels)
        return cls(layout, layout.gather(rewards), strategies, labelling, timing)

    def finish(self, advantages, options, set_sizes) -> tuple[torch.Tensor, dict[str, float]]:
        """Zero the groups the labelling asks to; the flat rows' advantages and the metrics."""
        if self.labelling is not None and self.labelling.zero_advantage_groups.any():
            zeroed = torch.as_tensor(self.labelling.zero_advantage_groups, device=advantages.device)[:, None]
            advantages = torch.where(zeroed, torch.zeros_like(advantages), advantages)
        return self.layout.scatter(advantages), batch_metrics(self, advantages, set_sizes, options)


@dataclass(frozen=True)
class LabellingTiming:
    """``latency_s``: the labelling's own duration; ``wait_s``: how long the advantage stage
    waited for it; ``in_step``: labelled here although the backend starts early (the early start
    did not run, or labelled other rows)."""

    latency_s: float
    wait_s: float
    in_step: bool


def _label(options: PolyEpoConfig, groups: ResponseGroups, inputs: StepInputs) -> tuple[Labelling, LabellingTiming]:
    """The step's labelling: the one started early for exactly these rows, else computed now."""
    early = inputs.early
    if early is not None and inputs.row_ids is not None and early.matches(inputs.row_ids):
        labelling, waited = early.collect(inputs.row_ids, groups.layout)
        return labelling, LabellingTiming(early.duration_s, waited, in_step=False)
    expected_early = starts_early(options.diversity)
    if expected_early and early is not None:
        early.cancel()
        logger.warning(
            "poly_epo: the rows at the advantage stage are not those labelled early in the step; labelling them now"
        )
    started = time.perf_counter()
    labelling = label_groups(options.diversity, groups)
    took = time.perf_counter() - started
    return labelling, LabellingTiming(took, took, in_step=expected_early)


def _poly_epo_grouped(groups: LabelledGroups, options: PolyEpoConfig) -> tuple[torch.Tensor, torch.Tensor]:
    layout, grouped_rewards, strategies = groups.layout, groups.rewards, groups.strategies
    set_sizes = _set_sizes(layout.sizes, options)
    baselines = None
    if options.objective == "poly":
        means = poly_conditional_means(
            grouped_rewards, strategies, layout.valid, layout.sizes, set_sizes, options.single_strategy_sets_score_zero
        )
    elif options.objective == "max":
        means = max_conditional_means(grouped_rewards, layout.valid, layout.sizes, set_sizes)
    elif options.objective == "mean":
        means = mean_conditional_means(grouped_rewards, layout.valid, layout.sizes, set_sizes)
    else:
        custom = options.custom_objective
        means, baselines = custom_conditional_means(
            load_custom_objective(options),
            grouped_rewards,
            strategies,
            layout.valid,
            layout.sizes,
            set_sizes,
            [stable_seed(custom.seed, uid) for uid in layout.uids],
            custom.max_enumerated_subsets,
            custom.num_samples,
        )
    if options.advantage_scale == "sum":
        _warn_if_sum_scale_explodes(layout.sizes, set_sizes)
    advantages = marginal_advantages(means, layout.valid, layout.sizes, set_sizes, options.advantage_scale, baselines)
    return advantages, set_sizes


def _grpo_div_grouped(groups: LabelledGroups, options: PolyEpoConfig) -> tuple[torch.Tensor, None]:
    layout = groups.layout
    weight = options.diversity_bonus_weight
    return diversity_bonus_advantages(groups.rewards, groups.strategies, layout.valid, layout.sizes, weight), None


# name -> (does it label strategies for these options, its (G, N) advantages and set sizes)
_GROUPED = {
    "poly_epo": (lambda options: options.uses_strategies, _poly_epo_grouped),
    "grpo_div": (lambda options: True, _grpo_div_grouped),
}
compute_poly_epo_advantage = _verl_estimator("poly_epo")
compute_grpo_div_advantage = _verl_estimator("grpo_div")  # the paper's GRPO+DIV baseline
ESTIMATORS = {"poly_epo": compute_poly_epo_advantage, "grpo_div": compute_grpo_div_advantage}


def reads_strategies(name: str, options: PolyEpoConfig) -> bool:
    """Whether estimator ``name`` labels strategies with these options (``max``/``mean`` do not)."""
    return _GROUPED[name][0](options)


# Both read prompt groups: the trainer integration and start-up checks apply to them.
GROUP_ESTIMATORS = tuple(ESTIMATORS)  # a tuple: `in` compares with ==, which verl's str enums support


def check_group_size(name: str, options: PolyEpoConfig, group_size: int, setting: str) -> None:
    """Stop a run whose prompt groups of ``group_size`` responses would give every advantage 0:
    ``poly_epo`` sets as large as the group, ``grpo_div`` groups of one. ``setting`` names the
    host's option for the group size (verl: ``actor_rollout_ref.rollout.n``; TRL: ``num_generations``)."""
    if name != "poly_epo":
        if group_size < 2:
            raise ValueError(
                f"{name} with {setting}={group_size}: a group of one response gets advantage 0 and training "
                f"would learn nothing; expected {setting} >= 2."
            )
        return
    k = options.set_size_for(group_size)
    where = f"{CONFIG_ROOT}.set_size={options.set_size} gives k={k} with {setting}={group_size}"
    if options.set_size == AUTO and k >= group_size:
        raise ValueError(
            f"{where}: auto sets hold max({MIN_AUTO_SET_SIZE}, n // 2) responses and must be smaller than the group, "
            f"else every advantage is 0. Use {setting} >= {MIN_AUTO_SET_SIZE + 1} (the paper: 8); "
            "set_size=1 asks for GRPO-like advantages without the diversity term."
        )
    if k >= group_size:
        too_large = f"no set of {k} responses fits in a group of {group_size}"
        if k == group_size:
            too_large = "a set as large as the group"
        raise ValueError(
            f"{where}: {too_large}, so every advantage would be 0 and training would learn nothing. "
            f"Use set_size < {setting} (the paper: 8 responses, set_size=4)."
        )


def load_custom_objective(options: PolyEpoConfig):
    """The user's set function named by ``custom_objective.path``/``name``."""
    custom = options.custom_objective
    return load_function(custom.path, custom.name, f"{CONFIG_ROOT}.custom_objective")


def _set_sizes(sizes: torch.Tensor, options: PolyEpoConfig) -> torch.Tensor:
    """``(G,)`` group sizes -> ``(G,)`` k, one per group (``PolyEpoConfig.set_size_for``)."""
    return torch.tensor([options.set_size_for(n) for n in sizes.tolist()], dtype=sizes.dtype, device=sizes.device)


def _warn_if_sum_scale_explodes(sizes: torch.Tensor, set_sizes: torch.Tensor) -> None:
    informative = sizes > set_sizes
    if not informative.any():
        return
    factor = max(
        math.comb(int(n) - 1, int(k) - 1) for n, k in zip(sizes[informative].tolist(), set_sizes[informative].tolist())
    )
    if factor > SUM_SCALE_WARN_FACTOR and factor not in _warned_sum_factors:
        _warned_sum_factors.add(factor)
        logger.warning(
            "poly_epo: advantage_scale=sum multiplies advantages by C(N-1,k-1) = %d for this batch; "
            "expect advantages that many times larger than with advantage_scale=mean",
            factor,
        )


def batch_metrics(
    groups: LabelledGroups, advantages: torch.Tensor, set_sizes: torch.Tensor | None, options: PolyEpoConfig
) -> dict[str, float]:
    """``poly_epo/*`` statistics of one batch, for verl's step metrics (``set_sizes``: None for grpo_div)."""
    layout, strategies, labelling = groups.layout, groups.strategies, groups.labelling
    num_groups = int(layout.sizes.numel())
    skipped = layout.sizes <= (set_sizes if set_sizes is not None else 1)
    all_zero = ((advantages.abs() < 1e-12) | ~layout.valid).all(1)
    out = {
        "poly_epo/groups": float(num_groups),
        "poly_epo/skipped_groups": float(skipped.sum()),
        "poly_epo/padding_rows": float(layout.padding.sum()),
        "poly_epo/zero_advantage_group_fraction": float(all_zero.double().mean()) if num_groups else 0.0,
    }
    if set_sizes is not None:
        out["poly_epo/set_size_mean"] = float(set_sizes.double().mean()) if num_groups else 0.0
    if strategies is not None and num_groups:
        correct = layout.valid & (groups.rewards > options.correct_threshold)
        out["poly_epo/distinct_strategies_mean"] = float(distinct_per_group(strategies, layout.valid).double().mean())
        out["poly_epo/distinct_correct_strategies_mean"] = float(
            distinct_per_group(strategies, correct).double().mean()
        )
        out["poly_epo/degenerate_fraction"] = float(((strategies < 0) & layout.valid).sum() / layout.valid.sum())
        out["poly_epo/diversity_latency_s"] = groups.timing.latency_s
        out["poly_epo/diversity_wait_s"] = groups.timing.wait_s
        out["poly_epo/diversity_labelled_in_step"] = float(groups.timing.in_step)
        out["poly_epo/diversity_failed_groups"] = float(labelling.failed_groups.sum())
        out[TIMED_OUT_METRIC] = 0.0  # the backends that can time out count theirs in their metrics
        out.update(labelling.metrics)
        out.update(_label_signal.observe(strategies, layout.valid))
    return out
