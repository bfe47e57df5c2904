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
import tempfile
from pathlib import Path

import pytest
from fake_cuda import fake_cuda_env

from polyepo_plugin.cpu_harness import overrides as harness
from polyepo_plugin.demo import cli, report, runner, task
from polyepo_plugin.diversity.agreement import adjusted_rand_index, agreement_with_truth

# ----------------------------------------------------------------------------- the task


def test_every_problem_has_four_strategies_with_different_successes():
    problems = task.all_problems()
    succeeds = {p: frozenset(t for t, _ in problems if t % p == 0) for p in task.STRATEGY_PRIMES}
    assert len(set(succeeds.values())) == len(task.STRATEGY_PRIMES) == len(task.METHODS) == 8
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


def test_correct_responses_share_the_final_answer_and_differ_in_the_reasoning():
    for t, primes in task.all_problems()[::11]:
        texts = task.correct_responses(primes)
        assert {task.parse_answer(text) for text in texts} == {task.ANSWER}
        assert len({task.strategy_of(text) for text in texts}) == task.CORRECT_PER_PROBLEM
        assert all(text.endswith(f", so {task.ANSWER}") for text in texts)


def test_the_reward_reads_the_reasoning_as_a_verifier():
    division, digit_sum = task.REASONS[7][0], task.REASONS[3][1]
    # 21 = 3 * 7: both methods show it composite; 33 = 3 * 11: long division (7) does not.
    assert task.compute_score("", f"{division}, so 0", "21") == {"score": 1.0, "strategy": 7}
    assert task.compute_score("", f"{division}, so 0", "33") == {"score": 0.0, "strategy": 7}
    assert task.compute_score("", f"{digit_sum}, so 0<|im_end|>", "33") == {"score": 1.0, "strategy": 3}
    assert task.compute_score("", f"{digit_sum}, so 1", "33") == {"score": 0.0, "strategy": 3}  # wrong answer
    # The answer is 0 or 1, nothing else.
    assert task.compute_score("", f"{digit_sum}, so 00", "33") == {"score": 0.0, "strategy": -1}
    # A reason the verifier cannot read is no strategy, whatever the answer.
    assert task.compute_score("", "its digit sum divides evenly, so 0", "33") == {"score": 0.0, "strategy": -1}
    assert task.compute_score("", "so 0", "33") == {"score": 0.0, "strategy": -1}
    assert task.compute_score("", digit_sum, "33") == {"score": 0.0, "strategy": -1}


# A labelling that is right on each group's first four responses and lumps the last four together.
PAIRS_BACKEND = Path(__file__).parent / "demo_pairs_backend.py"
FUNCTION_WORDS = {"a", "the", "it", "its", "of", "to", "is", "with", "out"}
NUMBER_WORDS = set(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen seventeen nineteen twenty".split()
)


def test_no_number_names_a_method_and_its_wordings_share_only_its_term():
    """Backends must read the reasoning: no number in it (digits or words); the wordings of one
    method share its two-word term and no other content word, and no two methods share one."""
    reasons = [reason for wordings in task.REASONS.values() for reason in wordings]
    assert not any(ch.isdigit() for reason in reasons for ch in reason)
    assert not {word for reason in reasons for word in reason.split()} & NUMBER_WORDS
    vocabulary = {}
    for name, (prime, wordings) in task.METHODS.items():
        sets = [set(w.split()) for w in wordings]
        assert set.intersection(*sets) - FUNCTION_WORDS == set(name.split()), name
        for a, b in itertools.combinations(sets, 2):
            assert (a & b) - FUNCTION_WORDS == set(name.split()) and len(a & b) / len(a | b) < 0.5, (name, a, b)
        vocabulary[prime] = {word[:5] for s in sets for word in s} - FUNCTION_WORDS  # stems, roughly
    for a, b in itertools.combinations(vocabulary, 2):
        assert not vocabulary[a] & vocabulary[b], (a, b, vocabulary[a] & vocabulary[b])


def test_the_reasons_fit_the_demos_response_length():
    from polyepo_plugin.demo import base_policy

    with tempfile.TemporaryDirectory() as out:
        tok = base_policy.build_tokenizer(out)
    texts = [task.response(p, w) for p in task.STRATEGY_PRIMES for w in range(3)]
    assert max(len(tok(f"{text}<|im_end|>")["input_ids"]) for text in texts) <= runner.Settings.max_response_length


def test_a_backend_that_reads_only_the_final_answer_scores_chance(tmp_path):
    """Correct responses share their final answer, so the ``answer`` backend, and a custom one
    keyed on the final answer, link every pair (ARI 0, chance); one keyed on the method's term
    in the reason recovers the strategies exactly."""
    rng = random.Random(0)
    groups = []
    for t, primes in rng.sample(task.all_problems(), 12):
        strategies = [rng.choice(primes) for _ in range(8)]
        responses = [task.response(p, rng.randrange(3)) for p in strategies]
        groups.append({"responses": responses, "strategies": strategies, "scores": [1.0] * 8})
    backends = tmp_path / "backends.py"
    terms = [name.split() for name in task.METHODS]
    backends.write_text(
        "def final_answer(prompt, responses):\n"
        "    return [r.rsplit(' ', 1)[-1] for r in responses]\n"
        "def method_term(prompt, responses):\n"
        f"    return [next(i for i, t in enumerate({terms!r}) if set(t) <= set(r.split(',')[0].split())) for r in responses]\n"
    )
    got = report.backend_agreement(
        groups,
        backends={
            "answer": {},
            "custom": {"path": str(backends), "name": "final_answer"},
        },
    )
    for name, scores in got.items():
        for measured in (scores, scores["correct_only"]):
            assert measured["groups"] == 12 and measured["ari"] == pytest.approx(0.0, abs=1e-9), name
            assert measured["degenerate"] == 1.0 and measured["recall"] == 1.0, name
    reading = report.backend_agreement(groups, backends={"custom": {"path": str(backends), "name": "method_term"}})
    assert reading["custom"]["ari"] == 1.0 and reading["custom"]["correct_only"]["ari"] == 1.0
    table = report.format_agreement({**got, "phrase": reading["custom"]}, 12, 96).splitlines()
    assert "ARI correct" in table[1] and table[-1].split()[1::5] == ["1.00", "1.00"]


def test_agreement_on_correct_responses_leaves_the_wrong_ones_out():
    """The 'correct only' column scores the same labels over the correct responses alone: a
    labelling right on them and wrong on the others scores 1 there and less over all."""
    truths = [[3, 3, 7, 7, 11, 11, 13, 13], [3, 7, 3, 7, 17, 17, 19, 19]]
    scores = [[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0]]
    groups = [
        {"responses": [task.response(p, 0) for p in t], "strategies": t, "scores": [float(x) for x in sc]}
        for t, sc in zip(truths, scores)
    ]
    got = report.backend_agreement(groups, backends={"custom": {"path": str(PAIRS_BACKEND), "name": "pairs"}})["custom"]
    assert got["correct_only"]["groups"] == 2 and got["correct_only"]["ari"] == 1.0
    assert got["groups"] == 2 and got["ari"] < 1.0


def test_the_base_model_cache_key_changes_with_the_task(monkeypatch):
    from polyepo_plugin.demo import base_policy

    train, _ = task.split_problems(20, 0, seed=0)
    key = base_policy.cache_key(train)
    assert base_policy.cache_key(train) == key and base_policy.cache_key(train, seed=1) != key
    monkeypatch.setitem(task.REASONS, 3, ("another reason", *task.REASONS[3][1:]))
    assert base_policy.cache_key(train) != key
    monkeypatch.undo()
    monkeypatch.setattr(task, "question", lambda t: f"Is {t} composite?")
    assert base_policy.cache_key(train) != key


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
    assert first["answers"] == [0, 0] and first["strategies"] == [3, 3] and first["scores"] == [1.0, 1.0]
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


def test_the_default_backend_never_splits_a_method_and_finds_methods_in_part():
    """On the task's responses (every wording, any mix of methods), the default backend, which
    leaves the shared final answer out and splits only on strong evidence, never separates the
    wordings of one method (recall 1, no wording split) and finds the methods in part (measured
    ARI 0.54, where a blind labelling, all one strategy, scores 0)."""
    rng = random.Random(0)
    groups = []
    for _ in range(24):
        primes = rng.sample(task.STRATEGY_PRIMES, rng.choice([2, 3, 4]))
        strategies = [rng.choice(primes) for _ in range(8)]
        responses = [task.response(p, rng.randrange(3)) for p in strategies]
        groups.append({"responses": responses, "strategies": strategies, "scores": [1.0] * 8})
    got = report.backend_agreement(groups, backends={"semantic": {}})["semantic"]
    blind = agreement_with_truth([[0] * 8 for _ in groups], [g["strategies"] for g in groups])
    assert got["groups"] == 24 and blind["ari"] == 0.0
    assert got["recall"] == 1.0 and got["ari"] >= 0.4
    assert report.wording_splits({"demo": groups})["demo"]["split_share"] == 0.0


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


def test_targets_are_checked_per_seed_and_on_the_mean():
    good = {
        ("grpo", 0): ([0.60, 0.70], 0.70, 1.0),
        ("poly_epo", 0): ([0.58, 0.95], 2.40, 3.0),
        ("grpo", 1): ([0.62, 0.72], 0.75, 1.0),
        ("poly_epo", 1): ([0.60, 0.90], 2.30, 3.0),
    }
    checks = report.target_checks(rows_for(good))
    assert checks["all_met"] and checks["seeds"] == [0, 1] and [p["seed"] for p in checks["per_seed"]] == [0, 1]
    assert checks["per_seed"][0]["distinct_correct_ratio"] == pytest.approx(2.40 / 0.70)
    assert checks["per_seed"][1]["pass_at_n_gain"] == pytest.approx(0.18)
    assert checks["mean"]["distinct_correct_ratio"] == pytest.approx(2.35 / 0.725)
    assert checks["mean"]["pass_at_n_gain"] == pytest.approx(0.215)
    assert checks["mean"]["pass_at_1_gap"] == pytest.approx(0.02)
    assert "MISSED" not in report.format_targets(checks)
    # The gain counts on the mean: one seed's small gain is made up by the other's.
    small_gain = dict(good)
    small_gain["poly_epo", 1] = ([0.60, 0.78], 2.30, 3.0)  # +0.06 on seed 1, mean +0.155
    assert report.target_checks(rows_for(small_gain))["all_met"]
    # 2x on every seed is not enough without 3x on the mean...
    twice = dict(good)
    twice["poly_epo", 0] = ([0.58, 0.95], 1.50, 3.0)  # 2.14x, 2.55x on the mean
    checks = report.target_checks(rows_for(twice))
    assert all(p["ratio_met"] for p in checks["per_seed"]) and not checks["mean"]["ratio_met"]
    assert not checks["all_met"] and "MISSED" in report.format_targets(checks)
    # Two seeds cannot settle the targets on the mean: the run ends saying so, and how to check them.
    assert "all targets: not settled by 2 seed(s)" in report.format_targets(checks)
    closing = report.verdict(checks)
    assert "on 2 of 2 seed(s)" in closing and "set for 6 seeds" in closing and report.FULL_RUN in closing
    assert "MISSED" not in closing
    six = {(arm, seed + 2 * copy): value for (arm, seed), value in twice.items() for copy in range(3)}
    checks_six = report.target_checks(rows_for(six))
    assert len(checks_six["seeds"]) == 6 and "targets MISSED" in report.verdict(checks_six)
    assert "all targets: MISSED" in report.format_targets(checks_six)
    assert report.verdict(report.target_checks(rows_for(good))) == "[demo] verdict: every target met on 2 seed(s)."
    # ...and 3x on the mean is not enough with one seed under 2x.
    one_seed_short = dict(good)
    one_seed_short["grpo", 0] = ([0.60, 0.70], 1.30, 1.0)  # 1.85x on seed 0
    one_seed_short["grpo", 1] = ([0.62, 0.72], 0.20, 1.0)  # 3.13x on the mean
    checks = report.target_checks(rows_for(one_seed_short))
    assert checks["mean"]["ratio_met"] and not checks["per_seed"][0]["ratio_met"] and not checks["all_met"]
    gap = dict(good)
    gap["poly_epo", 0] = ([0.45, 0.95], 2.40, 3.0)  # mean pass@1 gap 0.085
    assert not report.target_checks(rows_for(gap))["mean"]["gap_met"]
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


def test_collapse_is_judged_on_the_baselines_last_steps():
    rows = rows_for({("grpo", 0): ([0.5], 1.0, 1.0), ("grpo", 1): ([0.5], 1.0, 1.0), ("poly_epo", 0): ([0.5], 3, 4)})
    falling = {str(step): 3.0 - 0.1 * step for step in range(1, 21)}  # 0.5 per window, last window 1.2
    flat_high = {str(step): 2.3 for step in range(1, 21)}  # a plateau, but not a collapse
    flat_low = {str(step): max(1.0, 3.0 - 0.2 * step) for step in range(1, 21)}  # 1.0 from step 10
    for row, curve in zip(rows, (falling, flat_low, flat_high)):
        row["distinct_correct_over_training"] = curve
    check = report.collapse_check(rows)
    assert [p["seed"] for p in check["per_seed"]] == [0, 1]  # the baseline's runs only
    assert check["per_seed"][0]["fall"] == pytest.approx(0.5) and check["per_seed"][1]["fall"] == 0.0
    assert check["per_seed"][0]["last_window"] == pytest.approx(1.2)  # at the limit: counts as collapsed
    assert check["mean_fall"] == pytest.approx(0.25) and check["collapsed"]
    assert "collapsed" in report.format_collapse(check) and "falling by 0.25" in report.format_collapse(check)
    rows[1]["distinct_correct_over_training"] = flat_high  # one seed still spread: not collapsed
    assert not report.collapse_check(rows)["collapsed"]
    assert "NOT COLLAPSED" in report.format_collapse(report.collapse_check(rows))
    rows[1]["distinct_correct_over_training"] = {str(step): 0.5 + 0.01 * step for step in range(1, 21)}  # rising
    assert report.collapse_check(rows)["collapsed"] and report.collapse_check(rows)["mean_fall"] < 0.25
    for row in rows:
        row["distinct_correct_over_training"] = {"1": 2.0, "2": 1.0}
    assert report.collapse_check(rows) is None and "not checked" in report.format_collapse(None)


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
    assert "CPU only, also on a GPU machine" in text and "about 20-26 minutes" in text and "about 3 minutes" in text
    assert "--seeds 0 1 2 3 4 5" in text  # the command behind the README's per-seed table
