"""Poly-EPO in TRL's real GRPOTrainer (HF generation on CPU, a tiny local model): the advantages
the loss gets are the set advantages of the step's rewards and labels, across processes too."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from brute_force import marginal_advantages, poly_objective
from transformers import HfArgumentParser
from trl import GRPOConfig
from trl_steps import run, strategy_of, toy_reward

from polyepo_plugin.cpu_harness.tiny_assets import build_tiny_model
from polyepo_plugin.estimator import StepInputs, set_advantages
from polyepo_plugin.diversity.strategies import label_strategies
from polyepo_plugin.trl import PolyEpoGRPOConfig, PolyEpoGRPOTrainer

STEPS_SCRIPT = Path(__file__).with_name("trl_steps.py")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(str(tmp_path_factory.mktemp("trl") / "tiny_qwen2"))


def completion_texts(step):
    return [completion[-1]["content"] for completion in step["completions"]]


def brute_force(step, labels, num_generations, set_size):
    """Each group's marginal set advantages by subset enumeration."""
    out = []
    for start in range(0, len(step["rewards"]), num_generations):
        group = slice(start, start + num_generations)
        out += marginal_advantages(step["rewards"][group], labels[group], set_size, poly_objective)
    return out


def steps_of(out_dir):
    return json.loads((Path(out_dir) / "steps_0.json").read_text())


@pytest.mark.parametrize("estimator", ["poly_epo", "grpo_div"])
def test_the_loss_gets_the_set_advantages_of_the_rewards_and_labels(model_dir, tmp_path, estimator):
    options = {"set_size": 2, "diversity": {"backend": "labels"}}
    settings = {"per_device_train_batch_size": 8, "advantage_estimator": estimator, "poly_epo": options}
    run(str(tmp_path), model_dir, settings)
    steps = steps_of(tmp_path)
    assert len(steps) == 2
    for step in steps:
        labels = [strategy_of(text) for text in completion_texts(step)]
        if estimator == "poly_epo":
            expected = brute_force(step, labels, num_generations=4, set_size=2)
        else:
            inputs = StepInputs(non_tensor_batch={"strategy": labels})
            advantages, _ = set_advantages(
                step["rewards"], [0] * 4 + [1] * 4, options, estimator=estimator, inputs=inputs
            )
            expected = advantages.tolist()
        assert step["advantages"] == pytest.approx(expected, abs=1e-6)
        assert step["logged_advantages"] == pytest.approx(expected, abs=1e-6)  # TRL's completions table
        assert step["metrics"]["poly_epo/groups"] == 2.0
    assert any(abs(a) > 1e-6 for step in steps for a in step["advantages"])


def test_the_labels_backend_stops_when_no_reward_function_logs_labels(model_dir, tmp_path):
    options = {"diversity": {"backend": "labels", "key": "method"}}  # the reward logs "strategy"
    with pytest.raises(ValueError, match=r"logs with log_extra\('method', labels\), one per completion; got none"):
        run(str(tmp_path), model_dir, {"max_steps": 1, "poly_epo": options})


def test_the_default_semantic_backend_labels_while_the_rewards_run(model_dir, tmp_path):
    run(str(tmp_path), model_dir, {"max_steps": 1, "per_device_train_batch_size": 8})
    [step] = steps_of(tmp_path)
    texts = completion_texts(step)
    labels = [label for group in label_strategies([texts[:4], texts[4:]]) for label in group]  # the same backend
    assert step["advantages"] == pytest.approx(brute_force(step, labels, 4, set_size=2), abs=1e-6)
    assert step["metrics"]["poly_epo/diversity_labelled_in_step"] == 0.0  # collected from the early start


@pytest.mark.slow
def test_two_processes_label_each_group_once_and_whole(model_dir, tmp_path):
    """6 rows per process, groups of 4: the middle group of each step is split across processes."""
    seen = tmp_path / "groups_seen"
    options = {"set_size": 2, "diversity": {"backend": "custom", "custom": {"path": str(STEPS_SCRIPT)}}}
    settings = {"per_device_train_batch_size": 6, "poly_epo": options}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531"]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "POLYEPO_GROUPS_SEEN": str(seen)}
    command += [str(STEPS_SCRIPT), str(tmp_path), model_dir, json.dumps(settings)]
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert seen.read_text().split() == ["4"] * 6  # 2 steps x 3 groups, each labelled once with its 4 members
    per_process = [json.loads((tmp_path / f"steps_{rank}.json").read_text()) for rank in (0, 1)]
    for first, second in zip(*per_process):
        assert first["completions"] == second["completions"] and len(first["rewards"]) == 12
        labels = [strategy_of(text) for text in completion_texts(first)]
        expected = brute_force(first, labels, 4, set_size=2)
        assert first["advantages"] == pytest.approx(expected[:6], abs=1e-6)
        assert second["advantages"] == pytest.approx(expected[6:], abs=1e-6)


def test_bad_options_fail_before_the_model_loads(tmp_path):
    missing_model = str(tmp_path / "no-such-model")  # loading it would be an OSError
    with pytest.raises(ValueError, match=r"unknown option\(s\) PolyEpoGRPOConfig.poly_epo.set_sise; valid options"):
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, poly_epo={"set_sise": 2})
    with pytest.raises(ValueError, match=r"advantage_estimator='grpo': expected one of 'poly_epo', 'grpo_div'"):
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, advantage_estimator="grpo")
    with pytest.raises(ValueError, match="set_size=4 gives k=4 with num_generations=4: a set as large as the group"):
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=4, poly_epo={"set_size": 4})
    with pytest.raises(ValueError, match="Use num_generations >= 3"):
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=2)
    plain = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, multi_objective_aggregation="normalize_then_sum")
    with pytest.raises(ValueError, match="use multi_objective_aggregation='sum_then_normalize'"):
        PolyEpoGRPOTrainer(model=missing_model, reward_funcs=toy_reward, args=plain)
    custom = {"diversity": {"backend": "custom", "custom": {"path": str(tmp_path / "labeller.py")}}}
    args = PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, poly_epo=custom)
    with pytest.raises(ValueError, match=r"diversity.custom.path=.*labeller.py': no such file"):
        PolyEpoGRPOTrainer(model=missing_model, reward_funcs=toy_reward, args=args)


def test_options_from_the_command_line(tmp_path):
    command_line = ["--output_dir", str(tmp_path), "--use_cpu", "true", "--advantage_estimator", "grpo_div"]
    command_line += ["--poly_epo", '{"set_size": 3, "diversity": {"backend": "ngram"}}']
    (args,) = HfArgumentParser((PolyEpoGRPOConfig,)).parse_args_into_dataclasses(command_line)
    assert args.advantage_estimator == "grpo_div"
    assert args.poly_epo == {"set_size": 3, "diversity": {"backend": "ngram"}}


def test_the_trl_room_runs_without_verl():
    """TRL users on a machine without verl's stack: nothing on the TRL path imports verl."""
    probe = (
        "import sys, importlib.abc\n"
        "class NoVerl(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'verl' or name.startswith('verl.'):\n"
        "            raise ImportError('verl is not installed here')\n"
        "sys.meta_path.insert(0, NoVerl())\n"
        "from polyepo_plugin.trl import PolyEpoGRPOTrainer\n"
        "from polyepo_plugin.estimator import StepInputs, set_advantages\n"
        "texts = ['factor it', 'factor it again', 'guess seven', 'guess seven now']\n"
        "inputs = StepInputs.from_texts(texts)\n"
        "adv, metrics = set_advantages([1.0, 0.0, 1.0, 0.0], [0, 0, 0, 0], {'diversity': {'backend': 'ngram', "
        "'ngram': {'n': 1}}}, inputs=inputs)\n"
        "print(adv.tolist(), metrics['poly_epo/distinct_strategies_mean'])\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    advantages, distinct = result.stdout.strip().rsplit(" ", 1)
    assert float(distinct) == 2.0
    assert torch.tensor(json.loads(advantages)).abs().sum() > 0


def test_option_errors_name_trls_field_and_scale_rewards_gets_a_note(tmp_path, caplog):
    """A TRL user reads TRL's names: the bad option is PolyEpoGRPOConfig.poly_epo's, never verl's
    algorithm.poly_epo key path; asking TRL to scale rewards gets a word that Poly-EPO ignores it."""
    from polyepo_plugin.trl import trainer as trl_trainer

    for options, named in [
        ({"set_sise": 2}, "PolyEpoGRPOConfig.poly_epo.set_sise"),
        ({"objective": "maxx"}, "PolyEpoGRPOConfig.poly_epo.objective='maxx'"),
        ({"diversity": {"backend": "ngram", "ngram": {"n": 0}}}, "PolyEpoGRPOConfig.poly_epo.diversity.ngram.n"),
    ]:
        with pytest.raises(ValueError) as raised:
            PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, poly_epo=options)
        assert named in str(raised.value) and "algorithm.poly_epo" not in str(raised.value)
    trl_trainer._noted_scale_rewards.clear()
    with caplog.at_level("WARNING", logger="polyepo_plugin.trl.trainer"):
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, scale_rewards="none")
        assert "scale_rewards" not in caplog.text
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, scale_rewards="batch")
        PolyEpoGRPOConfig(output_dir=str(tmp_path), use_cpu=True, scale_rewards="batch")
    assert caplog.text.count("scale_rewards='batch' has no effect on poly_epo") == 1
