"""``evaluate``: sample, score and summarize one model on one verl-format parquet dataset."""

from __future__ import annotations

import sys
from collections.abc import Callable

from polyepo_plugin.config import DiversityConfig
from polyepo_plugin.evaluation.sampling import generate
from polyepo_plugin.evaluation.scoring import check_scoring, load_reward, score_groups
from polyepo_plugin.evaluation.stats import DEFAULT_CORRECT_THRESHOLD, summarize_groups, threshold_warning

TRUNCATION_WARNING = 0.5  # warn when more than this fraction of the responses hit the token budget
SAMPLE_PROMPTS = 5  # prompts whose responses are kept in the result, to look at
DATA_COLUMNS = ("prompt", "data_source", "reward_model")  # what a verl-format row needs here


def evaluate(
    model_path: str,
    data_path: str,
    *,
    max_new_tokens: int,
    n: int = 16,
    reward: Callable | None = None,
    backend: str = DiversityConfig.backend,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = -1,
    max_prompts: int | None = None,
    seed: int = 0,
    correct_threshold: float = DEFAULT_CORRECT_THRESHOLD,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    progress: bool = True,
    **backend_options,
) -> dict:
    """N responses per prompt of ``data_path`` (at most ``max_new_tokens`` new tokens each),
    scored by ``reward`` (default: verl's by data source), correct above ``correct_threshold``,
    strategies labelled by ``backend`` (default: training's), summarized by ``summarize_groups``.
    Prints a warning when most responses hit the budget (``summary["truncated_fraction"]``) and
    when none scored above the threshold (``stats.threshold_warning``). The reward and the
    backend are checked before any sampling (``scoring.check_scoring``). ``tensor_parallel_size``
    and ``gpu_memory_utilization`` are vLLM's (HF generate ignores them)."""
    rows = load_rows(data_path, max_prompts)
    reward = reward or load_reward(None)
    check_scoring(rows, reward, backend, **backend_options)
    samples = generate(
        model_path,
        [r["prompt"] for r in rows],
        n,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=seed,
        tensor_parallel_size=tensor_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        progress=progress,
    )
    groups = score_groups(
        rows,
        samples.responses,
        reward,
        backend,
        samples.tokenizer,
        truncated=samples.truncated,
        **backend_options,
    )
    result = summarize_groups(groups, correct_threshold)
    result["settings"] = {
        "model": model_path,
        "data": data_path,
        "n": n,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "max_new_tokens": max_new_tokens,
        "backend": backend,
        "seed": seed,
        "correct_threshold": correct_threshold,
    }
    result["samples"] = [
        {key: g[key] for key in ("prompt", "responses", "scores", "answers", "strategies", "truncated")}
        for g in groups[:SAMPLE_PROMPTS]
    ]
    warnings = [
        truncation_warning(result["summary"]["truncated_fraction"], max_new_tokens, model_path),
        threshold_warning(result["summary"], model_path),
    ]
    result["warnings"] = [w for w in warnings if w]
    for warning in result["warnings"]:
        print(warning, file=sys.stderr, flush=True)
    return result


def load_rows(data_path: str, max_prompts: int | None = None) -> list[dict]:
    """The first ``max_prompts`` rows (all when None) of a verl-format parquet file, prompts as
    lists of message dicts; a ``ValueError`` naming the file when it is missing, not parquet,
    lacks a column of ``DATA_COLUMNS`` or has no rows."""
    import os

    import pandas as pd

    if not os.path.isfile(data_path):
        raise ValueError(f"{data_path!r}: no such file")
    try:
        frame = pd.read_parquet(data_path)
    except Exception as error:  # pyarrow's errors have no common base but Exception
        raise ValueError(f"{data_path!r} is not a readable parquet file: {type(error).__name__}: {error}") from None
    missing = [column for column in DATA_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{data_path!r} lacks the verl-format column(s) {', '.join(missing)} (has: {', '.join(frame.columns)}); "
            "examples/*/prepare_*.py write this layout"
        )
    rows = frame.to_dict("records")[:max_prompts]
    if not rows:
        raise ValueError(f"{data_path!r} has no prompts to evaluate")
    for row in rows:  # parquet gives numpy arrays; the chat template wants lists of dicts
        row["prompt"] = [dict(m) for m in row["prompt"]]
    return rows


def truncation_warning(fraction: float | None, max_new_tokens: int, model: str = "the model") -> str | None:
    """The warning to print when more than ``TRUNCATION_WARNING`` of the responses hit the budget."""
    if fraction is None or fraction <= TRUNCATION_WARNING:
        return None
    return (
        f"WARNING: {fraction:.0%} of {model}'s responses were cut at the {max_new_tokens}-token budget "
        f"(--max-new-tokens); pass@k and majority@k then measure the budget, not the model's reasoning"
    )
