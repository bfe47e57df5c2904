"""One Ray cluster for all of a demo's runs, the way verl runs on a cluster: ``ray start --head``
once, every ``main_ppo`` attached to it through ``RAY_ADDRESS`` (verl's ``ray.init`` connects to
the address it names). A run then skips starting Ray's own processes (GCS, raylet, agents).
The cluster requires Ray's token authentication, with a token of its own that the attached
runs are given (``Cluster.attach_env``).

The head gets the environment of the runs (``runner.run_env``: the CPU harness named, GPUs
hidden), since Ray's workers inherit the raylet's; it declares the logical resources a CPU run
asks for (``harness.ray_resources``), which the attached runs must not pass to ``ray.init``
(Ray refuses them when connecting). Its ports are chosen free, and it keeps its files in a
temporary directory of its own: a run of someone else on this machine that starts its own Ray
does not find it (``ray.init()`` looks for the latest cluster in Ray's default temporary
directory). It is stopped when the ``with`` block ends, normally or by an
error: ``ray start --block`` stops every process it started on SIGTERM, and its whole process
group is killed if that takes too long. (Not ``ray stop``, which stops every Ray on the machine.)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from polyepo_plugin.cpu_harness import overrides as harness

READY = "Ray runtime started."
STOP_GRACE_S = 40.0  # SIGTERM drains the node for up to 30 s before it stops its processes


@dataclass(frozen=True)
class Cluster:
    address: str  # host:port of its GCS (the node's address, which Ray picks)
    pid: int  # of `ray start --block`, the leader of the cluster's process group
    temp_dir: str
    token_path: str  # its authentication token

    def attach_env(self) -> dict[str, str]:
        """What a run's environment needs to attach: the address and the token."""
        return {"RAY_ADDRESS": self.address, **_auth_env(self.token_path)}


def _auth_env(token_path: str) -> dict[str, str]:
    # Ray's token authentication, with a token of this cluster's own (not ~/.ray's, shared).
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": token_path}


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in sockets]


def head_command(temp_dir: str, ports: list[int]) -> list[str]:
    """``ray start --head --block`` with a legacy-trainer run's ``harness.ray_resources``, its files under
    ``temp_dir``, and the ports Ray would otherwise take from fixed defaults set to ``ports``
    (GCS, client server, dashboard agent, runtime-env agent, metrics)."""
    gcs, client, agent, runtime_env, metrics = ports
    return [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        "--block",
        f"--port={gcs}",
        f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--metrics-export-port={metrics}",
        *(f"--{name.replace('_', '-')}={value}" for name, value in harness.ray_resources().items()),
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]


@contextmanager
def shared_ray_cluster(env: Mapping[str, str], log=print, timeout_s: float = 180.0) -> Iterator[Cluster]:
    """Start a Ray head node with environment ``env``; yield it (its ``address`` goes in the
    runs' ``RAY_ADDRESS``); stop it and remove its files when the block ends, also on an error."""
    # Short: Ray's socket paths under it must fit in 107 characters.
    temp_dir = tempfile.mkdtemp(prefix="polyepo-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
    ports = free_ports(5)
    token_path = os.path.join(temp_dir, "auth_token")
    with open(os.open(token_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(secrets.token_hex(32))
    log_path = os.path.join(temp_dir, "ray_start.log")
    start = time.time()
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            head_command(temp_dir, ports),
            env={**env, **_auth_env(token_path)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped with everything it started
        )
    try:
        while True:
            with open(log_path, errors="replace") as f:
                text = f.read()
            address_file = os.path.join(temp_dir, "ray_current_cluster")  # host:port, as Ray writes it
            if READY in text and os.path.exists(address_file):
                with open(address_file) as f:
                    address = f.read().strip()
                break
            ended = _exited(proc)
            if ended or time.time() - start > timeout_s:
                raise RuntimeError(
                    f"`ray start --head` {'exited' if ended else f'did not start within {timeout_s:.0f} s'} "
                    f"without starting a cluster; its output:\n{text[-3000:]}"
                )
            time.sleep(0.5)
        log(f"[ray] shared cluster at {address} started in {time.time() - start:.0f}s (files: {temp_dir})")
        yield Cluster(address, proc.pid, temp_dir, token_path)
    finally:
        stop(proc, log)
        shutil.rmtree(temp_dir, ignore_errors=True)


def stop(proc: subprocess.Popen, log=print) -> None:
    """SIGTERM to ``ray start --block`` (it stops the processes it started), then SIGKILL to its
    process group (what outlived it, or all of it after ``STOP_GRACE_S``). The head is reaped
    only after that, so its id, the group's, cannot meanwhile name another process."""
    deadline = time.time() + STOP_GRACE_S
    if not _exited(proc):
        os.kill(proc.pid, signal.SIGTERM)
        while not _exited(proc) and time.time() < deadline:
            time.sleep(0.2)
        if not _exited(proc):
            log(f"[ray] shared cluster did not stop within {STOP_GRACE_S:.0f} s of SIGTERM; killing it")
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the process has ended, without reaping it."""
    if proc.returncode is not None:
        return True
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None
