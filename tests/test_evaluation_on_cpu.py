"""The evaluation tool: pass@k and majority@k against brute force, answer extraction, the token
budget and its truncation report, and ``polyepo-eval`` end to end on a
tiny model built here (a few SFT steps, seconds)."""

from __future__ import annotations

import ast
import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from polyepo_plugin import evaluation
from polyepo_plugin.demo import base_policy, task
from polyepo_plugin.evaluation import cli, sampling, scoring, stats

EVALUATION_DIR = Path(evaluation.__file__).resolve().parent


# ----------------------------------------------------------------------------- pass@k


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


# ----------------------------------------------------------------------------- majority@k


def brute_majority_at_k(answers, correct, k) -> float:
    """Every k-subset: the answers with most votes (no answer: no vote) split the subset's credit
    equally; an answer is correct when more than half of all N samples giving it are."""
    members = {}
    for a, ok in zip(answers, correct):
        if a is not None:
            members.setdefault(a, []).append(ok)
    right = {a: sum(oks) > len(oks) / 2 for a, oks in members.items()}
    total = 0.0
    subsets = list(itertools.combinations(range(len(answers)), k))
    for subset in subsets:
        votes = Counter(answers[i] for i in subset if answers[i] is not None)
        if votes:
            top = max(votes.values())
            winners = [a for a, v in votes.items() if v == top]
            total += sum(right[a] for a in winners) / len(winners)
    return total / len(subsets)


def test_majority_at_k_hand_computed():
    # "2": 3 samples, 2 correct -> correct; "3": 2 samples, both wrong; one sample without an answer.
    answers = ["2", "2", "2", "3", "3", None]
    correct = [True, True, False, False, False, False]
    assert evaluation.majority_at_k(answers, correct, 6) == 1.0  # 3 votes to 2
    assert evaluation.majority_at_k(answers, correct, 1) == pytest.approx(3 / 6)
    # k=2, 15 pairs: 3 "2"+"2" (1 each), 6 "2"+"3" (a tie: 1/2 each), 3 "2"+none (1), 1 "3"+"3", 2 "3"+none
    assert evaluation.majority_at_k(answers, correct, 2) == pytest.approx((3 + 6 * 0.5 + 3) / 15)
    assert evaluation.majority_at_k([None, None, None], [True, False, True], 2) == 0.0
    assert evaluation.majority_at_k(["a", "b"], [True, False], 2) == pytest.approx(0.5)  # a tie


def test_majority_correctness_does_not_depend_on_which_sample_was_scored_last():
    # The last "2" scored wrong, but most "2" samples are right: "2" is a correct answer.
    assert evaluation.majority_at_k(["2", "2", "2", "3"], [True, True, False, False], 4) == 1.0
    assert evaluation.majority_at_k(["2", "2", "2", "3"], [False, True, True, False], 4) == 1.0
    # Half right is not a majority: "2" counts as wrong whatever the order.
    for order in itertools.permutations(range(3)):
        answers = [["2", "2", "3"][i] for i in order]
        correct = [[True, False, False][i] for i in order]
        assert evaluation.majority_at_k(answers, correct, 3) == 0.0


def test_majority_at_k_matches_brute_force_and_ignores_sample_order():
    rng = random.Random(3)
    for _ in range(60):
        n = rng.randint(1, 7)
        answers = [rng.choice(["a", "b", "c", None]) for _ in range(n)]
        correct = [rng.random() < 0.5 for _ in range(n)]
        order = list(range(n))
        rng.shuffle(order)
        for k in range(1, n + 1):
            expected = brute_majority_at_k(answers, correct, k)
            assert evaluation.majority_at_k(answers, correct, k) == pytest.approx(expected, abs=1e-12)
            shuffled = evaluation.majority_at_k([answers[i] for i in order], [correct[i] for i in order], k)
            assert shuffled == pytest.approx(expected, abs=1e-12)


def test_majority_at_k_estimate_when_subsets_are_too_many():
    rng = random.Random(5)
    answers = [rng.choice(["a", "b", "c", None]) for _ in range(12)]
    correct = [a == "b" or (a == "a" and rng.random() < 0.4) for a in answers]
    for k in (3, 5, 8):
        assert math.comb(12, k) > stats.MAJORITY_DRAWS  # sampled, not enumerated
        expected = brute_majority_at_k(answers, correct, k)
        estimate = evaluation.majority_at_k(answers, correct, k)
        assert estimate == pytest.approx(expected, abs=0.1)
        assert evaluation.majority_at_k(answers, correct, k, draws=20000) == pytest.approx(expected, abs=0.02)
        assert evaluation.majority_at_k(answers, correct, k) == estimate  # seeded: reproducible


def test_summary_hand_computed():
    group = {
        "prompt": "p",
        "responses": ["2", "2", "3", "x"],
        "scores": [1, 1, 0, 0],
        "answers": ["2", "2", "3", None],
        "strategies": [2, 2, 3, -1],
        "truncated": [False, False, False, True],
    }
    wrong = {**group, "scores": [0, 0, 0, 0], "truncated": [True, True, True, False]}
    result = evaluation.summarize_groups([group, wrong])
    s = result["summary"]
    assert s["n"] == 4 and s["prompts"] == 2
    assert [p["correct"] for p in result["per_prompt"]] == [2, 0]
    assert [p["mean"] for p in s["pass_at_k"]] == pytest.approx([0.25, 5 / 12, 0.5, 0.5])  # (1 - C(2,k)/C(4,k)) / 2
    assert s["majority_at_k"][-1]["mean"] == pytest.approx(0.5)  # "2" wins both; right in the first only
    # k=2, 6 pairs: "2"+"2" 1, two "2"+"3" ties 1/2 each, two "2"+none 1 each, "3"+none 0; k=3, 4 triples:
    # "2"+"2"+"3" 1, "2"+"2"+none 1, two "2"+"3"+none ties 1/2 each
    assert result["per_prompt"][0]["majority_at_k"] == pytest.approx([2 / 4, 4 / 6, 3 / 4, 1.0])
    assert result["per_prompt"][1]["majority_at_k"] == [0.0] * 4
    assert s["distinct_strategies"]["mean"] == 2  # -1 is degenerate: 2 and 3
    assert s["distinct_correct_strategies"]["mean"] == pytest.approx(0.5)
    assert s["answered_fraction"] == pytest.approx(6 / 8)
    assert s["truncated_fraction"] == pytest.approx(4 / 8)
    assert evaluation.summarize_groups([{**group, "truncated": None}])["summary"]["truncated_fraction"] is None
    # answer classes, when given, say which answers are one answer
    classes = evaluation.summarize_groups(
        [{**group, "answers": ["1/2", "0.5", "3", None], "answer_classes": [0, 0, 1, -1]}]
    )
    assert classes["per_prompt"][0]["majority_at_k"][-1] == 1.0
    with pytest.raises(ValueError, match="same number of samples"):
        evaluation.summarize_groups([group, {**group, "scores": [1]}])


def test_majority_unavailable_when_no_answer_at_all():
    group = {"prompt": "p", "responses": ["?", "?"], "scores": [1, 0], "answers": [None, None], "strategies": [0, 1]}
    result = evaluation.summarize_groups([group, group])
    assert result["summary"]["majority_at_k"] is None
    assert all(p["majority_at_k"] is None for p in result["per_prompt"])
    assert result["summary"]["answered_fraction"] == 0.0
    assert json.loads(json.dumps(result))["summary"]["majority_at_k"] is None  # null in eval.json
    line = cli.format_summary("m", result["summary"], 8)
    assert "majority@2 n/a" in line and "pass@1 0.500" in line
    # one answer anywhere makes it available: prompts without answers then score 0
    mixed = evaluation.summarize_groups([group, {**group, "answers": ["7", None]}])
    assert [p["majority_at_k"] for p in mixed["per_prompt"]] == [[0.0, 0.0], [0.5, 1.0]]


# ----------------------------------------------------------------------------- answers


def score_only(data_source, solution, ground_truth, extra_info=None):
    """A reward that returns no 'pred' (like verl's and the paper recipe's math rewards)."""
    return {"score": float(solution == ground_truth), "strategy": 0}


ROW = {"data_source": "math", "prompt": [{"role": "user", "content": "q"}], "reward_model": {"ground_truth": "1/2"}}


def test_answers_are_extracted_with_math_verify_and_grouped_by_equivalence():
    responses = ["So \\boxed{3}.", "We get \\boxed{\\frac{1}{2}}", "the answer is 0.5", "I am not sure"]
    scores = {"So \\boxed{3}.": 0.0, "We get \\boxed{\\frac{1}{2}}": 1.0, "the answer is 0.5": 1.0}

    def reward(data_source, solution, ground_truth, extra_info=None):
        return {"score": scores.get(solution, 0.0), "strategy": 0}

    (group,) = evaluation.score_groups([ROW], [responses], reward)
    assert group["answers"][0] == "3" and group["answers"][3] is None
    assert group["answers"][1] != group["answers"][2]  # different strings ...
    classes = group["answer_classes"]
    assert classes[1] == classes[2] != classes[0] and classes[3] == -1  # ... one answer
    per_prompt = evaluation.summarize_groups([group])["per_prompt"][0]
    # the wrong "3" comes first, but 1/2 has two votes: the majority of all 4 is right
    assert per_prompt["majority_at_k"][-1] == 1.0
    # the partition does not depend on the order of the responses
    (reversed_group,) = evaluation.score_groups([ROW], [responses[::-1]], reward)
    assert _same_partition(reversed_group["answer_classes"][::-1], classes)


def _same_partition(a, b) -> bool:
    return all((a[i] == a[j]) == (b[i] == b[j]) for i in range(len(a)) for j in range(len(a))) and all(
        (x < 0) == (y < 0) for x, y in zip(a, b)
    )


def test_answers_come_from_the_rewards_pred_when_it_gives_one():
    preds = {"r1": "7", "r2": "7.0", "r3": "[INVALID]", "r4": None, "r5": "x+1"}

    def reward(data_source, solution, ground_truth, extra_info=None):
        return {"score": float(solution == "r1"), "pred": preds[solution], "strategy": 0}

    (group,) = evaluation.score_groups([ROW], [["r1", "r2", "r3", "r4", "r5"]], reward)
    assert group["answers"] == ["7", "7.0", None, None, "x+1"]  # r4's text holds no answer either
    classes = group["answer_classes"]
    assert classes[0] == classes[1] and classes[2] == classes[3] == -1 and classes[4] not in (-1, classes[0])


def test_truncation_warning_threshold():
    assert evaluation.truncation_warning(0.5, 64) is None
    assert evaluation.truncation_warning(None, 64) is None
    warning = evaluation.truncation_warning(0.75, 64, "m")
    assert warning.startswith("WARNING") and "75%" in warning and "64-token" in warning


def test_hit_budget_reads_end_tokens():
    eos = sampling.end_of_sequence_ids([5, 6], 7, None)
    assert eos == {5, 6, 7}
    assert sampling.hit_budget([[1, 2, 3], [1, 5, 0], [7, 0, 0], [4, 4, 6]], eos) == [True, False, False, False]


def test_evaluation_never_imports_verl_itself():
    """verl is reached through polyepo_plugin.integration; the user's reward through user_code."""
    modules = sorted(EVALUATION_DIR.glob("*.py"))
    assert {m.stem for m in modules} >= {"__init__", "stats", "sampling", "scoring", "plots", "cli"}
    for module in modules:
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]
            elif isinstance(node, ast.Attribute) and node.attr == "spec_from_file_location":
                pytest.fail(f"{module.name} loads files itself; use polyepo_plugin.user_code.load_function")
            for name in names:
                assert name != "verl" and not name.startswith("verl."), f"{module.name} imports {name}"
    stats_tree = ast.parse((EVALUATION_DIR / "stats.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(stats_tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(stats_tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"torch", "transformers", "vllm", "polyepo_plugin", "math_verify"}, imported


def test_load_reward_uses_the_shared_loader_and_verls_default(tmp_path):
    from verl.utils.reward_score import default_compute_score

    assert scoring.load_reward(None) is default_compute_score
    assert scoring.load_reward(task.__file__)("", task.response(3, 0), "6")["score"] == 1.0
    with pytest.raises(ValueError, match=r"--reward-path="):
        scoring.load_reward(str(tmp_path / "missing.py"))
    with pytest.raises(ValueError, match=r"--reward-name='nope'"):
        scoring.load_reward(task.__file__, "nope")


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    train, test = task.split_problems(40, 6, seed=0)
    model = base_policy.pretrain(str(root / "model"), train, sft_steps=3, log=lambda *_: None)
    return model, task.write_parquet(test, str(root / "test.parquet"), "test")


def odd_length_reward(data_source, solution, ground_truth, extra_info=None):
    """A reward the test can recompute from the returned responses: right when the length is odd."""
    return {"score": float(len(solution) % 2), "strategy": len(solution) % 3}


def test_evaluate_end_to_end(tiny):
    model, data = tiny
    result = evaluation.evaluate(
        model, data, n=4, reward=odd_length_reward, backend="labels", max_new_tokens=4, progress=False
    )
    s = result["summary"]
    assert s["n"] == 4 and s["prompts"] == 6 and len(s["pass_at_k"]) == 4
    assert result["settings"]["max_new_tokens"] == 4 and result["settings"]["top_k"] == -1
    assert len(result["samples"]) == 5
    for sample, p in zip(result["samples"], result["per_prompt"]):
        assert len(sample["responses"]) == 4
        c = sum(len(r) % 2 for r in sample["responses"])
        assert p["correct"] == c
        assert p["pass_at_k"] == pytest.approx([brute_pass_at_k(4, c, k) for k in range(1, 5)])
        assert p["distinct_strategies"] == len({len(r) % 3 for r in sample["responses"]})
        assert p["distinct_correct_strategies"] == len({len(r) % 3 for r in sample["responses"] if len(r) % 2})
        assert len(sample["truncated"]) == 4
    for k in range(4):
        mean = sum(p["pass_at_k"][k] for p in result["per_prompt"]) / 6
        assert s["pass_at_k"][k]["mean"] == pytest.approx(mean)
    ngram = evaluation.evaluate(
        model, data, n=4, reward=task.compute_score, backend="ngram", max_new_tokens=4, progress=False
    )
    assert ngram["summary"]["prompts"] == 6
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    for sample, p in zip(ngram["samples"], ngram["per_prompt"]):  # strategies from the backend, not the reward
        (again,) = evaluation.score_groups(
            [_row(sample["prompt"])], [sample["responses"]], task.compute_score, "ngram", tokenizer
        )
        assert sample["strategies"] == again["strategies"]
        assert p["distinct_strategies"] == len({label for label in sample["strategies"] if label >= 0})


def _row(prompt: str) -> dict:
    return {
        "data_source": task.DATA_SOURCE,
        "prompt": [{"role": "user", "content": prompt}],
        "reward_model": {"ground_truth": "6"},
    }


def test_truncated_fraction_on_a_tiny_budget(tiny, tmp_path, capsys):
    model, data = tiny
    # One new token: a response ends by the budget unless that token is the end token, which decodes to "".
    result = evaluation.evaluate(model, data, n=4, reward=task.compute_score, max_new_tokens=1, progress=False)
    flags = [t for sample in result["samples"] for t in sample["truncated"]]
    texts = [r for sample in result["samples"] for r in sample["responses"]]
    assert all(text == "" for text, cut in zip(texts, flags) if not cut)
    assert all(cut for text, cut in zip(texts, flags) if text)
    fraction = result["summary"]["truncated_fraction"]
    assert fraction > 0.5  # the SFT'd-for-3-steps model rarely stops after one token
    assert "WARNING" in capsys.readouterr().err
    # The same model with every token an end token: every response ends after its first token.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stopping = tmp_path / "stopping"
    m = AutoModelForCausalLM.from_pretrained(model)
    m.generation_config.eos_token_id = list(range(m.config.vocab_size))
    m.save_pretrained(stopping)
    AutoTokenizer.from_pretrained(model).save_pretrained(stopping)
    stopped = evaluation.evaluate(str(stopping), data, n=4, reward=task.compute_score, max_new_tokens=3, progress=False)
    assert stopped["summary"]["truncated_fraction"] == 0.0
    assert "-token budget" not in capsys.readouterr().err


def test_max_new_tokens_is_required(tiny, capsys):
    model, data = tiny
    with pytest.raises(SystemExit) as exit_info:
        evaluation.main(["--model", model, "--data", data])
    assert exit_info.value.code == 2 and "--max-new-tokens" in capsys.readouterr().err
    with pytest.raises(TypeError, match="max_new_tokens"):
        evaluation.evaluate(model, data, n=2, reward=task.compute_score)


def test_cli_compares_models(tiny, tmp_path, capsys):
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
            "--top-p",
            "0.9",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    results = json.loads((out / "eval.json").read_text())
    assert set(results) == {"a", "b"} and len(results["a"]["summary"]["pass_at_k"]) == 3
    settings = results["a"]["settings"]
    assert (settings["max_new_tokens"], settings["top_p"], settings["top_k"], settings["temperature"]) == (
        4,
        0.9,
        -1,
        1.0,
    )
    assert 0.0 <= results["a"]["summary"]["truncated_fraction"] <= 1.0
    printed = capsys.readouterr().out
    assert printed.count("truncated at 4 tokens:") == 2 and "majority@3" in printed
    assert stats.MAJORITY_AT_K_MEANS in printed  # what majority@k measures, said where it is read
    assert (out / "pass_at_k.png").stat().st_size > 0


def test_reward_strategy_strings_are_told_apart_in_full():
    """Labels sharing a long prefix are still different strategies; None is degenerate."""
    from polyepo_plugin.evaluation import score_groups, summarize_groups

    labels = {"a": "substitution-then-factor", "b": "substitution-then-expand", "c": None}
    row = {"data_source": "toy", "prompt": [{"role": "user", "content": "q"}], "reward_model": {"ground_truth": "1"}}

    def reward(data_source, solution, ground_truth, extra_info=None):
        return {"score": 1.0, "strategy": labels[solution]}

    groups = score_groups([row], [["a", "b", "c", "a"]], reward, "labels")
    assert groups[0]["strategies"][0] == groups[0]["strategies"][3] != groups[0]["strategies"][1]
    assert groups[0]["strategies"][2] == -1
    assert summarize_groups(groups)["per_prompt"][0]["distinct_strategies"] == 2


# ----------------------------------------------------------------------------- checks before sampling


def test_the_default_backend_is_trainings_everywhere():
    import inspect

    from polyepo_plugin.config import DiversityConfig
    from polyepo_plugin.diversity.strategies import label_strategies

    default = DiversityConfig().backend
    assert cli.build_parser().parse_args(["--model", "m", "--data", "d", "--max-new-tokens", "4"]).backend == default
    for function in (evaluation.evaluate, evaluation.score_groups, label_strategies):
        assert inspect.signature(function).parameters["backend"].default == default, function.__name__


POLARIS_REWARD = Path(__file__).resolve().parents[1] / "examples" / "paper_qwen3_4b_polaris" / "math_reward.py"


def test_cli_checks_the_backend_and_the_reward_before_sampling(tiny, tmp_path, capsys):
    """A plain float reward (the recipe's own) with --backend labels, a misspelled backend and a
    bad backend option all stop the command before any model is loaded or sampled."""
    model, data = tiny
    common = ["--model", model, "--data", data, "--n", "2", "--max-new-tokens", "4", "--out", str(tmp_path / "o")]
    cases = [
        (["--backend", "labels", "--reward-path", str(POLARIS_REWARD)], "with no 'strategy'"),
        (["--backend", "ngarm", "--reward-path", task.__file__], "invalid choice: 'ngarm'"),
        (["--backend", "ngram", "--backend-option", "size=3", "--reward-path", task.__file__], "ngram.size"),
    ]
    for flags, message in cases:
        assert_stops_before_sampling(capsys, common + flags, message, tmp_path / "o")


def assert_stops_before_sampling(capsys, argv: list[str], message: str, out: Path) -> None:
    """polyepo-eval exits 2 with ``message`` (no traceback) before loading or sampling any model."""
    with pytest.raises(SystemExit) as exit_info:
        evaluation.main(argv)
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and message in captured.err, captured.err
    assert "Traceback" not in captured.err and "[eval]" not in captured.out  # nothing sampled
    assert "Loading weights" not in captured.err and not out.exists()


def test_evaluate_checks_before_sampling_too(tiny):
    _, data = tiny
    missing = "/nonexistent/model"  # loading it would fail: the checks must come first
    reward = scoring.load_reward(str(POLARIS_REWARD))
    with pytest.raises(ValueError, match="with no 'strategy'.*'semantic' \\(training's default\\)"):
        evaluation.evaluate(missing, data, max_new_tokens=4, reward=reward, backend="labels")
    with pytest.raises(ValueError, match="diversity.backend='ngarm': expected one of"):
        evaluation.evaluate(missing, data, max_new_tokens=4, reward=reward, backend="ngarm")
    with pytest.raises(ValueError, match="must return a number or a dict with a 'score'"):
        evaluation.evaluate(missing, data, max_new_tokens=4, reward=lambda *a: "yes", backend="ngram")


def test_model_names_split_at_the_first_equals_sign():
    assert cli.split_model_spec("rl=/ckpt/lr=1e-6/actor") == ("rl", "/ckpt/lr=1e-6/actor")
    assert cli.split_model_spec("/ckpt/lr=1e-6/actor") == ("actor", "/ckpt/lr=1e-6/actor")  # a path, no name
    assert cli.split_model_spec("Qwen/Qwen3-4B-Base") == ("Qwen3-4B-Base", "Qwen/Qwen3-4B-Base")
    # verl checkpoints are named after their step, merged or not
    assert cli.split_model_spec("ck/exp/global_step_850/actor/merged_hf") == ("step_850", "ck/exp/global_step_850/actor/merged_hf")
    assert cli.split_model_spec("ck/global_step_40/") == ("step_40", "ck/global_step_40/")
    with pytest.raises(ValueError, match="more than one model is named step_850"):
        cli.named_models(["a/global_step_850/actor", "b/global_step_850/actor"])
    assert [n for n, _ in cli.named_models(["grpo=a/global_step_850/actor", "b/global_step_850/actor"])] == [
        "grpo",
        "step_850",
    ]


def test_cli_reads_a_named_model_whose_path_holds_an_equals_sign(tiny, tmp_path):
    import shutil

    model, data = tiny
    path = tmp_path / "ckpt" / "lr=1e-6" / "actor"
    shutil.copytree(model, path)
    out = tmp_path / "eval"
    flags = ["--data", data, "--n", "2", "--max-new-tokens", "3", "--reward-path", task.__file__, "--out", str(out)]
    assert evaluation.main(["--model", f"rl={path}", "--backend", "ngram", *flags]) == 0
    results = json.loads((out / "eval.json").read_text())
    assert list(results) == ["rl"] and results["rl"]["settings"]["model"] == str(path)


def test_help_shows_defaults_and_every_backend():
    from polyepo_plugin.config import DiversityConfig
    from polyepo_plugin.diversity import BUILTIN_BACKENDS

    text = " ".join(cli.build_parser().format_help().split())
    assert f"(default: {DiversityConfig().backend})" in text
    for name in BUILTIN_BACKENDS:  # backends other tests register may be wrapped at a hyphen
        assert f"{name} (" in text, name
    for default in ("(default: 16)", "(default: compute_score)", "(default: 1.0)", "(default: -1)", "(default: 0)"):
        assert default in text, default
    assert "majority@1" in text and "need not equal pass@1" in text


# ----------------------------------------------------------------------------- results that are kept


def copy_model_with_broken_weights(model: str, target: Path) -> str:
    """A model directory that passes the path check (config.json) and fails when loaded."""
    import shutil

    shutil.copytree(model, target)
    for weights in target.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    return str(target)


def test_a_failed_model_is_recorded_and_the_others_are_kept(tiny, tmp_path, capsys):
    """Each model runs in its own process: the broken checkpoint in the middle fails there, its
    error goes into eval.json, and the models before and after it keep their results."""
    import os

    model, data = tiny
    broken = copy_model_with_broken_weights(model, tmp_path / "global_step_9")
    out = tmp_path / "eval"
    common = ["--data", data, "--n", "2", "--max-new-tokens", "3", "--reward-path", task.__file__, "--out", str(out)]
    rc = evaluation.main(["--model", f"base={model}", "--model", broken, "--model", f"again={model}", *common])
    assert rc == 1
    results = json.loads((out / "eval.json").read_text())
    assert list(results) == ["base", "step_9", "again"]
    assert "error" in results["step_9"] and "summary" not in results["step_9"]
    for name in ("base", "again"):
        assert results[name]["summary"]["prompts"] == 6 and results[name]["settings"]["correct_threshold"] == 0.5
    assert (out / "pass_at_k.png").stat().st_size > 0
    captured = capsys.readouterr()
    assert "[eval] step_9: FAILED" in captured.err and "failed: step_9" in captured.err
    assert sorted(os.listdir(out)) == ["eval.json", "pass_at_k.png"]  # no partial file left


def test_every_model_path_and_the_data_are_checked_before_sampling(tiny, tmp_path, capsys):
    model, data = tiny
    not_merged = tmp_path / "global_step_5" / "actor"
    not_merged.mkdir(parents=True)
    (not_merged / "model_world_size_1_rank_0.pt").touch()
    not_parquet = tmp_path / "test.parquet"
    not_parquet.write_text("prompt,answer\n")
    unknown_source = tmp_path / "unknown.parquet"
    import pandas as pd

    frame = pd.read_parquet(data)
    frame["data_source"] = "my_own_task"
    frame.to_parquet(unknown_source)
    out = tmp_path / "o"
    good = ["--model", f"base={model}", "--n", "2", "--max-new-tokens", "3", "--out", str(out)]
    reward = ["--reward-path", task.__file__]
    cases = [
        (["--model", "step_9=BAD", "--data", data, *reward], "--model step_9=BAD: no such directory"),
        (["--model", str(not_merged), "--data", data, *reward], "no config.json"),
        (["--data", str(tmp_path / "missing.parquet"), *reward], "--data: '" + str(tmp_path / "missing.parquet")),
        (["--data", str(not_parquet), *reward], "is not a readable parquet file"),
        (["--data", str(unknown_source)], "data_source 'my_own_task'"),
        (["--data", data, *reward, "--reward-name", "score"], "--reward-name='score'"),
    ]
    for flags, message in cases:
        assert_stops_before_sampling(capsys, good + flags, message, out)
    # verl's default reward has no rule for this data source: the error says what to pass
    assert_stops_before_sampling(capsys, good + ["--data", str(unknown_source)], "pass --reward-path FILE", out)


def partial_credit(data_source, solution, ground_truth, extra_info=None):
    """A reward that never gives more than 0.45 (and 0.1 to an empty response)."""
    return 0.45 if solution.strip() else 0.1


def test_the_correct_threshold_is_an_option_and_warns_when_nothing_reaches_it(tiny, capsys):
    model, data = tiny
    settings = {"n": 2, "reward": partial_credit, "backend": "ngram", "max_new_tokens": 3, "progress": False}
    default = evaluation.evaluate(model, data, **settings)
    assert default["summary"]["pass_at_k"][-1]["mean"] == 0.0
    assert default["settings"]["correct_threshold"] == 0.5 and default["summary"]["max_score"] == 0.45
    warning = capsys.readouterr().err
    assert "no response of" in warning and "--correct-threshold 0.5" in warning and "0.45" in warning
    assert default["warnings"] and "--correct-threshold" in default["warnings"][-1]
    lowered = evaluation.evaluate(model, data, **settings, correct_threshold=0.4)
    per_prompt = [p["correct"] for p in lowered["per_prompt"]]
    expected = [sum(r.strip() != "" for r in s["responses"]) for s in lowered["samples"]]
    assert per_prompt[: len(expected)] == expected and lowered["settings"]["correct_threshold"] == 0.4
    assert "--correct-threshold" not in capsys.readouterr().err
    args = cli.build_parser().parse_args(["--model", "m", "--data", "d", "--max-new-tokens", "4"])
    assert args.correct_threshold == stats.DEFAULT_CORRECT_THRESHOLD == 0.5
    assert (args.tensor_parallel_size, args.gpu_memory_utilization) == (1, 0.9)


def test_help_loads_no_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from polyepo_plugin.evaluation.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--correct-threshold" in result.stdout and "--tensor-parallel-size" in result.stdout
    assert result.stdout.strip().endswith("False"), "polyepo-eval --help imported torch"


def test_pass_at_k_plot_has_whole_k_ticks_and_curves_told_apart():
    """Few samples (k = 1..3) put matplotlib's default ticks at 1.5; identical curves (two
    checkpoints both at pass@k 1.0) must still be told apart by marker and line style."""
    from polyepo_plugin.evaluation.plots import draw_pass_at_k, new_figure

    same = {"n": 3, "pass_at_k": [{"mean": 1.0, "se": 0.0}] * 3}
    fig, ax = new_figure()
    draw_pass_at_k(ax, {"base": same, "step_400": same, "step_850": same})
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    styles = {(line.get_marker(), line.get_linestyle()) for line in ax.get_lines()}
    assert len(styles) == 3
