"""``judge`` backend (the paper's method): an LLM groups each prompt's responses by strategy.

One chat-completions request per prompt group to an OpenAI-compatible endpoint (a ``vllm
serve`` judge is the expected deployment). All groups of a step are sent concurrently, at
most ``max_concurrency`` at a time, and identical requests are sent once. An attempt fails on
an HTTP error or timeout, on output cut by ``max_tokens`` (finish reason ``length``), and on
output that is not exactly one integer label per response; it is retried with backoff (a 429 or
503's ``Retry-After``, in seconds, is honoured up to ``MAX_RETRY_AFTER_S`` and ``timeout_s``). A
group that still fails gets the configured fallback (default ``one_strategy``: neutral) and is
counted in ``poly_epo/diversity_failed_groups``, with a WARNING at most every
``FALLBACK_WARNING_INTERVAL_S`` (never the silent "every response is its own strategy"). Stop
rule: a step in which at least ``failed_step_fraction`` of the groups failed is a failed step;
after ``max_failed_steps`` of them in a row, training stops instead of going on with the
fallback.

Start-up (``JudgeClient.check_ready``, the one check every caller runs): a judge still loading
(no connection, a timeout, HTTP 429/502/503/504) is waited for up to ``startup_wait_s``, with a
WARNING that says so; the endpoint must then list the configured model (when it lists models at
all) and label a small test group (``TEST_GROUP``: three responses, two methods) with parseable
labels, sent as labelling requests are (same template, key and settings). Otherwise a wrong
model name, a missing API key, a ``max_tokens`` too small for a thinking judge or a prompt the
model does not follow would fail every request of the run: it stops before training with the
server's status and message, or what the judge answered.

Consistency probe (``consistency_fraction`` > 0): a fixed share of the step's groups (chosen by
a hash of their uid) is sent a second time, in the same concurrent batch, with the responses
shuffled (by a permutation seeded from the uid, never the identity); the second labelling is
mapped back to the original order and compared with the first by adjusted Rand index.
``poly_epo/judge_consistency`` is the mean over the probed groups where both labellings
succeeded and at least one of them has two or more classes; a group that both labellings put
in one class agrees trivially and is left out (``poly_epo/judge_consistency_groups`` counts the
groups that entered the mean).

Served by verl (``base_url: verl``): the endpoint is verl's reward-model router, known only once
the trainer has built its reward loop. The integration hands it over with ``serve_through_verl``
(address and served model name); until then a labelling stops with an error saying so.
Everything else (prompt, retries, parsing, fallback, metrics, early start) is unchanged.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import json
import logging
import os
import random
import re
import threading
import time
import zlib
from importlib import resources
from string import Template

import numpy as np

from polyepo_plugin.config import CONFIG_ROOT, SERVED_BY_VERL, JudgeOptions
from polyepo_plugin.diversity.agreement import adjusted_rand_index, is_single_class
from polyepo_plugin.diversity.groups import Labelling, OccasionalWarning, ResponseGroups
from polyepo_plugin.grouping import DEGENERATE

logger = logging.getLogger(__name__)

_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
MAX_BACKOFF_S = 8.0
# The longest a 429/503 answer's Retry-After makes a retry wait (timeout_s bounds it too).
MAX_RETRY_AFTER_S = 60.0
# Answers of a judge that is up but not ready (loading, overloaded, behind a gateway): worth
# waiting for at start-up.
NOT_READY_STATUSES = (429, 502, 503, 504)
STARTUP_POLL_S = 2.0
# For ``request_tokens``: a conservative characters-per-token ratio for the instructions, the
# tokens around each response (its header, a truncation note) and around the chat messages.
CHARS_PER_TOKEN = 3
TOKENS_PER_RESPONSE_BLOCK = 24
CHAT_TEMPLATE_TOKENS = 32

# verl's reward-model router as (base_url, served model name), once the trainer has it.
_verl_endpoint: tuple[str, str] | None = None


def serve_through_verl(base_url: str, model: str) -> None:
    """Send ``base_url: verl`` judges' requests to ``base_url`` (``.../v1``) as ``model``."""
    global _verl_endpoint
    _verl_endpoint = (base_url.rstrip("/"), model)


def endpoint(options: JudgeOptions) -> tuple[str, str]:
    """The ``(base_url, model)`` requests go to."""
    if options.base_url != SERVED_BY_VERL:
        return options.base_url.rstrip("/"), options.model
    if _verl_endpoint is None:
        raise RuntimeError(
            f"{CONFIG_ROOT}.diversity.judge.base_url=verl, but no verl reward-model router is known in this "
            "process: the judge is served by verl only in the process that sets up the reward loop (the trainer; "
            "the fully async trainer's rollouter), once it is set up"
        )
    return _verl_endpoint


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


def labels_of(choice: dict, num_responses: int) -> list[int]:
    """The labels in one chat-completions choice; ``JudgeOutputError`` when there are none
    (output cut by ``max_tokens``, or not ``parse_labels``' format)."""
    if choice.get("finish_reason") == "length":
        raise JudgeOutputError("output cut by max_tokens")
    return parse_labels(choice["message"]["content"], num_responses)


def retry_after_s(response, limit_s: float) -> float:
    """Seconds a 429/503 answer asks to wait before the next attempt (``Retry-After`` in its
    seconds form), at most ``limit_s`` and ``MAX_RETRY_AFTER_S``; 0 when it asks nothing."""
    value = response.headers.get("retry-after", "").strip()
    if response.status_code not in (429, 503) or not value.isdigit():
        return 0.0
    return min(float(value), limit_s, MAX_RETRY_AFTER_S)


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
        self._running: set[tuple[asyncio.AbstractEventLoop, asyncio.Task, threading.Event]] = set()
        self._lock = threading.Lock()

    def label_all(self, requests: list[tuple[str, int]], cancelled: threading.Event | None = None) -> list[_Outcome]:
        """Label ``(prompt, num_responses)`` requests; one outcome each, in order.

        Raises ``asyncio.CancelledError`` once ``cancelled`` is set and ``cancel()`` called."""
        cancelled = cancelled or threading.Event()
        # A fresh loop in a worker thread: the caller may itself run inside an event loop.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._label_all(requests, cancelled)).result()

    def cancel(self) -> None:
        """Abort the labellings in flight whose ``cancelled`` event is set: their requests are
        cancelled and their connections closed."""
        with self._lock:
            running = [(loop, task) for loop, task, cancelled in self._running if cancelled.is_set()]
        for loop, task in running:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # that run ended and closed its loop since: nothing left to cancel
                if not loop.is_closed():
                    raise

    async def _label_all(self, requests, cancelled: threading.Event):
        entry = (asyncio.get_running_loop(), asyncio.current_task(), cancelled)
        with self._lock:
            self._running.add(entry)
        try:
            if cancelled.is_set():  # cancelled before this run was registered
                raise asyncio.CancelledError
            return await self._send_all(requests)
        finally:
            with self._lock:
                self._running.discard(entry)

    async def _send_all(self, requests):
        import httpx

        limit = asyncio.Semaphore(self.options.max_concurrency)
        limits = httpx.Limits(max_connections=self.options.max_concurrency)
        base_url, model = endpoint(self.options)
        async with httpx.AsyncClient(timeout=self.options.timeout_s, headers=self._headers, limits=limits) as client:

            async def bounded(prompt, count):
                async with limit:
                    return await self._label_one(client, base_url, model, prompt, count)

            return await asyncio.gather(*(bounded(prompt, count) for prompt, count in requests))

    def _body(self, model: str, prompt: str, max_tokens: int) -> dict:
        return {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.options.temperature,
            "max_tokens": max_tokens,
        }

    async def _label_one(self, client, base_url: str, model: str, prompt: str, count: int) -> _Outcome:
        import httpx

        body = self._body(model, prompt, self.options.max_tokens)
        url = base_url + "/chat/completions"
        failure, asked_wait_s = "not attempted", 0.0
        for attempt in range(self.options.max_retries + 1):
            if attempt:
                backoff = min(MAX_BACKOFF_S, self.options.retry_backoff_s * 2 ** (attempt - 1))
                await asyncio.sleep(max(backoff, asked_wait_s))
            asked_wait_s = 0.0
            try:
                response = await client.post(url, json=body)
                response.raise_for_status()
                return _Outcome(labels=labels_of(response.json()["choices"][0], count))
            except httpx.TimeoutException:
                failure = "timeout"
            except httpx.HTTPStatusError as error:
                failure = f"HTTP {error.response.status_code}"
                asked_wait_s = retry_after_s(error.response, self.options.timeout_s)
            except httpx.HTTPError as error:
                failure = type(error).__name__
            except JudgeOutputError as error:
                failure = str(error)
            except (KeyError, IndexError, TypeError, ValueError):
                failure = "not a chat-completions response"
        return _Outcome(failure=failure)

    def check_ready(self) -> list[int]:
        """Start-up, before training (and ``polyepo-check``): wait up to ``startup_wait_s`` for a
        judge that is still loading, check that it serves the model (when it lists models) and that
        it labels ``TEST_GROUP`` with parseable labels, sent as a labelling request is (template,
        key, ``max_tokens``, temperature); returns those labels.

        Otherwise every labelling request of the run would fail the same way and every group
        would take the fallback: stop with the server's status and message, or with what the
        judge answered and what to change."""
        import httpx

        base_url, model = endpoint(self.options)
        wait_s = self.options.startup_wait_s
        started = time.monotonic()
        announced = False
        with httpx.Client(headers=self._headers, timeout=self.options.timeout_s) as client:
            while True:
                try:
                    answer = self._answer_test_group(client, base_url, model)
                    break
                except _NotReady as not_ready:
                    left = started + wait_s - time.monotonic()
                    if left <= 0:
                        raise not_ready.error(self.options, base_url, wait_s) from None
                    if not announced:
                        logger.warning(
                            "poly_epo: the judge at %s is not ready (%s); waiting for it up to "
                            "%s.diversity.judge.startup_wait_s=%g s",
                            base_url, not_ready.reason, CONFIG_ROOT, wait_s,
                        )
                        announced = True
                    time.sleep(min(max(STARTUP_POLL_S, not_ready.retry_after_s), left))
        if announced:
            logger.info("poly_epo: the judge at %s is ready after %.0f s", base_url, time.monotonic() - started)
        return self._test_group_labels(answer, base_url)

    def _answer_test_group(self, client, base_url: str, model: str):
        """The judge's answer to ``TEST_GROUP``'s request, after its model list is checked;
        ``_NotReady`` while it is loading; a ``ValueError`` on any other refusal."""
        import httpx

        where = f"{CONFIG_ROOT}.diversity.judge: the judge at {base_url}"
        try:
            listing = client.get(base_url + "/models")
            _NotReady.raise_for(listing)
            if listing.status_code != 404:  # no model list: the chat request alone decides
                _raise_for_answer(listing, f"{where} refused to list its models", self.options)
                served = _served_models(listing)
                if served is not None and model not in served:
                    raise ValueError(
                        f"{where} does not serve model {model!r}; it serves: {', '.join(map(repr, served))}. "
                        f"{_model_remedy(self.options)}"
                    )
            prompt = render_request(
                load_template(self.options.prompt_template), *TEST_GROUP, self.options.max_response_chars
            )
            body = self._body(model, prompt, self.options.max_tokens)
            answer = client.post(base_url + "/chat/completions", json=body)
        except httpx.UnsupportedProtocol as error:
            raise ValueError(f"{CONFIG_ROOT}.diversity.judge.base_url={self.options.base_url!r}: {error}") from None
        except httpx.TransportError as error:  # nothing listens yet, or it is too busy to answer in timeout_s
            raise _NotReady(type(error).__name__) from None
        _NotReady.raise_for(answer)
        _raise_for_answer(answer, f"{where} did not answer a chat request for model {model!r}", self.options)
        return answer

    def _test_group_labels(self, answer, base_url: str) -> list[int]:
        """``TEST_GROUP``'s labels in the judge's answer; a ``ValueError`` quoting the answer when
        it holds none."""
        where = f"{CONFIG_ROOT}.diversity.judge: the judge at {base_url}"
        try:
            choice = answer.json()["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"{where} answered a chat request with something else: {answer.text[:300]!r}") from None
        try:
            labels = labels_of(choice, len(TEST_GROUP[1]))
        except JudgeOutputError as error:
            raise ValueError(
                f"{where} answered a test group of {len(TEST_GROUP[1])} short responses (two methods) without "
                f"parseable labels ({error}); it answered: {str(content)[:TEST_ANSWER_SHOWN_CHARS]!r}. Every group "
                f"would fail the same way. Fix: raise diversity.judge.max_tokens={self.options.max_tokens} when "
                "the answer is cut (a thinking model needs room for its thoughts); check that "
                'diversity.judge.prompt_template asks for {"labels": {"1": 0, ...}}; or serve a model that '
                "follows it (diversity.judge.model)."
            ) from None
        if labels[0] != labels[2] or labels[0] == labels[1]:
            logger.warning(
                "poly_epo: the judge at %s labelled a test group of two methods (responses 1 and 3 alike, 2 "
                "different) as %s; check that its labels follow methods",
                base_url, labels,
            )
        return labels


# The start-up test group (``JudgeClient.check_ready``): two clearly different methods, the
# first and third responses one method in other words.
TEST_GROUP = (
    "What is 6 times 7?",
    [
        "Multiply directly: 6 x 7 = 42.",
        "Add seven sixes: 6 + 6 + 6 + 6 + 6 + 6 + 6 = 42.",
        "Multiply the other way round: 7 x 6 = 42.",
    ],
)
TEST_ANSWER_SHOWN_CHARS = 500


class _NotReady(Exception):
    """The judge is not ready yet (``reason``): nothing listens, or it answered ``NOT_READY_STATUSES``."""

    def __init__(self, reason: str, retry_after_s: float = 0.0):
        super().__init__(reason)
        self.reason, self.retry_after_s = reason, retry_after_s

    @classmethod
    def raise_for(cls, response) -> None:
        if response.status_code in NOT_READY_STATUSES:
            raise cls(f"HTTP {response.status_code}", retry_after_s(response, MAX_RETRY_AFTER_S))

    def error(self, options: JudgeOptions, base_url: str, waited_s: float) -> ValueError:
        """The start-up error once ``startup_wait_s`` has passed."""
        remedy = (
            "verl started its reward-model servers, but its router does not answer."
            if options.base_url == SERVED_BY_VERL
            else "Start it first (examples/judge/serve_judge.sh) or point base_url at it; a judge that loads for "
            f"longer needs a larger {CONFIG_ROOT}.diversity.judge.startup_wait_s."
        )
        state = "is not ready" if self.reason.startswith("HTTP") else "is unreachable"
        return ValueError(
            f"{CONFIG_ROOT}.diversity.judge.base_url={options.base_url!r}: the judge endpoint {state} ({self.reason} "
            f"at {base_url}) after diversity.judge.startup_wait_s={waited_s:g} s. {remedy}"
        )


def _raise_for_answer(response, what: str, options: JudgeOptions) -> None:
    if response.is_success:
        return
    message = response.text[:500]
    try:
        message = response.json()["error"]["message"]
    except (KeyError, TypeError, ValueError):
        pass
    remedy = ""
    if response.status_code in (401, 403):
        key = "holds a key the judge refuses" if os.environ.get(options.api_key_env) else "is not set in this process"
        remedy = (
            f" {options.api_key_env} (diversity.judge.api_key_env) {key}: export the judge's key there before "
            "launching, where verl computes advantages."
        )
    elif response.status_code == 404:
        remedy = " " + _model_remedy(options)
    raise ValueError(f"{what}: HTTP {response.status_code}: {message}.{remedy}")


def _served_models(listing) -> list[str] | None:
    """The model ids of an OpenAI-style ``/models`` answer, or None when it is not one."""
    try:
        return [str(model["id"]) for model in listing.json()["data"]]
    except (KeyError, TypeError, ValueError):
        return None


def _model_remedy(options: JudgeOptions) -> str:
    if options.base_url == SERVED_BY_VERL:
        return (
            "verl serves its reward model under the local path it loads it from (a remote model_path, e.g. "
            "hdfs://, under its local copy): set reward.reward_model.model_path to a local directory."
        )
    return f"Set {CONFIG_ROOT}.diversity.judge.model to the name the judge serves (vllm serve --served-model-name)."


class LlmJudge:
    def __init__(self, diversity_config):
        self.config = diversity_config
        self.options: JudgeOptions = diversity_config.judge
        self.template = load_template(self.options.prompt_template)
        self.client = JudgeClient(self.options)
        self._failed_steps = 0  # consecutive failed steps (failed_step_fraction of their groups or more failed)
        self._failure_warning = OccasionalWarning()

    def check_ready(self) -> None:
        # verl's router does not exist yet: served_judge.connect checks it once it does.
        if self.options.base_url != SERVED_BY_VERL:
            self.client.check_ready()

    def cancel(self) -> None:
        self.client.cancel()

    def assign(self, groups: ResponseGroups) -> Labelling:
        prompts = groups.prompt_texts("judge")
        texts = groups.response_texts("judge")
        group_texts = [[texts[r] for r in members] for members in groups.member_rows]
        requests = [
            self._request(prompts[members[0]], group) for members, group in zip(groups.member_rows, group_texts)
        ]
        probes = consistency_probes(
            groups.layout.uids, [len(g) for g in group_texts], self.options.consistency_fraction
        )
        probe_requests = [
            self._request(prompts[groups.member_rows[g][0]], [group_texts[g][i] for i in order]) for g, order in probes
        ]
        unique = list(dict.fromkeys(requests + probe_requests))  # identical groups are asked once
        answers = dict(zip(unique, self.client.label_all(unique, groups.cancelled)))
        outcomes = [answers[request] for request in requests]

        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        failed = np.array([outcome.labels is None for outcome in outcomes], dtype=bool)
        for members, outcome in zip(groups.member_rows, outcomes):
            if outcome.labels is not None:
                labels[members] = outcome.labels
        reasons = collections.Counter(outcome.failure for outcome in outcomes if outcome.failure)
        if groups.whole_step:
            if not groups.cancelled.is_set():  # a cancelled labelling: on_step_timed_out
                self._count_step(failed)
            if failed.any():
                self._report_failures(int(failed.sum()), len(failed), reasons)
        elif failed.any():  # one group of a streamed step: reported with the step (on_step_labelled)
            self._stop_if_fallback_is_error(self._failure_message(int(failed.sum()), len(failed), reasons))
        metrics = {}
        if probes:
            metrics = consistency_metrics(
                [
                    (outcomes[g].labels, answers[request].labels, order)
                    for (g, order), request in zip(probes, probe_requests)
                ]
            )
        labelling = Labelling.with_failures(labels, failed, self.options.fallback, metrics)
        return dataclasses.replace(labelling, failure_reasons=dict(reasons))

    def _request(self, problem: str, responses: list[str]) -> tuple[str, int]:
        return render_request(self.template, problem, responses, self.options.max_response_chars), len(responses)

    def _count_step(self, failed: np.ndarray) -> None:
        failed_step = len(failed) and failed.mean() >= self.options.failed_step_fraction
        self._failed_steps = self._failed_steps + 1 if failed_step else 0

    def on_step_labelled(self, failed: np.ndarray, reasons: dict[str, int]) -> None:
        """A step whose groups were labelled one by one (streamed): its ``failed`` groups, one flag
        a group, make it a failed step or not, and its failures (``reasons``: the groups'
        ``Labelling.failure_reasons`` summed) are reported once, as ``assign`` judges and reports
        a whole step."""
        self._count_step(failed)
        if failed.any():
            self._report_failures(int(failed.sum()), len(failed), collections.Counter(reasons))

    def on_step_timed_out(self, message: str) -> None:
        """A step whose labelling ran past ``label_timeout_s``: every group took the timeout
        fallback, so it counts as a failed step."""
        self._failed_steps += 1
        self._stop_after_failed_steps(message)

    def _failure_message(self, failed: int, total: int, reasons: collections.Counter) -> str:
        summary = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
        # A served judge's groups may have been labelled in another process (the fully async rollouter).
        served_elsewhere = self.options.base_url == SERVED_BY_VERL and _verl_endpoint is None
        where = "the judge served by verl" if served_elsewhere else f"judge at {endpoint(self.options)[0]}"
        return f"{where}: labelling failed for {failed} of {total} groups ({summary})"

    def _stop_if_fallback_is_error(self, message: str) -> None:
        if self.options.fallback == "error":
            raise RuntimeError(f"{message}; {CONFIG_ROOT}.diversity.judge.fallback=error stops training")

    def _report_failures(self, failed: int, total: int, reasons: collections.Counter) -> None:
        message = self._failure_message(failed, total, reasons)
        self._stop_if_fallback_is_error(message)
        self._stop_after_failed_steps(message)
        self._failure_warning(f"{message}; fallback: {self.options.fallback}")

    def _stop_after_failed_steps(self, message: str) -> None:
        options = self.options
        if self._failed_steps >= options.max_failed_steps:
            raise RuntimeError(
                f"{message}. At least {options.failed_step_fraction:.0%} of the groups have failed in each of "
                f"{self._failed_steps} consecutive steps ({CONFIG_ROOT}.diversity.judge.max_failed_steps="
                f"{options.max_failed_steps}, failed_step_fraction={options.failed_step_fraction:g}): the run is "
                f"training on the {options.fallback!r} fallback, not the judge. Fix the judge; or, to go on with "
                "the fallback deliberately, raise diversity.judge.max_failed_steps (e.g. max_failed_steps=1000)."
            )


def consistency_probes(uids: list, sizes: list[int], fraction: float) -> list[tuple[int, list[int]]]:
    """The groups to ask twice, with the order to show their responses in the second time.

    ``round(fraction * G)`` groups (at least one when ``fraction`` > 0) of at least two
    responses, those with the smallest CRC32 of their uid, so the choice is the same in every
    process; each order is a permutation seeded by that CRC32 and never the identity.
    """
    eligible = [g for g, size in enumerate(sizes) if size >= 2]
    if fraction <= 0 or not eligible:
        return []
    count = min(len(eligible), max(1, round(fraction * len(sizes))))
    chosen = sorted(eligible, key=lambda g: (zlib.crc32(str(uids[g]).encode()), g))[:count]
    probes = []
    for g in sorted(chosen):
        rng = random.Random(zlib.crc32(str(uids[g]).encode()))
        order = list(range(sizes[g]))
        while order == sorted(order):
            rng.shuffle(order)
        probes.append((g, order))
    return probes


def consistency_metrics(pairs: list[tuple[list[int] | None, list[int] | None, list[int]]]) -> dict[str, float]:
    """``poly_epo/judge_consistency``: mean ARI of (first labels, second labels mapped back).

    ``pairs``: per probed group, the first labelling, the second (of the shuffled responses) and
    the shuffle (``order[j]`` is the original position of the j-th shown response). Groups where
    a labelling failed are left out, and so are groups that both labellings put in one class.
    """
    scores = []
    for first, second, order in pairs:
        if first is None or second is None:
            continue
        mapped = [0] * len(order)
        for shown, original in enumerate(order):
            mapped[original] = second[shown]
        if is_single_class(first) and is_single_class(mapped):
            continue
        scores.append(adjusted_rand_index(first, mapped))
    out = {"poly_epo/judge_consistency_groups": float(len(scores))}
    if scores:
        out["poly_epo/judge_consistency"] = float(np.mean(scores))
    return out


def request_tokens(options: JudgeOptions, num_responses: int, prompt_tokens: int, response_tokens: int) -> int:
    """An upper estimate of the context one group's request needs: the instructions, the
    problem, ``num_responses`` responses of at most ``response_tokens`` tokens (fewer when
    ``max_response_chars`` cuts them: a token is at least one character) and the answer."""
    template = load_template(options.prompt_template).template
    for placeholder in ("$problem", "$responses", "$num_responses"):
        template = template.replace(placeholder, "")
    per_response = min(response_tokens, options.max_response_chars) + TOKENS_PER_RESPONSE_BLOCK
    instructions = -(-len(template) // CHARS_PER_TOKEN) + CHAT_TEMPLATE_TOKENS
    return instructions + prompt_tokens + num_responses * per_response + options.max_tokens
