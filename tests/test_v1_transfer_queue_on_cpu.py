"""The v1 trainer's advantage step with a real TransferQueue: stock verl (runtime wrappers)
and verl patched with patches/ (native support) both hand poly_epo the groups' responses and
reward extra info, and write back what the reference computes (see v1_advantage_probe.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transfer_queue", reason="the v1 trainer needs TransferQueue (installed by .ci/install.sh)")

PROBE = Path(__file__).with_name("v1_advantage_probe.py")


@pytest.fixture(scope="module")
def stock_report():
    return run_probe()


def run_probe(pythonpath=None):
    env = dict(os.environ)
    paths = [str(PROBE.parent)] + ([str(pythonpath)] if pythonpath else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    result = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True, env=env, timeout=300, cwd="/")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_written(got, groups):
    assert got["constant_per_response"]
    assert got["written"] == pytest.approx(got["expected"], abs=1e-6)
    assert any(abs(a) > 1e-6 for a in got["written"])
    assert got["metrics"]["poly_epo/groups"] == groups


def check_single_output(report):
    for backend in ("labels", "ngram"):
        check_written(report[backend], groups=3)
    assert report["labels"]["metrics"]["poly_epo/distinct_strategies_mean"] == 3  # labels 0,1,2 reached it
    assert report["ngram"]["metrics"]["poly_epo/distinct_strategies_mean"] >= 2


def test_stock_v1_with_runtime_integration(stock_report):
    check_single_output(stock_report)


def test_multi_output_sessions_group_by_their_final_output(stock_report):
    """Brute force over each session's final output, broadcast to the session's rows; tagged
    padding rows join no group even without the 'pad' uid prefix."""
    got = stock_report["multi_output"]
    check_written(got, groups=2)
    assert got["metrics"]["poly_epo/padding_rows"] == 2
    assert got["metrics"]["poly_epo/set_size_mean"] == 2  # 4 sessions per group, not 5-6 rows


def test_reward_extra_info_stored_as_top_level_fields_is_read(stock_report):
    check_written(stock_report["colocated"], groups=3)


def test_a_decoding_backend_reads_text_through_the_real_tokenizer(stock_report):
    check_written(stock_report["custom"], groups=3)
    assert stock_report["custom"]["metrics"]["poly_epo/distinct_strategies_mean"] == 3  # Add, answer, number


def test_judge_labelling_starts_at_balance_batch_and_is_collected_by_key(stock_report):
    got = stock_report["judge_early"]
    check_written(got, groups=3)  # the judge labels by first word, as the custom backend did
    metrics = got["metrics"]
    assert got["requests"] == 3  # one request per group, none at the advantage stage
    assert metrics["poly_epo/diversity_labelled_in_step"] == 0
    assert metrics["poly_epo/diversity_latency_s"] >= 0.8
    assert metrics["poly_epo/diversity_wait_s"] < 0.25 * metrics["poly_epo/diversity_latency_s"]


def test_rows_permuted_inside_a_group_stop_the_step(stock_report):
    message = stock_report["permuted"]["raised"]
    assert message is not None and "do not line up" in message and "row 0" in message


def test_v1_patched_with_the_upstream_patch(patched_verl):
    report = run_probe(pythonpath=patched_verl)
    check_single_output(report)
    # The patch groups sessions like the runtime path (padding: by the 'pad' prefix only there,
    # so only the real groups are compared).
    multi = report["multi_output"]
    real = [i for i, e in enumerate(multi["expected"]) if i < len(multi["expected"]) - 2]
    assert [multi["written"][i] for i in real] == pytest.approx([multi["expected"][i] for i in real], abs=1e-6)


# Rows as verl's v1 writes them in ordinary runs (see agent_loop_cases in the probe).


def agent_loop(report, case):
    got = report["agent_loop"][case]
    assert "error" not in got, got.get("error")
    return got


def test_verl_padding_rows_join_no_group_under_grpo_and_poly_epo(stock_report):
    case = agent_loop(stock_report, "verl_padding")
    for name in ("grpo", "labels", "ngram"):
        padding = case["padding"][name]
        assert len(padding) == 4  # 12 rows to a multiple of 8
        assert all(case["written"][name][key] == 0 for key in padding)
    for name in ("labels", "ngram"):
        real = case["expected"][name]
        assert [case["written"][name][key] for key in real] == pytest.approx(list(real.values()), abs=1e-6)
        assert case[f"{name}_metrics"]["poly_epo/padding_rows"] == 4
        assert case[f"{name}_metrics"]["poly_epo/groups"] == 3
    assert "do not line up" in case["permuted"]


def test_tool_turns_are_left_out_of_what_backends_read(stock_report):
    case = agent_loop(stock_report, "tool_rows")
    assert "written" in case["grpo"]
    assert sorted(case["custom"]["seen"]) == sorted(case["texts"])  # the model's turns, a line each
    assert not any("OBSERVATION" in text for text in case["custom"]["seen"])
    for name in ("custom", "ngram", "judge"):
        check_written(case[name], groups=2)
    judged = "\n".join(case["judge"]["prompts"])
    assert "OBSERVATION" not in judged
    assert all(text in judged for text in case["texts"])
    assert case["judge"]["metrics"]["poly_epo/diversity_labelled_in_step"] == 0
    assert "do not line up" in case["permuted"]


def test_intermediate_outputs_longer_than_every_final_one(stock_report):
    case = agent_loop(stock_report, "long_intermediate")
    assert "written" in case["grpo"]
    check_written(case["ngram"], groups=2)
    assert "do not line up" in case["permuted"]


def test_rejection_sampling_keeps_rows_their_group_text_and_early_labels(stock_report):
    """A fully rejected row trains on nothing but still counts in its group, as under GRPO."""
    case = agent_loop(stock_report, "rejection")
    rejected = [i for i, n in enumerate(case["ngram"]["trained_tokens"]) if n == 0]
    assert len(rejected) == 2 and case["grpo"]["trained_tokens"] == case["ngram"]["trained_tokens"]
    written, expected = case["ngram"]["written"], case["ngram"]["expected"]
    assert [written[i] for i in rejected] == [0, 0]
    kept = [i for i in range(len(written)) if i not in rejected]
    assert [written[i] for i in kept] == pytest.approx([expected[i] for i in kept], abs=1e-6)
    assert any(abs(expected[i]) > 1e-6 for i in rejected)  # the rejected rows had a value of their own
    judge = case["judge"]
    assert judge["requests"] == 3 and judge["metrics"]["poly_epo/diversity_labelled_in_step"] == 0
    assert "do not line up" in case["permuted"]


def test_a_step_that_raises_leaves_no_labelling_running(stock_report):
    case = agent_loop(stock_report, "raising_step")
    assert "non-finite rewards" in case["raised"]
    assert not case["labelling_running"]  # the judge's 20 s answer was not left in flight


def test_groups_finished_between_steps_are_labelled_as_they_finish(stock_report):
    """The asynchronous modes: no replay buffer poll runs while the trainer updates, so the
    watch thread starts each finished group; the steps that sample them through verl's replay
    buffer wait for none, and a group left for the next step is not sent to the judge again."""
    got = stock_report["watched"]
    assert got["while_running"] == 0  # a group is labelled only once its prompt is finished
    assert got["first_finished"] == 2  # the two finished groups, before the third was
    for step, groups in zip(got["steps"], (2, 1)):
        check_written(step, groups=groups)
        metrics = step["metrics"]
        assert metrics["poly_epo/diversity_relabelled_groups"] == 0
        assert metrics["poly_epo/diversity_labelled_in_step"] == 0
        assert metrics["poly_epo/diversity_wait_s"] < 0.25 * metrics["poly_epo/diversity_latency_s"]
    assert got["requests"] == 3  # one per group over both steps
