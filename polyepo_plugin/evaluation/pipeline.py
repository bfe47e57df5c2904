"""``evaluate``: sample, score and summarize one model on one verl-format parquet dataset."""

from __future__ import annotations

import sys
from collections.abc import Callable

from polyepo_plugin.config import DiversityConfig
from polyepo_plugin.evaluation.sampling import generate
from polyepo_plugin.evaluation.scoring import check_scoring, load_reward, score_groups
from polyepo_plugin.evaluation.stats import summarize_groups

TRUNCATION_WARNING = 0.5  # warn when more than this fraction of the responses hit the token budget
SAMPLE_PROMPTS = 5  # prompts whose responses are kept in the result, to look at


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
    progress: bool = True,
    **backend_options,
) -> dict:
    """N responses per prompt of ``data_path`` (at most ``max_new_tokens`` new tokens each),
    scored by ``reward`` (default: verl's by data source), strategies labelled by ``backend``
    (default: training's), summarized by ``summarize_groups``; prints a warning when most
    responses hit the budget (``summary["truncated_fraction"]``). The reward and the backend are
    checked before any sampling (``scoring.check_scoring``)."""
    rows = load_rows(data_path, max_prompts)
    reward = reward or load_reward(None)
    check_scoring(rows[0], reward, backend, **backend_options)
    samples = generate(
        model_path,
        [r["prompt"] for r in rows],
        n,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=seed,
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
    result = summarize_groups(groups)
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
    }
    result["samples"] = [
        {key: g[key] for key in ("prompt", "responses", "scores", "answers", "strategies", "truncated")}
        for g in groups[:SAMPLE_PROMPTS]
    ]
    warning = truncation_warning(result["summary"]["truncated_fraction"], max_new_tokens, model_path)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return result


def load_rows(data_path: str, max_prompts: int | None = None) -> list[dict]:
    """The first ``max_prompts`` rows (all when None) of a verl-format parquet file, prompts as
    lists of message dicts; a ``ValueError`` when there are none."""
    import pandas as pd

    rows = pd.read_parquet(data_path).to_dict("records")[:max_prompts]
    if not rows:
        raise ValueError(f"{data_path} has no prompts to evaluate")
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
