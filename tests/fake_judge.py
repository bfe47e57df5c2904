"""A real HTTP server on 127.0.0.1 standing in for an OpenAI-compatible judge endpoint.

It reads the group out of the prompt it receives (the problem and the "### Attempt N" blocks)
and answers according to a behaviour named in the problem text, e.g. ``behaviour: 5xx-once``
(``random``: labels drawn at random; ``one-class``: every attempt in one class; ``429-once``:
HTTP 429 with ``Retry-After: retry_after`` first), or ``default_behaviour`` when it names none
(the start-up test group). For its first ``loading_s`` seconds it answers every request 503, as
a judge that is still loading does behind a gateway.
When it answers well, an attempt's strategy is its first word; the word ``gibberish`` is
degenerate. It records what it saw, for the tests to check.

Like ``vllm serve``, it lists the models it serves at ``/models`` (unless ``lists_models`` is
false) and answers 404 to a chat request for any other; given an ``api_key``, it answers 401 to
every request without it.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ATTEMPT = re.compile(r"### Attempt (\d+)\n(.*?)(?=\n\n### Attempt |\n\nAnswer with |\Z)", re.DOTALL)
_BEHAVIOUR = re.compile(r"behaviour: ([a-z0-9-]+)")


def good_labels(attempts: list[str]) -> dict[str, int]:
    classes: dict[str, int] = {}
    labels = {}
    for number, text in enumerate(attempts, start=1):
        word = text.split()[0] if text.split() else ""
        labels[str(number)] = -1 if word == "gibberish" else classes.setdefault(word, len(classes))
    return labels


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops concurrent connects (1 s SYN retries)
    daemon_threads = True


class FakeJudge:
    def __init__(
        self,
        delay_s: float = 0.0,
        slow_timeout_s: float = 5.0,
        models: tuple[str, ...] = ("judge",),
        lists_models: bool = True,
        api_key: str | None = None,
        port: int = 0,
        default_behaviour: str = "ok",
        retry_after: str | None = None,
        loading_s: float = 0.0,
    ):
        self.delay_s = delay_s
        self.default_behaviour = default_behaviour
        self.retry_after = retry_after
        self.loading_s = loading_s
        self.started: float | None = None
        self.arrivals: list[tuple[str, float]] = []  # (behaviour, time.monotonic()) per chat request
        self.slow_timeout_s = slow_timeout_s
        self.models = models
        self.lists_models = lists_models
        self.api_key = api_key
        self.requests: Counter[str] = Counter()
        self.authorization: set[str] = set()
        self.prompts: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._handler())  # port 0: any free one
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeJudge:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, prompt: str) -> tuple[int, dict | str]:
        behaviour = (_BEHAVIOUR.search(prompt) or [None, self.default_behaviour])[1]
        attempts = [text for _, text in _ATTEMPT.findall(prompt)]
        with self._lock:
            self.requests[behaviour] += 1
            seen = self.requests[behaviour]
            self.prompts.append(prompt)
            self.arrivals.append((behaviour, time.monotonic()))
        labels = good_labels(attempts)
        content = json.dumps({"labels": labels})
        finish = "stop"
        if behaviour == "5xx-once" and seen == 1 or behaviour == "5xx-always":
            return 503, "overloaded"
        if behaviour == "429-once" and seen == 1:
            return 429, {"error": {"message": "Too many requests", "code": 429}}
        if behaviour == "timeout-once" and seen == 1:
            time.sleep(self.slow_timeout_s)
        if behaviour == "malformed":
            content = content[:-3]
        elif behaviour == "truncated":
            content, finish = content[: len(content) // 2], "length"
        elif behaviour == "missing-id":
            content = json.dumps({"labels": {k: v for k, v in labels.items() if k != "1"}})
        elif behaviour == "extra-id":
            content = json.dumps({"labels": {**labels, str(len(labels) + 1): 0}})
        elif behaviour == "non-integer":
            content = json.dumps({"labels": {k: f"strategy {v}" for k, v in labels.items()}})
        elif behaviour == "fenced":
            content = f"```json\n{content}\n```"
        elif behaviour == "random":  # reads nothing: a label drawn per attempt, new draws per request
            rng = random.Random(seen)
            content = json.dumps({"labels": {k: rng.randrange(3) for k in labels}})
        elif behaviour == "chatty":  # prose instead of JSON, longer than any error message should quote
            content = "Let me compare the attempts one by one. " * 100
        elif behaviour == "one-class":
            content = json.dumps({"labels": {k: 0 for k in labels}})
        time.sleep(self.delay_s)
        return 200, {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]
        }

    def _handler(self):
        judge = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms a request)
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server would

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status, payload):
                body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if status in (429, 503) and judge.retry_after is not None:
                    self.send_header("Retry-After", judge.retry_after)
                self.end_headers()
                self.wfile.write(body)

            def _refused(self, model=None) -> bool:
                """Answer as vLLM does to a wrong key or an unknown model, and 503 while loading;
                whether it did."""
                if time.monotonic() < judge.started + judge.loading_s:
                    self._send(503, {"error": {"message": "the model is loading", "code": 503}})
                    return True
                if judge.api_key is not None and self.headers.get("Authorization") != f"Bearer {judge.api_key}":
                    self._send(401, {"error": {"message": "Unauthorized", "type": "invalid_request_error"}})
                    return True
                if model is not None and model not in judge.models:
                    self._send(404, {"error": {"message": f"The model `{model}` does not exist.", "code": 404}})
                    return True
                return False

            def do_GET(self):
                if not judge.lists_models:
                    self._send(404, {"detail": "Not Found"})
                elif not self._refused():
                    models = [{"id": name, "object": "model"} for name in judge.models]
                    self._send(200, {"object": "list", "data": models})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with judge._lock:
                    judge.authorization.add(self.headers.get("Authorization", ""))
                if self._refused(request.get("model")):
                    return
                with judge._lock:
                    judge.in_flight += 1
                    judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
                try:
                    status, payload = judge.answer(request["messages"][0]["content"])
                finally:
                    with judge._lock:
                        judge.in_flight -= 1
                try:
                    self._send(status, payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

        return Handler


if __name__ == "__main__":
    # Serve from a process of its own (benchmarks: the client's timing must not share a GIL
    # with the server): prints the base URL, then serves until killed.
    import sys

    with FakeJudge(delay_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()
