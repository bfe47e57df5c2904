"""The evaluation tool: pass@k against brute force, the demo task's reward, and
``polyepo-eval`` end to end on a tiny model built here (a few SFT steps, seconds)."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from polyepo_plugin import evaluation
from polyepo_plugin.demo import base_policy, task


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of all k-subsets of n samples (the first c correct) holding a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert evaluation.pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_large_n_and_bad_input():
    assert evaluation.pass_at_k(200, 1, 1) == pytest.approx(1 / 200)
    assert evaluation.pass_at_k(200, 10, 50) == pytest.approx(1 - math.comb(190, 50) / math.comb(200, 50))
    with pytest.raises(ValueError):
        evaluation.pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        evaluation.pass_at_k(4, 1, 0)


def test_majority_and_summary():
    group = {
        "prompt": "p",
        "responses": ["2", "2", "3", "x"],
        "scores": [1, 1, 0, 0],
        "answers": ["2", "2", "3", "x"],
        "strategies": [2, 2, 3, -1],
    }
    assert evaluation.majority_at_k(group["answers"], [True, True, False, False], 4) == 1.0
    result = evaluation.summarize_groups([group, {**group, "scores": [0, 0, 0, 0]}])
    s = result["summary"]
    assert s["n"] == 4 and s["prompts"] == 2
    assert s["pass_at_k"][0]["mean"] == pytest.approx(0.25)  # (2/4 + 0) / 2
    assert s["distinct_strategies"]["mean"] == 2  # -1 is degenerate: 2 and 3
    assert s["distinct_correct_strategies"]["mean"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same number of samples"):
        evaluation.summarize_groups([group, {**group, "scores": [1]}])


def test_task_every_problem_has_three_strategies_with_different_successes():
    problems = task.all_problems()
    succeeds = {p: frozenset(t for t, _ in problems if t % p == 0) for p in task.STRATEGY_PRIMES}
    assert len(set(succeeds.values())) == len(task.STRATEGY_PRIMES)
    for t, primes in problems:
        scores = {
            p: task.compute_score(task.DATA_SOURCE, f"{p}<|im_end|>", str(t))["score"] for p in task.STRATEGY_PRIMES
        }
        assert sorted(p for p, s in scores.items() if s == 1.0) == sorted(primes)
    assert task.compute_score("", "hello", "6") == {"score": 0.0, "strategy": -1}
    assert task.compute_score("", "4", "8") == {"score": 0.0, "strategy": -1}  # a factor, not a prime
    train, test = task.split_problems(50, 20, seed=1)
    assert not {t for t, _ in train} & {t for t, _ in test}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    train, test = task.split_problems(40, 6, seed=0)
    model = base_policy.pretrain(str(root / "model"), train, sft_steps=3, log=lambda *_: None)
    return model, task.write_parquet(test, str(root / "test.parquet"), "test")


def test_evaluate_end_to_end(tiny):
    model, data = tiny
    result = evaluation.evaluate(model, data, n=4, reward=task.compute_score, max_new_tokens=4, progress=False)
    s = result["summary"]
    assert s["n"] == 4 and s["prompts"] == 6 and len(s["pass_at_k"]) == 4
    means = [p["mean"] for p in s["pass_at_k"]]
    assert all(0 <= a <= b <= 1 for a, b in itertools.pairwise(means))  # pass@k never falls with k
    for p in result["per_prompt"]:
        assert 0 <= p["distinct_correct_strategies"] <= p["distinct_strategies"] <= 4
    ngram = evaluation.evaluate(
        model, data, n=4, reward=task.compute_score, backend="ngram", max_new_tokens=4, progress=False
    )
    assert ngram["summary"]["prompts"] == 6


def test_cli_compares_models(tiny, tmp_path):
    model, data = tiny
    out = tmp_path / "eval"
    rc = evaluation.main(
        [
            "--model",
            f"a={model}",
            "--model",
            f"b={model}",
            "--data",
            data,
            "--n",
            "3",
            "--reward-path",
            task.__file__,
            "--max-new-tokens",
            "4",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    results = json.loads((out / "eval.json").read_text())
    assert set(results) == {"a", "b"} and len(results["a"]["summary"]["pass_at_k"]) == 3
    assert (out / "pass_at_k.png").stat().st_size > 0


def test_reward_strategy_strings_are_told_apart_in_full():
    """Labels sharing a long prefix are still different strategies; None is degenerate."""
    from polyepo_plugin.evaluation import score_groups, summarize_groups

    labels = {"a": "substitution-then-factor", "b": "substitution-then-expand", "c": None}
    row = {"data_source": "toy", "prompt": [{"role": "user", "content": "q"}], "reward_model": {"ground_truth": "1"}}

    def reward(data_source, solution, ground_truth, extra_info=None):
        return {"score": 1.0, "strategy": labels[solution]}

    groups = score_groups([row], [["a", "b", "c", "a"]], reward)
    assert groups[0]["strategies"][0] == groups[0]["strategies"][3] != groups[0]["strategies"][1]
    assert groups[0]["strategies"][2] == -1
    assert summarize_groups(groups)["per_prompt"][0]["distinct_strategies"] == 2
