"""The documents a newcomer reads: every relative link and its anchor resolve (as GitHub renders
them), the licence names its copyright holder, and the citation file says when (its
repository-code waits for the public address, which no file here records)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [
    REPO / "README.md",
    REPO / "CHANGELOG.md",
    *sorted((REPO / "docs").rglob("*.md")),
    *sorted((REPO / "examples").rglob("*.md")),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not followed (no network)
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            if not resolved.exists():
                broken.append(f"{document.relative_to(REPO)}: {target} (no {resolved})")
            elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
                broken.append(f"{document.relative_to(REPO)}: {target} (no heading #{anchor})")
    assert not broken, "\n".join(broken)


def test_the_licence_and_the_citation_say_who_and_when():
    first = (REPO / "LICENSE").read_text().splitlines()[0]
    assert re.fullmatch(r"Copyright 20\d\d The polyepo contributors", first), first
    citation = (REPO / "CITATION.cff").read_text()
    assert re.search(r"^date-released: \"?20\d\d-\d\d-\d\d\"?$", citation, re.MULTILINE)


def test_the_readme_per_seed_table_is_the_archived_six_seed_run():
    """Every cell of the README's per-seed demo table, and its mean row, read from the run it cites."""
    import json

    run = json.loads((REPO / "docs/results/demo_cpu.json").read_text())
    assert run["command"].startswith("polyepo-demo --seeds 0 1 2 3 4 5")
    by = {(r["arm"], r["seed"]): r for r in run["runs"]}
    readme = (REPO / "README.md").read_text()
    for seed in range(6):
        grpo, ours = by["grpo", seed], by["poly_epo", seed]
        row = (
            f"| {seed} | {grpo['pass@1']:.3f} / {ours['pass@1']:.3f} | {grpo['pass@n']:.3f} / {ours['pass@n']:.3f} "
            f"| {grpo['distinct_correct']:.2f} / {ours['distinct_correct']:.2f} "
            f"| {ours['distinct_correct'] / grpo['distinct_correct']:.2f}x |"
        )
        assert row in readme, row
    stats = run["across_seeds"]

    def cell(metric, digits):
        g, p = stats["grpo"][metric], stats["poly_epo"][metric]
        return f"{g['mean']:.{digits}f} ± {g['std']:.{digits}f} / {p['mean']:.{digits}f} ± {p['std']:.{digits}f}"

    ratio = stats["poly_epo"]["distinct_correct"]["mean"] / stats["grpo"]["distinct_correct"]["mean"]
    mean_row = f"| mean ± std | {cell('pass@1', 3)} | {cell('pass@n', 3)} | {cell('distinct_correct', 2)} | {ratio:.2f}x |"
    assert mean_row in readme, mean_row
