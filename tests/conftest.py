import shutil
import subprocess
from pathlib import Path

import pytest
import verl

VERL_PATCH = Path(__file__).resolve().parents[1] / "patches" / "verl-0.9.1-estimator-inputs.patch"
VERL_SITE = Path(verl.__file__).resolve().parents[1]


def apply_verl_patch(target: Path, *extra: str) -> subprocess.CompletedProcess:
    if shutil.which("patch") is None:
        pytest.fail("the 'patch' program is missing (apt-get install patch)")
    with VERL_PATCH.open() as patch_file:
        return subprocess.run(
            ["patch", "-p1", "--batch", "--forward", *extra],
            cwd=target,
            stdin=patch_file,
            capture_output=True,
            text=True,
        )


@pytest.fixture(scope="session")
def patched_verl(tmp_path_factory):
    """A copy of the installed verl package with patches/ applied; put it first on PYTHONPATH."""
    root = tmp_path_factory.mktemp("patched_verl")
    shutil.copytree(VERL_SITE / "verl", root / "verl", ignore=shutil.ignore_patterns("__pycache__"))
    result = apply_verl_patch(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture(autouse=True)
def backends_of_their_own():
    """Each test builds its backends afresh: ``make_backend`` keeps one per options, and two tests
    whose options are equal (a stand-in judge's port reused by the OS) would otherwise share the
    first one's state (the judge's failed-step count, the time of its last warning)."""
    yield
    from polyepo_plugin.diversity import make_backend

    make_backend.cache_clear()
