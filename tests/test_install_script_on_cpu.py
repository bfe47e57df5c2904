""".ci/install.sh with a stand-in interpreter that records its calls: which torch it installs,
what it says about the build, and that a TORCH_SPEC carrying pip options reaches pip as separate
arguments (e.g. PyTorch's CPU index)."""

from __future__ import annotations

import subprocess
from pathlib import Path

INSTALL = Path(__file__).resolve().parents[1] / ".ci" / "install.sh"
CPU_SPEC = "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
# Records each call's arguments, one per line, a blank line after each call; has no torch.
FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$@" >> "$CALLS"
echo >> "$CALLS"
[[ "$1 $2" == "-c import torch" ]] && exit 1
exit 0
"""


def install(tmp_path: Path, **env: str) -> tuple[list[list[str]], str]:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    # /usr/bin and /bin only: no pyenv to rehash; `patch` is there, so nothing is apt-installed.
    result = subprocess.run(
        ["bash", str(INSTALL)],
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(python), "CALLS": str(calls), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [block.splitlines() for block in calls.read_text().split("\n\n") if block.strip()], result.stdout


def test_default_torch_is_named_with_how_to_get_the_cpu_build(tmp_path):
    calls, out = install(tmp_path)
    assert ["-m", "pip", "install", "torch==2.13.0"] in calls
    assert calls[-1] == ["-m", "pip", "install", "-e", ".[test]"]
    assert "CUDA build" in out and f'TORCH_SPEC="{CPU_SPEC}"' in out


def test_a_torch_spec_with_pip_options_reaches_pip_word_by_word(tmp_path):
    calls, out = install(tmp_path, TORCH_SPEC=CPU_SPEC)
    assert ["-m", "pip", "install", *CPU_SPEC.split()] in calls
    assert f"pip install {CPU_SPEC}" in out and "CUDA build" not in out
