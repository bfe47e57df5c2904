"""examples/judge/wait_for_judge.py against a real local HTTP judge (tests/fake_judge.py): it
returns once the judge answers, waits while nothing listens yet, and gives up at its timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from fake_judge import FakeJudge

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "judge" / "wait_for_judge.py"


def wait(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUDGE_", "POLYEPO_"))}, **env}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--interval-s", "0.2", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc, time.monotonic() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_returns_at_once_when_the_judge_answers():
    with FakeJudge() as judge:
        port = judge.base_url.split(":")[-1].split("/")[0]
        proc, took = wait("--timeout-s", "20", JUDGE_HOST="127.0.0.1", JUDGE_PORT=port)  # the overrides' variables
    assert proc.returncode == 0, proc.stderr
    assert "the judge answers" in proc.stdout and took < 10


def test_waits_for_a_judge_that_comes_up_later():
    port = free_port()
    judge = FakeJudge(port=port)
    threading.Timer(2.0, judge.__enter__).start()  # the model "loads" for 2 s, then the server listens
    try:
        proc, took = wait("--base-url", f"http://127.0.0.1:{port}/v1", "--timeout-s", "30")
    finally:
        judge.__exit__()
    assert proc.returncode == 0, proc.stderr
    assert took >= 2.0


def test_gives_up_at_its_timeout_when_nothing_answers():
    port = free_port()
    proc, took = wait("--base-url", f"http://127.0.0.1:{port}/v1", "--timeout-s", "1.5")
    assert proc.returncode == 1
    assert f"no judge answered at http://127.0.0.1:{port}/v1/models within 1.5s" in proc.stderr
    assert "serve_judge.sh" in proc.stderr
    assert 1.5 <= took < 15
