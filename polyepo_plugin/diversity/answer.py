"""``answer`` backend: responses whose final answers are mathematically equal share a strategy.

Each response's answer is extracted and compared with math-verify (``\\boxed{1/2}`` and
``\\boxed{0.5}`` are one class, ``\\boxed{3}`` another). A response with no extractable answer is
degenerate. A crude proxy for strategy (two methods reaching one answer are merged), but cheap
and deterministic; useful where reasoning paths are hard to compare and answers vary. The
classes are formed in ``answer_worker`` (the partition does not depend on response order).

math-verify bounds its work with ``signal.alarm``, which works only in a main thread, and a
pathological answer (a tower of powers) can keep it busy for ever without that. So groups are
classified in a worker process (``answer_worker``), whose main thread keeps math-verify's own
limits, started on first use (or at start-up by ``check_ready``) and reused across steps. A
group not classified within ``diversity.answer.timeout_s`` has the process killed (a new one
starts for the next group) and takes ``diversity.timeout_fallback``. Cancelling the labelling
kills the process as well; ``close()`` ends it when a trainer's ``fit`` ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

import numpy as np

from polyepo_plugin.config import CONFIG_ROOT
from polyepo_plugin.diversity.groups import LabellingCancelled, Labelling, OccasionalWarning, ResponseGroups
from polyepo_plugin.diversity.optional import import_optional
from polyepo_plugin.grouping import DEGENERATE

STARTUP_TIMEOUT_S = 120.0  # python and math-verify (sympy) importing, on a loaded machine
WORKER_SCRIPT = os.path.join(os.path.dirname(__file__), "answer_worker.py")  # run by path: nothing of polyepo loads


class AnswerProcess:
    """One worker process and the two pipes to it (requests, replies)."""

    def __init__(self):
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, WORKER_SCRIPT, str(requests_read), str(replies_write)],
                pass_fds=(requests_read, replies_write),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
            )
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self.requests = Connection(requests_write, readable=False)
        self.replies = Connection(replies_read, writable=False)
        try:
            ready = self.ask(None, STARTUP_TIMEOUT_S) == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError(
                f"{CONFIG_ROOT}.diversity.backend=answer: its math-verify worker process did not start within "
                f"{STARTUP_TIMEOUT_S:.0f} s (exit code {self.process.returncode}; its error, if any, is logged above)"
            )

    def ask(self, request, timeout_s: float):
        """The reply to ``request`` (``None``: send nothing, wait for what the process sends),
        or ``None`` when none came within ``timeout_s``. EOFError/OSError: the process ended."""
        if request is not None:
            self.requests.send(request)
        if not self.replies.poll(timeout_s):
            return None
        return self.replies.recv()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.requests.close()
        self.replies.close()


class AnswerWorker:
    """The process groups are sent to, one group at a time; started when needed."""

    def __init__(self):
        self._process: AnswerProcess | None = None
        self._turn = threading.Lock()  # one group in the process at a time
        self._state = threading.Lock()  # guards _process and _waiting (cancel() runs in other threads)
        self._waiting: threading.Event | None = None  # the cancelled event of the group in the process

    def start(self) -> None:
        with self._turn:
            self._started()

    def classify(self, texts: list[str], timeout_s: float, cancelled: threading.Event | None = None):
        """Class per text (``-1``: no answer), or ``None`` when the group overran ``timeout_s``.

        Raises ``LabellingCancelled`` when ``cancelled`` is set and ``cancel()`` killed the process."""
        cancelled = cancelled or threading.Event()
        with self._turn:
            process = self._started()
            with self._state:
                self._waiting = cancelled
            if cancelled.is_set():  # cancel() ran before _waiting named this group: it killed nothing
                with self._state:
                    self._waiting = None
                raise LabellingCancelled
            ended = False
            try:
                reply = process.ask(list(texts), timeout_s)
            except (EOFError, OSError):
                reply, ended = None, True
            finally:
                with self._state:
                    self._waiting = None
            if reply is None:
                self.close()  # overran its time, or ended: the next group gets a new process
                if cancelled.is_set():
                    raise LabellingCancelled
                if ended:
                    raise RuntimeError(f"{CONFIG_ROOT}.diversity.backend=answer: its math-verify worker process ended")
                return None
        kind, value = reply
        if kind == "error":
            raise RuntimeError(f"{CONFIG_ROOT}.diversity.backend=answer: math-verify failed: {value}")
        return [DEGENERATE if c is None else c for c in value]

    def cancel(self) -> None:
        """Kill the process if the group in it belongs to a cancelled labelling."""
        with self._state:
            if self._waiting is not None and self._waiting.is_set() and self._process is not None:
                self._process.process.kill()  # the waiting thread sees the pipe close, and cleans up

    def close(self) -> None:
        with self._state:
            process, self._process = self._process, None
        if process is not None:
            process.kill()

    def _started(self) -> AnswerProcess:
        with self._state:
            process = self._process
        if process is None:
            process = AnswerProcess()
            with self._state:
                self._process = process
        return process


class AnswerEquivalence:
    def __init__(self, diversity_config):
        import_optional("math_verify", "answer")  # a missing extra fails when the backend is built
        self.timeout_s = diversity_config.answer.timeout_s
        self.fallback = diversity_config.timeout_fallback
        self.worker = AnswerWorker()
        self.timeout_warning = OccasionalWarning()

    def check_ready(self) -> None:
        self.worker.start()  # at start-up: the first step does not wait for math-verify to import

    def cancel(self) -> None:
        self.worker.cancel()

    def close(self) -> None:
        self.worker.close()

    def assign(self, groups: ResponseGroups) -> Labelling:
        texts = groups.response_texts("answer")
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        timed_out = np.zeros(groups.layout.num_groups, dtype=bool)
        for group, members in enumerate(groups.member_rows):
            groups.stop_if_cancelled()
            classes = self.worker.classify([texts[row] for row in members], self.timeout_s, groups.cancelled)
            if classes is None:
                timed_out[group] = True
            else:
                labels[members] = classes
        uids = [groups.layout.uids[g] for g in np.flatnonzero(timed_out)]
        message = (
            f"{CONFIG_ROOT}.diversity.backend=answer: {len(uids)} of {len(timed_out)} groups were not classified "
            f"within diversity.answer.timeout_s={self.timeout_s:g} s (uids {uids[:5]})"
        )
        return Labelling.with_timeouts(labels, timed_out, self.fallback, message, self.timeout_warning)

    def classify(self, texts: list[str]) -> list[int] | None:
        """One group's classes (``-1``: no answer), or ``None`` if it overran ``answer.timeout_s``."""
        return self.worker.classify(texts, self.timeout_s)
