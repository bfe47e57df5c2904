"""Invariants of the third strategy-detection set, ``benchmarks/data/strategy_cot/``: its generator rebuilds
the committed file byte for byte, groups are well formed, one-strategy groups mix languages or answer forms,
and the responses of one strategy differ in wording."""

import importlib.util
import itertools
import json
import re
from fractions import Fraction
from collections import defaultdict
from pathlib import Path

import pytest

SET_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "strategy_cot"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("strategy_cot_generate", SET_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data():
    return json.loads((SET_DIR / "strategy_cot.json").read_text(encoding="utf-8"))


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def test_generator_rebuilds_the_committed_file(generator):
    committed = (SET_DIR / "strategy_cot.json").read_text(encoding="utf-8")
    assert generator.serialise(generator.build()) == committed


def test_groups_are_well_formed(data):
    responses = {r["id"]: r for r in data["responses"]}
    families = {f["name"]: f for f in data["families"]}
    kinds = defaultdict(int)
    for group in data["groups"]:
        assert len(group["responses"]) == 8 == len(set(group["responses"])), group["id"]
        assert [responses[r]["strategy"] for r in group["responses"]] == group["strategies"], group["id"]
        assert {responses[r]["problem"] for r in group["responses"]} == {group["problem"]}, group["id"]
        assert set(group["strategies"]) <= set(families[group["family"]]["strategies"])
        assert group["part"] == "test"
        distinct = len(set(group["strategies"]))
        if group["kind"] == "one_strategy":
            assert distinct == 1, group["id"]
            members = [responses[r] for r in group["responses"]]
            languages = {r["language"] for r in members}
            forms = {r["answer_form"] for r in members}
            assert len(languages) >= 2 or len(forms) >= 3, (group["id"], languages, forms)
        else:
            assert group["kind"] == "multi" and 2 <= distinct <= 4, group["id"]
        kinds[group["kind"]] += 1
    assert kinds["one_strategy"] >= 60 and kinds["multi"] >= 120, kinds


def test_final_answer_is_the_problem_answer_unless_a_copying_slip(data, generator):
    answers = {p["id"]: p["answer"] for p in data["problems"]}
    wrong = {f"{f['name']}/{i}": w for f in generator.FAMILIES for i, w in enumerate(f["wrong"])}
    slips = 0
    for response in data["responses"]:
        value = wrong[response["problem"]] if response["slip"] else answers[response["problem"]]
        tail = response["text"][-40:]
        written = [value, "\\frac{{{}}}{{{}}}".format(*value.split("/"))] if "/" in value else [value]
        assert any(w in tail for w in written), (response["id"], tail)
        slips += response["slip"]
    assert 0.05 <= slips / len(data["responses"]) <= 0.15


def test_one_language_per_response(data):
    english_only = {"the", "let", "wait", "answer", "which"}
    for response in data["responses"]:
        has_chinese = re.search(r"[\u4e00-\u9fff]", response["text"]) is not None
        assert has_chinese == (response["language"] == "zh"), response["id"]
        if response["language"] != "en":
            assert not words(response["text"]) & english_only, response["id"]
        if response["language"] in ("es", "fr", "de"):  # decimal commas
            assert not re.search(r"\d\.\d", response["text"]), response["id"]


def test_responses_of_one_strategy_differ_in_wording(data):
    """Within every (problem, strategy) pool some pair of English responses shares under half its words."""
    pools = defaultdict(list)
    for response in data["responses"]:
        if response["language"] == "en":
            pools[response["problem"], response["strategy"]].append(words(response["text"]))
    for key, pool in pools.items():
        overlaps = [len(a & b) / len(a | b) for a, b in itertools.combinations(pool, 2)]
        assert min(overlaps) < 0.5, (key, min(overlaps))


EQUATION = re.compile(r"(?<![\w.,/^)])(?<![−+·×÷&%/\-] )(\d+) (\+|−|-|·|×|÷|&|%|//|/) (\d+) = (-?\d+)(?![\w/^(]|[.,]\d)")
OPERATIONS = {
    "+": lambda a, b: a + b, "−": lambda a, b: a - b, "-": lambda a, b: a - b, "·": lambda a, b: a * b,
    "×": lambda a, b: a * b, "÷": lambda a, b: Fraction(a, b), "/": lambda a, b: Fraction(a, b),
    "&": lambda a, b: a & b, "%": lambda a, b: a % b, "//": lambda a, b: a // b,
}


def test_stated_arithmetic_is_right_except_a_corrected_slip(data):
    """The intermediate quantities are really computed: every integer equation ``a op b = c`` in a response
    holds, except in a response with an arithmetic slip, where one wrong equation is followed by the same
    left side with the right value."""
    checked = 0
    for response in data["responses"]:
        equations = [(m[1], m[2], m[3], int(m[4])) for m in EQUATION.finditer(response["text"])]
        wrong = [e for e in equations if OPERATIONS[e[1]](int(e[0]), int(e[2])) != e[3]]
        checked += len(equations)
        if "slip" not in response["scaffold"]:
            assert not wrong, (response["id"], wrong)
            continue
        assert len(wrong) <= 1, (response["id"], wrong)
        for a, op, b, value in wrong:
            later = equations[equations.index((a, op, b, value)) + 1:]
            assert any(e[:3] == (a, op, b) and e[3] != value for e in later), (response["id"], a, op, b)
    assert checked > 1000
