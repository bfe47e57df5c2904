"""The demo's pieces without verl runs: the task and its responses with reasons, the agreement
measure against brute-force pair counting, and the across-seed report and its targets."""

from __future__ import annotations

import itertools
import json
import os
import random
import statistics
import subprocess
import sys

import pytest
from fake_cuda import fake_cuda_env

from polyepo_plugin.cpu_harness import overrides as harness
from polyepo_plugin.demo import cli, report, runner, task
from polyepo_plugin.diversity.agreement import adjusted_rand_index, agreement_with_truth

# ----------------------------------------------------------------------------- the task


def test_every_problem_has_four_strategies_with_different_successes():
    problems = task.all_problems()
    succeeds = {p: frozenset(t for t, _ in problems if t % p == 0) for p in task.STRATEGY_PRIMES}
    assert len(set(succeeds.values())) == len(task.STRATEGY_PRIMES)
    for t, primes in problems[::7]:
        correct = {
            p
            for p in task.STRATEGY_PRIMES
            for w in range(3)
            if task.compute_score(task.DATA_SOURCE, task.response(p, w) + "<|im_end|>", str(t))["score"] == 1.0
        }
        assert sorted(correct) == sorted(primes) and len(primes) == task.CORRECT_PER_PROBLEM
        texts = task.correct_responses(primes)
        assert len(set(texts)) == 3 * len(primes)
        assert all(task.compute_score("", text, str(t))["score"] == 1.0 for text in texts)
    train, test = task.split_problems(50, 20, seed=1)
    assert not {t for t, _ in train} & {t for t, _ in test}


def test_the_reward_reads_only_the_final_number():
    # The reason does not count: a reason for 7 ending in 3 is scored, and labelled, as 3.
    assert task.compute_score("", f"{task.REASONS[7][0]}, so 3", "33") == {"score": 1.0, "strategy": 3}
    assert task.compute_score("", f"{task.REASONS[3][0]}, so 7", "33") == {"score": 0.0, "strategy": 7}
    assert task.compute_score("", task.REASONS[3][0], "33") == {"score": 0.0, "strategy": -1}
    assert task.compute_score("", "so 9", "99") == {"score": 0.0, "strategy": -1}  # a factor, not a prime
    assert task.compute_score("", "so 3x", "33") == {"score": 0.0, "strategy": -1}
    assert task.parse_answer("seven goes in exactly, so 7<|im_end|>") == 7


def test_wordings_of_one_method_share_few_words():
    """Surface overlap must not be identity: the wordings of a method differ, and the
    trial-division methods share their template with each other."""
    words = {p: [set(r.split()) for r in reasons] for p, reasons in task.REASONS.items()}
    for p, sets in words.items():
        assert len(sets) == 3 and len(set(task.REASONS[p])) == 3
        for a, b in itertools.combinations(sets, 2):
            assert len(a & b) / len(a | b) < 0.5, (p, a, b)
    assert words[7][2] - {"seven"} == words[13][2] - {"thirteen"}
    assert all(p % 2 and p != 5 for p in task.STRATEGY_PRIMES)  # no strategy readable off the last digit


def test_training_curves_and_agreement_groups_from_rollout_dumps():
    def group(prompt, strategies, correct):
        return {
            "prompt": prompt,
            "responses": [task.response(p, 0) for p in strategies],
            "scores": [float(c) for c in correct],
            "answers": list(strategies),
            "strategies": list(strategies),
        }

    per_step = {
        1: [group("a", [3, 3, 7, 11], [1, 1, 1, 0]), group("b", [3, 7, 13, 13], [1, 0, 1, 1])],
        2: [group("a", [3, 3, 3, 3], [1, 1, 1, 1]), group("b", [7, 7, 7, 7], [0, 0, 0, 0])],
        3: [group("a", [7, 7, 3, 3], [1, 1, 1, 1]), group("b", [3, 3, 3, 3], [1, 1, 1, 1])],
    }
    assert cli.distinct_correct_over_training(per_step) == {1: 2.0, 2: 0.5, 3: 1.5}
    other = {5: per_step[1][:1], 9: per_step[3][1:]}
    chosen = cli.agreement_groups([per_step, other])
    assert chosen == [*per_step[1], *per_step[3], *other[5], *other[9]]  # first and last step of each run


def test_rollout_dump_groups_use_the_final_number_as_answer():
    rows = [
        {"input": "q1", "output": task.response(3, 0), "score": 1.0, "strategy": 3},
        {"input": "q2", "output": "no idea", "score": 0.0, "strategy": -1},
        {"input": "q1", "output": task.response(3, 1), "score": 1.0, "strategy": 3},
    ]
    first, second = runner.groups_from_dump(rows)
    assert first["answers"] == [3, 3] and first["strategies"] == [3, 3] and first["scores"] == [1.0, 1.0]
    assert second["answers"] == [None] and second["prompt"] == "q2"


# ----------------------------------------------------------------------------- agreement


def brute_pairs(labels, truth):
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(truth)), 2):
        if truth[i] < 0 or truth[j] < 0:  # no strategy: left out
            continue
        same = truth[i] == truth[j]
        linked = labels[i] == labels[j] and labels[i] >= 0
        tp, fp, fn = tp + (same and linked), fp + (linked and not same), fn + (same and not linked)
    return tp, fp, fn


def test_agreement_counts_pairs_like_brute_force_and_skips_single_strategy_groups():
    rng = random.Random(3)
    predicted, truths = [], []
    for _ in range(40):
        n = rng.randint(2, 9)
        truths.append([rng.randint(-1, 3) for _ in range(n)])
        predicted.append([rng.randint(-1, 3) for _ in range(n)])
    got = agreement_with_truth(predicted, truths)
    tp, fp, fn = map(sum, zip(*(brute_pairs(p, t) for p, t in zip(predicted, truths))))
    assert got["precision"] == pytest.approx(tp / (tp + fp)) and got["recall"] == pytest.approx(tp / (tp + fn))
    kept = [[(p, t) for p, t in zip(ps, ts) if t >= 0] for ps, ts in zip(predicted, truths)]
    multi = [list(zip(*pairs)) for pairs in kept if len({t for _, t in pairs}) >= 2]
    assert got["groups"] == len(multi) < 40
    # Unlinked predictions are singletons: number them apart before the ARI.
    singletons = [([p if p >= 0 else -1 - i for i, p in enumerate(ps)], ts) for ps, ts in multi]
    assert got["ari"] == pytest.approx(statistics.fmean(adjusted_rand_index(t, p) for p, t in singletons))


def test_agreement_leaves_out_responses_without_a_strategy():
    # Two malformed responses (truth -1) are not a pair of one strategy, and do not make a
    # group of one strategy count as two.
    got = agreement_with_truth([[0, 0, 1, 1]], [[3, 3, -1, -1]])
    assert got["groups"] == 0 and got["ari"] is None
    assert got["precision"] == 1.0 and got["recall"] == 1.0
    unlinked = agreement_with_truth([[-1, -1, 0, 0]], [[3, 3, 7, 7]])
    assert unlinked["recall"] == 0.5 and unlinked["precision"] == 1.0 and unlinked["ari"] < 1.0


def test_agreement_does_not_reward_seeing_nothing():
    truths = [[0, 0, 1, 1, 2, 2], [5, 5, 5, 5, 5, 5]]
    all_one = agreement_with_truth([[0] * 6, [0] * 6], truths)
    assert all_one["ari"] == 0.0 and all_one["degenerate"] == 1.0 and all_one["groups"] == 1
    perfect = agreement_with_truth([[7, 7, 1, 1, 0, 0], [0] * 6], truths)
    assert perfect == {"ari": 1.0, "precision": 1.0, "recall": 1.0, "degenerate": 0.0, "groups": 1}
    assert agreement_with_truth([[0, 0]], [[1, 1]])["ari"] is None


def test_backend_agreement_on_the_demos_responses_ranks_a_blind_labelling_last():
    """A blind labelling (all one strategy) scores 0; the semantic default, which leaves the final
    prime out and so reads only the reasons' wordings, must find some of the strategies there."""
    rng = random.Random(0)
    groups = []
    for _ in range(12):
        primes = rng.sample(task.STRATEGY_PRIMES, 3)
        strategies = [rng.choice(primes) for _ in range(8)]
        groups.append({"responses": [task.response(p, rng.randrange(3)) for p in strategies], "strategies": strategies})
    got = report.backend_agreement(groups, backends={"semantic": {}})
    blind = agreement_with_truth([[0] * 8 for _ in groups], [g["strategies"] for g in groups])
    assert got["semantic"]["groups"] == 12
    assert blind["ari"] == 0.0 and got["semantic"]["ari"] >= 0.15 and got["semantic"]["degenerate"] < 0.5


# ----------------------------------------------------------------------------- the report


def summary(pass_at_k, distinct_correct, distinct):
    return {
        "summary": {
            "prompts": 5,
            "pass_at_k": [{"mean": v, "se": 0.0} for v in pass_at_k],
            "distinct_correct_strategies": {"mean": distinct_correct, "se": 0.0},
            "distinct_strategies": {"mean": distinct, "se": 0.0},
        }
    }


def rows_for(results):
    return [report.seed_row(arm, seed, summary(*values)) for (arm, seed), values in results.items()]


def test_across_seeds_is_mean_and_sample_std_per_arm():
    rows = rows_for(
        {
            ("grpo", 0): ([0.5, 0.6], 0.6, 1.0),
            ("grpo", 1): ([0.7, 0.8], 0.8, 1.0),
            ("poly_epo", 0): ([0.4, 0.9], 2.0, 3.0),
        }
    )
    stats = report.across_seeds(rows)
    assert stats["grpo"]["pass@1"]["mean"] == pytest.approx(0.6)
    assert stats["grpo"]["pass@n"]["std"] == pytest.approx(statistics.stdev([0.6, 0.8]))
    assert stats["poly_epo"]["distinct_correct"] == {"mean": 2.0, "std": None, "runs": 1}
    table = report.format_runs(rows, stats, 2)
    assert "pass@2" in table and table.count("\n") == len(rows) + 1 + len(stats)


def test_targets_are_checked_on_every_seed_and_on_the_mean():
    good = {
        ("grpo", 0): ([0.60, 0.70], 0.70, 1.0),
        ("poly_epo", 0): ([0.58, 0.95], 2.40, 3.0),
        ("grpo", 1): ([0.62, 0.72], 0.75, 1.0),
        ("poly_epo", 1): ([0.60, 0.90], 2.30, 3.0),
    }
    checks = report.target_checks(rows_for(good))
    assert checks["all_met"] and [p["seed"] for p in checks["per_seed"]] == [0, 1]
    assert checks["per_seed"][0]["distinct_correct_ratio"] == pytest.approx(2.40 / 0.70)
    assert checks["mean_pass_at_1_gap"] == pytest.approx(0.02)
    one_seed_short = dict(good)
    one_seed_short["poly_epo", 1] = ([0.60, 0.78], 2.30, 3.0)  # gain 0.06 on seed 1 only
    checks = report.target_checks(rows_for(one_seed_short))
    assert not checks["all_met"] and checks["per_seed"][0]["gain_met"] and not checks["per_seed"][1]["gain_met"]
    assert "MISSED" in report.format_targets(checks)
    collapsed = dict(good)
    collapsed["grpo", 0] = ([0.0, 0.0], 0.0, 1.0)
    (first, _) = report.target_checks(rows_for(collapsed))["per_seed"]
    assert first["distinct_correct_ratio"] is None and first["ratio_met"]
    both_collapsed = dict(collapsed)
    both_collapsed["poly_epo", 0] = ([0.0, 0.0], 0.0, 1.0)
    (first, _) = report.target_checks(rows_for(both_collapsed))["per_seed"]
    assert first["distinct_correct_ratio"] is None and not first["ratio_met"]
    assert "n/a" in report.format_targets(report.target_checks(rows_for(both_collapsed)))
    assert report.target_checks(rows_for({("grpo", 0): ([0.5], 1.0, 1.0)})) is None


def test_figures_are_written_from_results_json(tmp_path):
    """The figures come from ``results.json`` alone (steps are strings there), so a saved run
    can be drawn again."""
    rows = rows_for({("grpo", 0): ([0.5, 0.6], 0.6, 1.0), ("grpo", 1): ([0.4, 0.7], 0.8, 1.0)})
    for row, curve in zip(rows, ({1: 1.0, 2: 2.0}, {1: 1.5, 2: 2.5, 3: 3.0})):
        row["distinct_correct_over_training"] = curve
    results = json.loads(json.dumps({"base": report.seed_row("base", 0, summary([0.3, 0.5], 1.0, 2.0)), "runs": rows}))
    paths = report.write_figures(results, str(tmp_path))
    assert [os.path.basename(p) for p in paths] == ["pass_at_k.png", "strategies.png"]
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- on a GPU machine

# `import verl` applies the harness named in its external-module hook (as in every process of a run).
APPLIED = "import torch, verl; from polyepo_plugin.cpu_harness import is_active; print(torch.cuda.is_available(), is_active())"


def test_demo_runs_hide_the_gpu_so_the_cpu_harness_applies(tmp_path):
    def harness_in(env):
        out = subprocess.run([sys.executable, "-c", APPLIED], env=env, capture_output=True, text=True, check=True)
        return out.stdout.split()

    env = {**fake_cuda_env(os.environ, tmp_path), harness.ENV_VAR: harness.MODULE}
    assert harness_in(env) == ["True", "False"]  # the fake works: the harness stays off
    assert harness_in({**env, "CUDA_VISIBLE_DEVICES": "0"}) == ["True", "False"]  # as Ray sets it for a GPU actor
    assert harness_in(runner.run_env(env)) == ["False", "True"]  # a demo run: on CPU, harness on


def test_demo_help_explains_arms_defaults_and_time():
    text = " ".join(cli.build_parser().format_help().split())
    for arm, description in runner.ARM_DESCRIPTIONS.items():
        assert f"{arm} {description}" in text
    assert set(runner.ARM_DESCRIPTIONS) == set(runner.ARMS)
    assert "(default: ['grpo', 'poly_epo'])" in text and "(default: polyepo_demo_out)" in text
    assert "CPU only, also on a GPU machine" in text and "about 30 minutes" in text and "about 4 minutes" in text
