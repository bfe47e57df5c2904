"""verl's real trainer (legacy and v1) on CPU with poly_epo and with GRPO, end to end.

Runs ``python -m verl.trainer.main_ppo`` in a subprocess with the opt-in CPU harness
(``VERL_USE_EXTERNAL_MODULES=polyepo_plugin.cpu_harness.activate``), a random tiny Qwen2 and toy
parquet data whose reward function emits a ``strategy`` label, built into ``tmp_path``.
About 1.5 minutes each, mostly Ray start-up.

    pytest -m slow tests/e2e/test_main_ppo_cpu.py -s    (-s prints timing_s/adv against timing_s/step)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from polyepo_plugin.cpu_harness import toy_reward
from polyepo_plugin.cpu_harness.console import step_metrics

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600


def _run_trainer(
    tmp_path: Path,
    estimator: str,
    steps: int,
    use_v1: bool,
    extra: list[str] = (),
    tool_agent: bool = False,
    apart: str | None = None,
) -> subprocess.CompletedProcess:
    """``tool_agent``: every row runs verl's tool agent loop, the rollout server answers with the
    scripted tool-using policy (``toy_tool_agent``) and the reward scores the final answer.
    ``apart``: run that one of ``overrides.APART_TRAINERS`` instead of ``verl.trainer.main_ppo``."""
    if str(REPO_ROOT) not in sys.path:  # the repo may not be installed; the test runs from a checkout
        sys.path.insert(0, str(REPO_ROOT))
    from polyepo_plugin.cpu_harness import overrides, tiny_assets, toy_tool_agent

    paths = tiny_assets.build_all(str(tmp_path / "assets"), agent_name="tool_agent" if tool_agent else None)
    tool_agent_options = (
        # Two turns and the tool's observation, at the tiny tokenizer's ~1.5 characters a token.
        {
            "reward_name": "compute_final_answer_score",
            "max_response_length": 192,
            "function_tool_path": toy_tool_agent.TOOLS_FILE,
        }
        if tool_agent
        else {}
    )
    cmd = [
        sys.executable,
        "-m",
        overrides.APART_TRAINERS[apart] if apart else "verl.trainer.main_ppo",
        f"algorithm.adv_estimator={estimator}",
        *overrides.cpu_overrides(
            paths["model"],
            paths["train"],
            paths["val"],
            paths["reward"],
            steps=steps,
            use_v1=use_v1,
            # verl 0.9.1's one-step-off-policy trainer cannot dump (its __init__ skips the dump
            # executor the dump uses); neither trainer with the rollout apart dumps here.
            rollout_data_dir=None if apart else str(tmp_path / "rollouts"),
            apart=apart,
            **tool_agent_options,
        ),
        *extra,
    ]
    env = dict(os.environ)
    # Ray workers of a local cluster inherit the driver's environment, so both reach them.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env[overrides.ENV_VAR] = overrides.MODULE
    if tool_agent:
        from polyepo_plugin.cpu_harness.hf_rollout import SCRIPT_ENV_VAR

        env[SCRIPT_ENV_VAR] = toy_tool_agent.SCRIPT
    env.setdefault("RAY_DEDUP_LOGS", "0")
    # Output goes to files (kept in tmp_path) so nothing blocks on a pipe that a stray
    # grandchild still holds. Own session, so a hung run can be killed with what it started
    # (Ray's local cluster included) and nothing else on the machine.
    out_path, err_path = tmp_path / "main_ppo.stdout", tmp_path / "main_ppo.stderr"
    timed_out = False
    with open(out_path, "w") as out_f, open(err_path, "w") as err_f:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out_f, stderr=err_f, start_new_session=True)
        try:
            proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out, err = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if timed_out:
        pytest.fail(
            f"main_ppo timed out after {TIMEOUT_S}s\n--- stdout ---\n{out[-20000:]}\n--- stderr ---\n{err[-20000:]}"
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def rollout_dumps(tmp_path: Path) -> list[list[dict]]:
    return [
        [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted((tmp_path / "rollouts").glob("*.jsonl"))
    ]


def _check_run(
    proc: subprocess.CompletedProcess, tmp_path: Path, steps: int, dumps_extra_info: bool | None
) -> None:
    """``dumps_extra_info``: None for a run that dumps no rollouts (``_run_trainer(apart=...)``)."""
    log = f"--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-20000:]}"
    assert proc.returncode == 0, f"main_ppo exited {proc.returncode}\n{log}"
    assert f"training/global_step:{steps}" in proc.stdout, f"no step-{steps} metrics in stdout\n{log}"
    assert "critic/score/mean" in proc.stdout, f"no reward metrics in stdout\n{log}"
    if dumps_extra_info is None:
        return
    # verl dumps one JSONL per step. The legacy trainer adds each reward-extra key (the toy
    # reward's `strategy`) as a column; v1 keeps them inside extra_fields and dumps score only.
    dumps = sorted((tmp_path / "rollouts").glob("*.jsonl"))
    assert len(dumps) == steps, f"expected {steps} rollout dumps, got {dumps}\n{log}"
    first = json.loads(dumps[0].read_text().splitlines()[0])
    assert "score" in first, f"score missing from rollout dump: {sorted(first)}"
    if dumps_extra_info:
        assert "strategy" in first, f"reward extra info missing from rollout dump: {sorted(first)}"


def _skip_on_cuda() -> None:
    pytest.importorskip("verl")
    import torch

    if torch.cuda.is_available():
        pytest.skip("CPU harness is inert when CUDA is available")


TRAINERS = [pytest.param(False, id="legacy"), pytest.param(True, id="v1")]


def _require_trainer(use_v1: bool) -> None:
    _skip_on_cuda()
    if use_v1:
        pytest.importorskip("transfer_queue", reason="v1 trainer needs `pip install TransferQueue`")


def _report_timing(name: str, metrics: dict[int, dict[str, float]]) -> None:
    last = metrics[max(metrics)]
    print(f"\n{name}: timing_s/adv={last['timing_s/adv']:.4f} timing_s/step={last['timing_s/step']:.3f} (last step)")


@pytest.mark.slow
@pytest.mark.parametrize("use_v1", TRAINERS)
def test_main_ppo_poly_epo_with_reward_labels(tmp_path, use_v1):
    """The strategies the reward function emits reach poly_epo: its per-step count of distinct
    strategies equals the one recomputed from verl's own dump of that step's rollouts."""
    _require_trainer(use_v1)
    proc = _run_trainer(
        tmp_path, estimator="poly_epo", steps=2, use_v1=use_v1, extra=["+algorithm.poly_epo.diversity.backend=labels"]
    )
    _check_run(proc, tmp_path, steps=2, dumps_extra_info=not use_v1)
    metrics = step_metrics(proc.stdout)
    for step in (1, 2):
        m = metrics[step]
        assert m["poly_epo/groups"] == 4 and m["poly_epo/skipped_groups"] == 0
        assert 0 <= m["poly_epo/zero_advantage_group_fraction"] <= 1
        assert m["poly_epo/set_size_mean"] == 2  # auto: half of rollout.n=4
        assert 0 <= m["poly_epo/distinct_correct_strategies_mean"] <= m["poly_epo/distinct_strategies_mean"] <= 3
    for step, rows in enumerate(rollout_dumps(tmp_path), start=1):
        by_prompt: dict[str, set] = {}
        for row in rows:
            # The legacy dump carries the reward's label; v1 dumps the text, which the reward labelled.
            strategy = row["strategy"] if not use_v1 else toy_reward.strategy_of(row["output"])
            by_prompt.setdefault(row["input"], set()).update([strategy] if strategy >= 0 else [])
        assert len(by_prompt) == 4, "the toy prompts of a batch must be distinct for this check"
        expected = sum(len(s) for s in by_prompt.values()) / len(by_prompt)
        assert metrics[step]["poly_epo/distinct_strategies_mean"] == pytest.approx(expected)
    _report_timing(f"poly_epo labels ({'v1' if use_v1 else 'legacy'})", metrics)


@pytest.mark.slow
def test_main_ppo_poly_epo_default_options(tmp_path):
    """Only algorithm.adv_estimator=poly_epo: the default (semantic) backend reads the decoded responses."""
    _require_trainer(False)
    proc = _run_trainer(tmp_path, estimator="poly_epo", steps=2, use_v1=False)
    _check_run(proc, tmp_path, steps=2, dumps_extra_info=True)
    metrics = step_metrics(proc.stdout)
    assert all(metrics[s]["poly_epo/distinct_strategies_mean"] >= 1 for s in (1, 2))


@pytest.mark.slow
@pytest.mark.parametrize("use_v1", TRAINERS)
def test_main_ppo_grpo_still_runs(tmp_path, use_v1):
    _require_trainer(use_v1)
    proc = _run_trainer(tmp_path, estimator="grpo", steps=2, use_v1=use_v1)
    _check_run(proc, tmp_path, steps=2, dumps_extra_info=not use_v1)
    metrics = step_metrics(proc.stdout)
    assert not any(key.startswith("poly_epo/") for key in metrics[2])
    _report_timing(f"grpo ({'v1' if use_v1 else 'legacy'})", metrics)


@pytest.mark.slow
def test_misconfigured_poly_epo_stops_before_models_load(tmp_path):
    _require_trainer(False)
    proc = _run_trainer(tmp_path, estimator="poly_epo", steps=2, use_v1=False, extra=["+algorithm.poly_epo.set_size=4"])
    assert proc.returncode != 0
    assert "set_size=4 gives k=4 with actor_rollout_ref.rollout.n=4" in proc.stdout + proc.stderr
    assert "(WorkerDict" not in proc.stdout  # stopped in the trainer's constructor: no worker, no model


@pytest.mark.slow
def test_a_misnamed_judge_model_stops_the_run_before_models_load(tmp_path):
    """Before, the run trained to the end on n-gram labels: every chat request failed."""
    from fake_judge import FakeJudge

    _require_trainer(False)
    with FakeJudge(models=("judge-4b",)) as judge:
        extra = [
            "+algorithm.poly_epo.diversity.backend=judge",
            f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
            "+algorithm.poly_epo.diversity.judge.model=judge-4B",
        ]
        proc = _run_trainer(tmp_path, estimator="poly_epo", steps=2, use_v1=False, extra=extra)
    assert proc.returncode != 0
    assert "does not serve model 'judge-4B'; it serves: 'judge-4b'" in proc.stdout + proc.stderr
    assert "(WorkerDict" not in proc.stdout
    assert judge.prompts == []
