"""The text sources of the strategy-labelling benchmark, as groups of 8 with known strategies.

Every source gives two kinds of groups, the two errors a labeller can make:

- ``one``: 8 responses of ONE strategy to one problem, in different wordings (paraphrases,
  renderings, answer forms). Any split pays for wording: a labeller should return one class.
- ``multi``: the source's own groups of 1-4 strategies (for ARI and pairwise precision/recall;
  the groups with one true strategy are left out of ARI by ``agreement_with_truth``).

A one-strategy group names its ``method`` across the problems of its family, so that a step
in which the policy has collapsed onto one method can be formed (every group of the step that
method; the benchmark's ``collapsed`` measure).

Sources:

- ``strategy_sets`` (short / long forms; dev and test families) and the same with every digit
  masked (``#``): benchmarks/data/strategy_sets; one-strategy groups: for each problem and
  strategy, 8 of its 9 responses (3 paraphrases x 3 renderings, answer lines drawn apart);
- ``strategy_steps``: benchmarks/data/strategy_steps (test only); one-strategy groups: 8 of the
  9 responses of each problem and strategy (step phrasings drawn per response);
- ``strategy_cot``: benchmarks/data/strategy_cot (long chains of thought, several languages),
  when present; its one-strategy groups are its own;
- ``demo``: the CPU demo's task (``polyepo_plugin.demo.task``): one-line reasons, three wordings
  per method, one final answer; one-strategy groups: 8 responses of one method, every wording
  present;
- ``answer_forms``: one worked body per group, its final answer written 8 ways (``ANSWER_FORMS``:
  ", so X", a bare last line, ``\\boxed{X}``, " which gives X.", a value-only ending, and
  statements in Chinese, Spanish, French and German); bodies are the short responses of
  strategy_sets' test part, each answer line cut off. One-strategy groups only.

Groups are drawn with ``numpy.random.default_rng`` from structured integer seeds.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
GROUP_SIZE = 8


@dataclasses.dataclass
class Group:
    texts: list[str]
    truth: list[int]  # true strategy per response, 0..C-1
    prompt: str
    kind: str  # "one" or "multi"
    method: str = ""  # a one-strategy group's method across the problems of its family ("family/strategy"; the demo: its prime)


@dataclasses.dataclass
class Source:
    name: str  # e.g. "strategy_sets (short)"
    part: str  # "dev" (settings may be chosen here) or "test"
    groups: list[Group]


def _codes(strategies: list[str]) -> list[int]:
    order = sorted(set(strategies))
    return [order.index(s) for s in strategies]


def _method(problem: str, strategy: str) -> str:
    """A one-strategy group's ``method``: its problem's family and its strategy ("family/strategy")."""
    return f"{problem.split('/')[0]}/{strategy}"


def _one_strategy_groups(by_key: dict, texts: dict, prompts: dict, seed: int) -> list[Group]:
    """8 of the responses of each (problem, strategy) with at least 8."""
    out = []
    for k, key in enumerate(sorted(by_key)):
        ids = sorted(by_key[key])
        if len(ids) < GROUP_SIZE:
            continue
        rng = np.random.default_rng([seed, k])
        chosen = [ids[i] for i in rng.choice(len(ids), GROUP_SIZE, replace=False)]
        out.append(Group([texts[r] for r in chosen], [0] * GROUP_SIZE, prompts[key[0]], "one", _method(key[0], key[1])))
    return out


def strategy_sets(part: str, form: str, masked: bool = False) -> Source:
    data = json.loads((DATA / "strategy_sets" / "strategy_sets.json").read_text())
    mask = (lambda t: re.sub(r"\d", "#", t)) if masked else (lambda t: t)
    texts = {r["id"]: mask(r[form]) for r in data["responses"]}
    prompts = {p["id"]: mask(p["prompt"]) for p in data["problems"]}
    families = {f["name"] for f in data["families"] if f["part"] == part}
    multi = [
        Group([texts[r] for r in g["responses"]], _codes(g["strategies"]), prompts[g["problem"]], "multi")
        for g in data["groups"]
        if g["part"] == part
    ]
    by_key: dict = {}
    for r in data["responses"]:
        if r["problem"].split("/")[0] in families:
            by_key.setdefault((r["problem"], r["strategy"]), []).append(r["id"])
    one = _one_strategy_groups(by_key, texts, prompts, seed=1)
    name = f"strategy_sets{', digits masked' if masked else ''} ({form})"
    return Source(name, part, one + multi)


def _steps_like(directory: str, name: str) -> Source | None:
    path = DATA / directory / f"{directory}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    texts = {r["id"]: r["text"] for r in data["responses"]}
    prompts = {p["id"]: p["prompt"] for p in data["problems"]}
    groups, own_one = [], False
    for g in data["groups"]:
        kind = "one" if g.get("kind") == "one_strategy" or len(set(g["strategies"])) == 1 else "multi"
        own_one |= g.get("kind") == "one_strategy"
        method = _method(g["problem"], g["strategies"][0]) if kind == "one" else ""
        groups.append(Group([texts[r] for r in g["responses"]], _codes(g["strategies"]), prompts[g["problem"]], kind, method))
    if not own_one:
        by_key: dict = {}
        for r in data["responses"]:
            by_key.setdefault((r["problem"], r["strategy"]), []).append(r["id"])
        groups += _one_strategy_groups(by_key, texts, prompts, seed=2)
    return Source(name, "test", groups)


def demo(num_problems: int = 48) -> Source:
    from polyepo_plugin.demo import task

    problems = task.all_problems()
    rng = np.random.default_rng([3])
    picked = [problems[i] for i in rng.choice(len(problems), num_problems, replace=False)]
    groups = []
    for p, (t, primes) in enumerate(picked):
        prompt = task.question(t)
        g_rng = np.random.default_rng([3, p])
        wordings = [0, 1, 2] + [int(w) for w in g_rng.integers(0, 3, GROUP_SIZE - 3)]
        method = int(primes[int(g_rng.integers(len(primes)))])
        groups.append(Group([task.response(method, w) for w in wordings], [0] * GROUP_SIZE, prompt, "one", str(method)))
        k = int(g_rng.integers(2, 5))
        methods = [int(m) for m in g_rng.choice(primes, k, replace=False)]
        members = [methods[i % k] for i in range(GROUP_SIZE)]
        g_rng.shuffle(members)
        texts = [task.response(m, int(g_rng.integers(0, 3))) for m in members]
        groups.append(Group(texts, _codes([str(m) for m in members]), prompt, "multi"))
    return Source("demo", "test", groups)


# The final answer X written eight ways after one worked body.
ANSWER_FORMS = (
    "{body}, so {x}",
    "{body}\n{x}",
    "{body}\n\\boxed{{{x}}}",
    "{body} which gives {x}.",
    "{body}\n\n{x}.",
    "{body}\n所以答案是 {x}。",
    "{body}\nPor lo tanto, la respuesta es {x}.",
    "{body}\nDonc la réponse est {x}. Die Antwort ist {x}.",
)
_ANSWER_LINE = re.compile(r"\n[^\n]*$")


def answer_forms() -> Source:
    """One body per group (strategy_sets' test short responses, first rendering of each
    paraphrase, answer line cut off), its answer written in the 8 ``ANSWER_FORMS``, and the
    stated value drawn per response (the true one, or a slip) so that labels must not follow it."""
    data = json.loads((DATA / "strategy_sets" / "strategy_sets.json").read_text())
    families = {f["name"] for f in data["families"] if f["part"] == "test"}
    prompts = {p["id"]: p["prompt"] for p in data["problems"]}
    groups = []
    for k, r in enumerate(x for x in data["responses"] if x["id"].endswith("/r0")):
        if r["problem"].split("/")[0] not in families:
            continue
        body = _ANSWER_LINE.sub("", r["short"].rstrip()).rstrip(" .")
        rng = np.random.default_rng([4, k])
        values = [str(int(v)) for v in rng.integers(2, 999, GROUP_SIZE)]
        texts = [form.format(body=body, x=x) for form, x in zip(ANSWER_FORMS, values)]
        groups.append(Group(texts, [0] * GROUP_SIZE, prompts[r["problem"]], "one"))
    return Source("answer_forms", "test", groups)


def all_sources(dev: bool = True) -> list[Source]:
    """Every source, dev parts first when ``dev``."""
    out = []
    for part in (["dev", "test"] if dev else ["test"]):
        for masked in (False, True):
            for form in ("short", "long"):
                out.append(strategy_sets(part, form, masked))
    for directory in ("strategy_steps", "strategy_cot"):
        source = _steps_like(directory, directory)
        if source is not None:
            out.append(source)
    out += [demo(), answer_forms()]
    return out
