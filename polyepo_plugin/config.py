"""Options of the ``poly_epo`` estimator, read from verl's ``algorithm.poly_epo`` section.

verl's config has no ``poly_epo`` section, so users set options with hydra's ``++`` prefix
(set whether or not the key exists), e.g. ``++algorithm.poly_epo.set_size=4``. With no options
at all the paper's estimator settings apply. Every field is documented in the README's options
table; parsing rejects unknown keys and bad values with the full key, the value and the valid
choices, so a typo stops the run instead of silently training with a default.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

CONFIG_ROOT = "algorithm.poly_epo"
OBJECTIVES = ("poly", "max", "mean", "custom")
ADVANTAGE_SCALES = ("mean", "sum")
AUTO = "auto"
# set_size=auto's smallest k: with k = 1 every set holds one response and strategy diversity
# has no effect on the advantages (the GRPO-like case, only on request).
MIN_AUTO_SET_SIZE = 2


@dataclass(frozen=True)
class NgramOptions:
    """``diversity.ngram``: responses whose token n-gram sets overlap enough share a strategy.

    n: n-gram length in tokens. threshold: Jaccard similarity at or above which two responses
    are linked; a group's strategies are the connected components of those links.
    """

    n: int = 3
    threshold: float = 0.4

    def __post_init__(self):
        _require(self.n >= 1, "diversity.ngram.n", self.n, "an integer >= 1")
        _require(0.0 < self.threshold <= 1.0, "diversity.ngram.threshold", self.threshold, "a number in (0, 1]")


# The neutral fallback: a group that could not be labelled is one strategy (its empty responses
# degenerate), so its diversity term is the same in every subset and its advantage GRPO-shaped;
# another labeller's guess would pay for whatever that labeller splits on.
ONE_STRATEGY = "one_strategy"
JUDGE_FALLBACKS = (ONE_STRATEGY, "ngram", "answer", "embedding", "zero", "error")
# What groups not labelled in time get: only what cannot itself overrun (no model, no math-verify).
TIMEOUT_FALLBACKS = (ONE_STRATEGY, "ngram", "zero", "error")
# ``diversity.judge.base_url`` value for a judge that verl serves as its reward model.
SERVED_BY_VERL = "verl"


@dataclass(frozen=True)
class JudgeOptions:
    """``diversity.judge``: an OpenAI-compatible chat-completions endpoint labels each group.

    One request per prompt group; all groups of a step run concurrently (up to
    ``max_concurrency``). A failed attempt is retried up to ``max_retries`` times, waiting
    ``retry_backoff_s`` doubled at each retry (at most 8 s). The API key is read from the
    environment variable named by ``api_key_env`` (never from the config, never logged). ``prompt_template``: a file path, or
    None for the shipped math-reasoning prompt. Responses longer than ``max_response_chars``
    are truncated before sending. A 429 or 503 answer's ``Retry-After`` (in seconds) is
    honoured, waiting at most ``MAX_RETRY_AFTER_S`` and ``timeout_s``. A group whose labelling
    still fails after ``max_retries`` gets ``fallback``: ``one_strategy`` (default: the group is
    one strategy, a neutral, GRPO-shaped advantage), another backend's labels (``ngram``,
    ``answer``, ``embedding``), ``zero`` (advantage 0 for that group) or ``error`` (stop
    training). Stop rule: a step in which at least ``failed_step_fraction`` of the groups failed
    is a failed step, and after ``max_failed_steps`` failed steps in a row training stops
    whatever the fallback: the judge is down, overloaded or misconfigured, and the run would
    otherwise train on the fallback. At start-up (``JudgeClient.check_ready``) a judge that is
    still loading (no connection, a timeout, HTTP 429/502/503/504) is waited for up to
    ``startup_wait_s`` seconds; then it must list ``model`` among the models it serves and label
    a small test group (three responses, two methods) with parseable labels.
    ``consistency_fraction``: that fraction of each step's groups is asked a second time with
    its responses shuffled, and the agreement of the two labellings is reported as
    ``poly_epo/judge_consistency`` (off at 0).

    ``base_url: verl``: the judge is the generative reward model verl serves
    (``reward.reward_model.*``); requests go to verl's reward-model router with the model name
    verl serves (checked once verl's servers are up), and ``model`` is not used.
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "judge"
    api_key_env: str = "POLYEPO_JUDGE_API_KEY"
    timeout_s: float = 120.0
    max_retries: int = 3
    retry_backoff_s: float = 0.5
    max_concurrency: int = 32
    max_tokens: int = 1024
    temperature: float = 0.0
    prompt_template: str | None = None
    max_response_chars: int = 6000
    fallback: str = ONE_STRATEGY
    max_failed_steps: int = 3
    failed_step_fraction: float = 0.5
    startup_wait_s: float = 300.0
    consistency_fraction: float = 0.0

    def __post_init__(self):
        _require(self.timeout_s > 0, "diversity.judge.timeout_s", self.timeout_s, "a number > 0")
        _require(self.max_retries >= 0, "diversity.judge.max_retries", self.max_retries, "an integer >= 0")
        _require(self.retry_backoff_s >= 0, "diversity.judge.retry_backoff_s", self.retry_backoff_s, "a number >= 0")
        _require(self.max_concurrency >= 1, "diversity.judge.max_concurrency", self.max_concurrency, "an integer >= 1")
        _require(self.max_tokens >= 1, "diversity.judge.max_tokens", self.max_tokens, "an integer >= 1")
        _require(
            math.isfinite(self.temperature) and self.temperature >= 0,
            "diversity.judge.temperature",
            self.temperature,
            "a number >= 0 (0: greedy, the most repeatable labels)",
        )
        _require(
            self.max_response_chars >= 1,
            "diversity.judge.max_response_chars",
            self.max_response_chars,
            "an integer >= 1",
        )
        _require(self.fallback in JUDGE_FALLBACKS, "diversity.judge.fallback", self.fallback, _one_of(JUDGE_FALLBACKS))
        _require(
            self.max_failed_steps >= 1, "diversity.judge.max_failed_steps", self.max_failed_steps, "an integer >= 1"
        )
        _require(
            0.0 < self.failed_step_fraction <= 1.0,
            "diversity.judge.failed_step_fraction",
            self.failed_step_fraction,
            "a number in (0, 1] (1: only steps in which every group failed count)",
        )
        _require(
            math.isfinite(self.startup_wait_s) and self.startup_wait_s >= 0,
            "diversity.judge.startup_wait_s",
            self.startup_wait_s,
            "a number of seconds >= 0 (0: no wait)",
        )
        _require(
            0.0 <= self.consistency_fraction <= 1.0,
            "diversity.judge.consistency_fraction",
            self.consistency_fraction,
            "a number in [0, 1]",
        )


@dataclass(frozen=True)
class EmbeddingOptions:
    """``diversity.embedding``: sentence-transformers embeddings clustered by cosine similarity.

    model: a sentence-transformers model name or local path. threshold: cosine similarity at or
    above which two responses are linked (strategies are the linked components).
    """

    model: str = "all-MiniLM-L6-v2"
    threshold: float = 0.8
    device: str = "cpu"
    batch_size: int = 64

    def __post_init__(self):
        _require(-1.0 <= self.threshold <= 1.0, "diversity.embedding.threshold", self.threshold, "a number in [-1, 1]")
        _require(self.batch_size >= 1, "diversity.embedding.batch_size", self.batch_size, "an integer >= 1")


SEMANTIC_ENCODERS = ("contextual", "static")


@dataclass(frozen=True)
class SemanticOptions:
    """``diversity.semantic``: strategies from whole response texts; a split only on strong evidence.

    Each response's final answer is removed (``polyepo_plugin.diversity.final_answer``); the rest
    is embedded whole (``encoder=static``, the default: the model's per-word-piece vectors
    averaged with idf + 1 weights over the step, fast enough for a paper-scale step on CPU; ``contextual``: the
    model run over units of at most ``unit_tokens`` word pieces, ~80x slower) and the model's
    generic-text direction is removed. Two responses share a method unless the evidence says
    otherwise: the numbers they compute (not the prompt's, not the final answer's), weighted by
    how rare they are in the step plus one (what the whole step shares weighs the least, not 0),
    once both compute enough of them (``numbers_evidence``);
    else their embeddings. Clusters are merged by average linkage while the mean evidence
    ``e = a (J - numbers_threshold) + (1 - a) (cosine - embedding_threshold)`` over their cross
    pairs is at least 0 (``polyepo_plugin.diversity.text_clusters``). Higher thresholds split
    more. Where both responses hold a program, what it does (loops, recursion, operators,
    library calls; names and literals abstracted) joins the numbers and takes ``code_weight`` of
    the evidence, less where their numbers and constructs weigh less than ``numbers_evidence``
    (as numbers are scaled). Thresholds chosen on the development families of
    ``benchmarks/data/strategy_sets`` (at least 90% of one-strategy groups labelled one
    strategy, in mixed and in collapsed steps, then the best ARI, near-ties to the lower
    ``embedding_threshold``; see docs/benchmarks.md); ``code_weight``
    the same way on its one code family (test part), reported on the other sources.
    model/device/batch_size as for ``embedding``.
    """

    model: str = "all-MiniLM-L6-v2"
    device: str = "cpu"
    batch_size: int = 64
    encoder: str = "static"
    unit_tokens: int = 128
    embedding_threshold: float = 0.2
    numbers_threshold: float = 0.2
    numbers_evidence: float = 5.0
    code_weight: float = 0.8

    def __post_init__(self):
        _require(self.encoder in SEMANTIC_ENCODERS, "diversity.semantic.encoder", self.encoder, _one_of(SEMANTIC_ENCODERS))
        _require(self.unit_tokens >= 8, "diversity.semantic.unit_tokens", self.unit_tokens, "an integer >= 8")
        _require(self.batch_size >= 1, "diversity.semantic.batch_size", self.batch_size, "an integer >= 1")
        _require(
            -1.0 <= self.embedding_threshold <= 1.0,
            "diversity.semantic.embedding_threshold",
            self.embedding_threshold,
            "a number in [-1, 1] (a cosine)",
        )
        _require(
            0.0 <= self.numbers_threshold <= 1.0,
            "diversity.semantic.numbers_threshold",
            self.numbers_threshold,
            "a number in [0, 1] (a weighted Jaccard overlap)",
        )
        _require(
            math.isfinite(self.numbers_evidence) and self.numbers_evidence >= 0,
            "diversity.semantic.numbers_evidence",
            self.numbers_evidence,
            "a number >= 0 (0: any shared evidence lets numbers decide)",
        )
        _require(
            0.0 <= self.code_weight <= 1.0,
            "diversity.semantic.code_weight",
            self.code_weight,
            "a number in [0, 1] (0: programs are read as prose only)",
        )


@dataclass(frozen=True)
class AnswerOptions:
    """``diversity.answer``: final-answer equivalence with math-verify, in a worker process.

    timeout_s: a group whose answers are not classified within this many seconds (a
    pathological answer, e.g. a tower of powers) has its worker process killed, and the group
    takes ``diversity.timeout_fallback``; the other groups keep their labels.
    """

    timeout_s: float = 30.0

    def __post_init__(self):
        _require(self.timeout_s > 0, "diversity.answer.timeout_s", self.timeout_s, "a number > 0")


@dataclass(frozen=True)
class CustomBackendOptions:
    """``diversity.custom``: a user function labelling one group, named like verl's custom rewards."""

    path: str | None = None
    name: str = "label_strategies"


@dataclass(frozen=True)
class DiversityConfig:
    """``diversity``: which backend labels each response's strategy.

    backend: ``semantic`` (default; strategies from the reasoning, split only on strong evidence, offline
    MiniLM), ``ngram`` (token n-gram overlap, a cheap surface measure), ``labels`` (labels
    emitted per response by the reward function as reward extra info under ``key``), ``judge``
    (an LLM judge, the paper's method), ``answer`` (final-answer equivalence), ``embedding``
    (plain sentence embeddings) or ``custom`` (a user function). early_start: start the
    ``judge``, ``semantic``, ``embedding`` and ``answer`` backends as soon as a step's responses
    exist, in the background, and collect their labels at the advantage stage (see
    ``polyepo_plugin.diversity.early_labelling``). label_timeout_s: such a labelling not finished this
    many seconds after it started is cancelled at the advantage stage. timeout_fallback: what
    groups not labelled in time get (the whole step's on ``label_timeout_s``, single groups on
    ``answer.timeout_s``): ``one_strategy`` (default: each group one strategy, a neutral,
    GRPO-shaped advantage), ``ngram`` labels, ``zero`` (advantage 0) or ``error`` (stop training).
    """

    backend: str = "semantic"
    key: str = "strategy"
    early_start: bool = True
    label_timeout_s: float = 600.0
    timeout_fallback: str = ONE_STRATEGY
    ngram: NgramOptions = field(default_factory=NgramOptions)
    judge: JudgeOptions = field(default_factory=JudgeOptions)
    embedding: EmbeddingOptions = field(default_factory=EmbeddingOptions)
    semantic: SemanticOptions = field(default_factory=SemanticOptions)
    answer: AnswerOptions = field(default_factory=AnswerOptions)
    custom: CustomBackendOptions = field(default_factory=CustomBackendOptions)

    def __post_init__(self):
        _require(self.label_timeout_s > 0, "diversity.label_timeout_s", self.label_timeout_s, "a number > 0")
        _require(
            self.timeout_fallback in TIMEOUT_FALLBACKS,
            "diversity.timeout_fallback",
            self.timeout_fallback,
            _one_of(TIMEOUT_FALLBACKS),
        )
        if self.backend == "custom":
            _require(
                bool(self.custom.path),
                "diversity.custom.path",
                self.custom.path,
                "the path of a Python file when backend=custom",
            )


@dataclass(frozen=True)
class CustomObjectiveConfig:
    """``custom_objective``: a user set function, named the way verl names custom rewards.

    path/name: file and function ``f(rewards, strategies) -> scores`` (see README).
    max_enumerated_subsets: enumerate a group's subsets when C(N, k) is at most this.
    num_samples: otherwise, subsets sampled per response (and N times as many for the baseline).
    seed: seed of that sampling (combined with each group's uid).
    """

    path: str | None = None
    name: str = "set_objective"
    max_enumerated_subsets: int = 20000
    num_samples: int = 256
    seed: int = 0

    def __post_init__(self):
        _require(
            self.max_enumerated_subsets >= 1,
            "custom_objective.max_enumerated_subsets",
            self.max_enumerated_subsets,
            "an integer >= 1",
        )
        _require(self.num_samples >= 1, "custom_objective.num_samples", self.num_samples, "an integer >= 1")


@dataclass(frozen=True)
class PolyEpoConfig:
    """All options; the defaults are the paper's (objective poly, k = N/2, mean scaling).

    set_size: k, the responses a set holds; ``auto``: ``set_size_for`` each group.
    correct_threshold: a response counts as correct in the metrics when its reward exceeds it.
    diversity_bonus_weight: lambda of the ``grpo_div`` baseline estimator (r + lambda * d).
    """

    set_size: int | str = AUTO
    objective: str = "poly"
    single_strategy_sets_score_zero: bool = False
    advantage_scale: str = "mean"
    correct_threshold: float = 0.5
    diversity_bonus_weight: float = 0.5
    custom_objective: CustomObjectiveConfig = field(default_factory=CustomObjectiveConfig)
    diversity: DiversityConfig = field(default_factory=DiversityConfig)

    def __post_init__(self):
        if self.set_size != AUTO:
            ok = isinstance(self.set_size, int) and not isinstance(self.set_size, bool) and self.set_size >= 1
            _require(
                ok,
                "set_size",
                self.set_size,
                f"'{AUTO}' (half of each group, at least {MIN_AUTO_SET_SIZE}) or an integer >= 1",
            )
        _require(math.isfinite(self.correct_threshold), "correct_threshold", self.correct_threshold, "a finite number")
        _require(
            math.isfinite(self.diversity_bonus_weight) and self.diversity_bonus_weight >= 0,
            "diversity_bonus_weight",
            self.diversity_bonus_weight,
            "a number >= 0",
        )
        _require(self.objective in OBJECTIVES, "objective", self.objective, _one_of(OBJECTIVES))
        _require(
            self.advantage_scale in ADVANTAGE_SCALES, "advantage_scale", self.advantage_scale, _one_of(ADVANTAGE_SCALES)
        )
        if self.objective == "custom":
            _require(
                bool(self.custom_objective.path),
                "custom_objective.path",
                self.custom_objective.path,
                "the path of a Python file when objective=custom",
            )

    @property
    def uses_strategies(self) -> bool:
        return self.objective in ("poly", "custom")

    def set_size_for(self, group_size: int) -> int:
        """k for a group of ``group_size`` responses: ``max(2, group_size // 2)`` under ``auto``
        (a group no larger than k gets advantage 0), else ``set_size``."""
        if self.set_size == AUTO:
            return max(MIN_AUTO_SET_SIZE, group_size // 2)
        return int(self.set_size)


def parse_config(algorithm_config: Mapping[str, Any] | None) -> PolyEpoConfig:
    """Read ``poly_epo`` options from verl's ``algorithm`` section (a DictConfig, dict or None).

    Parsed once per distinct section content: the estimator calls this every step, and a
    hydra ``DictConfig`` is read through OmegaConf's slow accessors. The backend name is
    checked against the registry when the backend is built (at start-up, by the trainer
    integration's checks), and a custom objective's file when the objective is loaded.
    """
    section = algorithm_config.get("poly_epo") if algorithm_config is not None else None
    return _parse_section(_freeze(section))


@cache
def _parse_section(section) -> PolyEpoConfig:
    return _build(PolyEpoConfig, _thaw(section), CONFIG_ROOT)


def _freeze(value: Any):
    """A hashable copy of a (possibly nested) mapping of options, for the parse cache."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("__list__", tuple(_freeze(v) for v in value))
    return value


def _thaw(value: Any):
    if isinstance(value, tuple) and value[:1] == ("__list__",):
        return [_thaw(v) for v in value[1]]
    if isinstance(value, tuple):
        return {k: _thaw(v) for k, v in value}
    return value


def _build(cls: type, values: Mapping[str, Any] | None, where: str):
    if values is None:
        return cls()
    if not isinstance(values, Mapping):
        raise ValueError(f"{where} must be a mapping of options, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(map(str, values)) - set(names))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(f'{where}.{u}' for u in unknown)}; valid options under {where}: {', '.join(names)}"
        )
    kwargs = {}
    for name, value in values.items():
        kind = hints[name]
        key = f"{where}.{name}"
        kwargs[name] = _build(kind, value, key) if dataclasses.is_dataclass(kind) else _coerce(value, kind, key)
    return cls(**kwargs)


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Accept what hydra produces for a typed option: exact types, or strings that parse."""
    allowed = typing.get_args(kind) or (kind,)
    if value is None and type(None) in allowed:
        return None
    if bool in allowed:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    if int in allowed and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    if float in allowed and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if str in allowed and isinstance(value, str):
        return value
    expected = " or ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise ValueError(f"{key}={value!r}: expected {expected}")


def _require(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ValueError(f"{CONFIG_ROOT}.{key}={value!r}: expected {expected}")


def _one_of(names) -> str:
    return "one of " + ", ".join(repr(n) for n in names)
