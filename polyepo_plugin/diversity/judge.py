"""``judge`` backend (the paper's method): an LLM groups each prompt's responses by strategy.

One chat-completions request per prompt group to an OpenAI-compatible endpoint (a ``vllm
serve`` judge is the expected deployment). All groups of a step are sent concurrently, at
most ``max_concurrency`` at a time, and identical requests are sent once. An attempt fails on
an HTTP error or timeout, on output cut by ``max_tokens`` (finish reason ``length``), and on
output that is not exactly one integer label per response; it is retried with backoff. A group
that still fails gets the configured fallback and is counted in ``poly_epo/diversity_failed_groups``
(never the silent "every response is its own strategy").
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import json
import logging
import os
import re
from importlib import resources
from string import Template

import numpy as np

from polyepo_plugin.config import CONFIG_ROOT, JudgeOptions
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.grouping import DEGENERATE

logger = logging.getLogger(__name__)

_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
MAX_BACKOFF_S = 8.0


class JudgeOutputError(ValueError):
    """The judge answered, but not with one integer label per response."""


def load_template(path: str | None) -> Template:
    """The prompt template: ``$problem``, ``$responses``, ``$num_responses`` are filled in."""
    if path is None:
        return Template(resources.files("polyepo_plugin.diversity").joinpath("judge_prompt.md").read_text())
    with open(path) as template_file:
        return Template(template_file.read())


def render_request(template: Template, problem: str, responses: list[str], max_chars: int) -> str:
    """The judge's prompt for one group; responses longer than ``max_chars`` are cut."""
    blocks = []
    for number, text in enumerate(responses, start=1):
        if len(text) > max_chars:
            text = text[:max_chars] + f"\n[... {len(text) - max_chars} more characters not shown]"
        blocks.append(f"### Attempt {number}\n{text.strip()}")
    return template.safe_substitute(
        problem=problem.strip(), responses="\n\n".join(blocks), num_responses=len(responses)
    )


def parse_labels(content: str, num_responses: int) -> list[int]:
    """``{"labels": {"1": 0, "2": 1, ...}}`` -> ``[0, 1, ...]``; anything else is an error.

    A leading ``<think>...</think>`` block and a surrounding code fence are tolerated.
    """
    text = _THINKING.sub("", content or "", count=1)
    fenced = _FENCE.match(text)
    text = fenced.group(1) if fenced else text
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise JudgeOutputError(f"malformed JSON ({error.msg})") from None
    labels = parsed.get("labels") if isinstance(parsed, dict) else None
    if not isinstance(labels, dict):
        raise JudgeOutputError('no "labels" object')
    expected = {str(i) for i in range(1, num_responses + 1)}
    if set(labels) != expected:
        missing, extra = sorted(expected - set(labels), key=int), sorted(set(labels) - expected)
        raise JudgeOutputError(f"attempt ids wrong (missing {missing}, unexpected {extra})")
    values = [labels[str(i)] for i in range(1, num_responses + 1)]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= -1 for v in values):
        raise JudgeOutputError("labels must be integers >= -1")
    return values


@dataclasses.dataclass
class _Outcome:
    labels: list[int] | None = None
    failure: str | None = None


class JudgeClient:
    """Sends labelling requests to the judge, concurrently, with retries."""

    def __init__(self, options: JudgeOptions):
        self.options = options
        api_key = os.environ.get(options.api_key_env)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def label_all(self, requests: list[tuple[str, int]]) -> list[_Outcome]:
        """Label ``(prompt, num_responses)`` requests; one outcome each, in order."""
        # A fresh loop in a worker thread: the caller may itself run inside an event loop.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._label_all(requests)).result()

    async def _label_all(self, requests):
        import httpx

        limit = asyncio.Semaphore(self.options.max_concurrency)
        limits = httpx.Limits(max_connections=self.options.max_concurrency)
        async with httpx.AsyncClient(timeout=self.options.timeout_s, headers=self._headers, limits=limits) as client:

            async def bounded(prompt, count):
                async with limit:
                    return await self._label_one(client, prompt, count)

            return await asyncio.gather(*(bounded(prompt, count) for prompt, count in requests))

    async def _label_one(self, client, prompt: str, count: int) -> _Outcome:
        import httpx

        body = {
            "model": self.options.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens,
        }
        url = self.options.base_url.rstrip("/") + "/chat/completions"
        failure = "not attempted"
        for attempt in range(self.options.max_retries + 1):
            if attempt:
                await asyncio.sleep(min(MAX_BACKOFF_S, self.options.retry_backoff_s * 2 ** (attempt - 1)))
            try:
                response = await client.post(url, json=body)
                response.raise_for_status()
                choice = response.json()["choices"][0]
                if choice.get("finish_reason") == "length":
                    failure = "output cut by max_tokens"
                    continue
                return _Outcome(labels=parse_labels(choice["message"]["content"], count))
            except httpx.TimeoutException:
                failure = "timeout"
            except httpx.HTTPStatusError as error:
                failure = f"HTTP {error.response.status_code}"
            except httpx.HTTPError as error:
                failure = type(error).__name__
            except JudgeOutputError as error:
                failure = str(error)
            except (KeyError, IndexError, TypeError, ValueError):
                failure = "not a chat-completions response"
        return _Outcome(failure=failure)


class LlmJudge:
    def __init__(self, diversity_config):
        self.config = diversity_config
        self.options: JudgeOptions = diversity_config.judge
        self.template = load_template(self.options.prompt_template)
        self.client = JudgeClient(self.options)

    def check_ready(self) -> None:
        check_reachable(self.options)

    def assign(self, groups: ResponseGroups) -> Labelling:
        prompts = groups.prompt_texts("judge")
        texts = groups.response_texts("judge")
        requests = [
            (
                render_request(
                    self.template, prompts[members[0]], [texts[r] for r in members], self.options.max_response_chars
                ),
                len(members),
            )
            for members in groups.member_rows
        ]
        unique = list(dict.fromkeys(requests))  # identical groups are asked once
        answers = dict(zip(unique, self.client.label_all(unique)))
        outcomes = [answers[request] for request in requests]

        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        failed = np.array([outcome.labels is None for outcome in outcomes], dtype=bool)
        for members, outcome in zip(groups.member_rows, outcomes):
            if outcome.labels is not None:
                labels[members] = outcome.labels
        if failed.any():
            self._report_failures(failed, outcomes)
        zero = failed if self.options.fallback == "zero" else np.zeros_like(failed)
        fallback = None if self.options.fallback in ("zero", "error") else self.options.fallback
        return Labelling(labels, failed, zero, fallback)

    def _report_failures(self, failed, outcomes) -> None:
        reasons = collections.Counter(outcome.failure for outcome in outcomes if outcome.failure)
        summary = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
        message = f"judge at {self.options.base_url}: labelling failed for {int(failed.sum())} of {len(failed)} groups ({summary})"
        if self.options.fallback == "error":
            raise RuntimeError(f"{message}; {CONFIG_ROOT}.diversity.judge.fallback=error stops training")
        logger.warning("%s; fallback: %s", message, self.options.fallback)


def check_reachable(options: JudgeOptions) -> None:
    """Fail fast at start-up when nothing answers at ``base_url`` (any HTTP status will do)."""
    import httpx

    url = options.base_url.rstrip("/") + "/models"
    try:
        httpx.get(url, timeout=min(10.0, options.timeout_s))
    except httpx.HTTPError as error:
        raise ValueError(
            f"{CONFIG_ROOT}.diversity.judge.base_url={options.base_url!r}: the judge endpoint is unreachable "
            f"({type(error).__name__}). Start it first (examples/judge/serve_judge.sh) or point base_url at it."
        ) from None
