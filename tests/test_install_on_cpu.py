"""The install works as written: an sdist and a wheel build, the wheel installs with each extra
into a fresh virtual environment and brings what the extra promises, every install line in the
README, the docs and the error hints names something that exists (polyepo is not on PyPI, so
only a path or a wheel installs it), and the version is written once.

No network: the fresh environment gets this environment's installed distributions (polyepo's
own left out) as its starting point, and pip runs with --no-index, so it resolves each extra's
requirements against them and installs only polyepo's wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
from pathlib import Path

import pytest

import polyepo_plugin

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = ("trainer", "diversity", "demo", "trl")
# What each extra promises: importable modules and the distributions that must bring them.
PROMISES = {
    None: {"polyepo_plugin.estimator": None, "sentence_transformers": "sentence-transformers", "verl": "verl"},
    "trainer": {
        "fastapi": "fastapi",
        "uvicorn": "uvicorn",
        "cachetools": "cachetools",
        "transfer_queue": "TransferQueue",
    },
    "diversity": {"httpx": "httpx", "math_verify": "math-verify", "polyepo_plugin.diversity.judge": None},
    "demo": {"matplotlib": "matplotlib", "tqdm": "tqdm", "polyepo_plugin.demo.cli": None},
    "trl": {"trl": "trl", "polyepo_plugin.trl": None},
}
# `pip install` and its words: options, quoted words and bare words, on one line.
INSTALL_LINE = re.compile(r"""pip install((?:[ \t]+(?:-[-\w]+|'[^']*'|"[^"]*"|[\w./\[\],<>=-]+))+)""")
WORD = re.compile(r"""'([^']*)'|"([^"]*)"|(\S+)""")
TEXTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "examples").rglob("*.md"))]
HINTS = [REPO / "polyepo_plugin" / "diversity" / "optional.py", REPO / "polyepo_plugin" / "evaluation" / "scoring.py"]


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_version_is_written_once():
    assert PYPROJECT["project"]["dynamic"] == ["version"] and "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "polyepo_plugin.__version__"}
    citation = re.search(r"^version: (\S+)$", (REPO / "CITATION.cff").read_text(), re.MULTILINE)
    assert citation and citation.group(1) == polyepo_plugin.__version__


def test_every_install_line_names_a_path_a_wheel_or_a_real_requirement():
    """`pip install "polyepo[trl]"` fails: polyepo is on no index. Every line that installs
    polyepo names a path (or the repository root, `.`); every extra it names exists; every other
    requirement a hint names is one of polyepo's own, spelled as pyproject.toml spells it."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    declared = {
        requirement_name(r): r.replace(" ", "")
        for r in PYPROJECT["project"]["dependencies"] + [r for rs in extras.values() for r in rs]
    }
    lines = [
        (path.name, match.group(1).strip())
        for path in TEXTS + HINTS
        for match in INSTALL_LINE.finditer(path.read_text())
    ]
    assert len(lines) >= 5
    for where, line in lines:
        for quoted, double_quoted, bare in WORD.findall(line):
            word = quoted or double_quoted or bare
            if word.startswith("-"):
                continue
            target, _, extra = word.partition("[")
            if target == "." or target.endswith("polyepo"):
                assert target.endswith("/polyepo") or target == ".", (
                    f"{where}: `pip install {line}`: polyepo is on no package index; "
                    "give a path (your clone) or a wheel"
                )
                for name in filter(None, extra.rstrip("]").split(",")):
                    assert name in extras, f"{where}: `pip install {line}`: no extra {name!r}"
            else:
                ours = declared.get(requirement_name(word))
                assert ours == word, f"{where}: `pip install {line}`: {word!r} is not pyproject's {ours!r}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist, built from the repository, and the wheel, built from the unpacked sdist (as pip
    builds a source install), with this environment's setuptools and no network."""
    out = tmp_path_factory.mktemp("dist")
    sdist = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_sdist({str(out)!r}))"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    with tarfile.open(out / sdist) as archive:
        archive.extractall(out / "src", filter="data")
    (source,) = (out / "src").iterdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation", str(source)]
        + ["-w", str(out)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return out / sdist, wheel


def test_the_sdist_holds_what_a_source_install_needs(built):
    sdist, wheel = built
    version = polyepo_plugin.__version__
    assert sdist.name == f"polyepo-{version}.tar.gz" and wheel.name == f"polyepo-{version}-py3-none-any.whl"
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "LICENSE", "polyepo_plugin/diversity/judge_prompt.md"} <= names


def fresh_environment(root: Path) -> Path:
    """A new virtual environment whose site-packages links to each of this one's installed
    distributions except polyepo's (so polyepo is not installed there)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = root / Path(sysconfig.get_paths()["purelib"]).relative_to(sys.prefix)
    for entry in ours.iterdir():
        polyepo_own = entry.name.startswith(("polyepo-", "polyepo.", "__editable__.polyepo", "__editable___polyepo"))
        if not polyepo_own and entry.name != "__pycache__" and not (theirs / entry.name).exists():
            (theirs / entry.name).symlink_to(entry)
    return root / "bin" / "python"


IMPORTS_AND_OWNERS = """
import importlib, importlib.metadata as md, json, sys
import polyepo_plugin
promises = json.loads(sys.argv[1])
requires = md.requires("polyepo") or []
owners = md.packages_distributions()
assert polyepo_plugin.__file__.startswith(sys.prefix), polyepo_plugin.__file__
assert md.version("polyepo") == polyepo_plugin.__version__
for extra, modules in promises.items():
    wanted = (lambda r: "extra ==" not in r) if extra == "null" else (lambda r: f'extra == "{extra}"' in r)
    declared = {r.split(";")[0].strip().lower() for r in requires if wanted(r)}
    for module, distribution in modules.items():
        importlib.import_module(module)
        if distribution:
            names = {d.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip() for d in declared}
            assert distribution.lower() in names, (extra, distribution, sorted(names))
            assert distribution in owners.get(module.split(".")[0], []), (module, owners.get(module.split(".")[0]))
plugins = [e.name for e in md.entry_points(group="verl.plugins")]
assert "polyepo" in plugins, plugins
print("ok")
"""


@pytest.mark.slow
def test_the_wheel_installs_with_each_extra_into_a_fresh_environment(built, tmp_path):
    import json

    _, wheel = built
    python = fresh_environment(tmp_path / "venv")
    for extra in (None, *EXTRAS):
        target = str(wheel) if extra is None else f"{wheel}[{extra}]"
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-index", target], capture_output=True, text=True
        )
        assert result.returncode == 0, f"pip install {target}: {result.stderr}"
    promises = {str(extra).lower() if extra else "null": modules for extra, modules in PROMISES.items()}
    checked = subprocess.run(
        [str(python), "-c", IMPORTS_AND_OWNERS, json.dumps(promises)], capture_output=True, text=True, cwd=tmp_path
    )  # cwd: not the repository, whose polyepo_plugin would shadow the installed one
    assert checked.returncode == 0 and checked.stdout.strip().endswith("ok"), checked.stderr[-3000:]
    for script in ("polyepo-check", "polyepo-eval", "polyepo-demo"):
        result = subprocess.run([str(python.parent / script), "--help"], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0 and script in result.stdout, result.stderr
