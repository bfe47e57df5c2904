"""verl's v1 trainer on CPU with rows from verl's real multi-turn tool agent loop, end to end.

Every row of the toy data names ``tool_agent`` in its ``agent_name`` column. The harness's
rollout server answers with the scripted policy of ``cpu_harness.toy_tool_agent`` (a random tiny
model never writes a tool call): turn 1 writes a hermes ``<tool_call>`` for the ``add`` tool, in
one of three wordings; verl's ``ToolAgentLoop`` parses it, runs the real tool of
``cpu_harness/toy_tools.py`` and appends its ``OBSERVATION: <sum>`` through the chat template
(response_mask 0); turn 2 reads the observation and answers. A ``custom`` strategy backend
records the texts poly_epo hands it, so the test sees what backends read.

    pytest -m slow tests/e2e/test_tool_agent_cpu.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_main_ppo_cpu import _check_run, _require_trainer, _run_trainer, rollout_dumps

from polyepo_plugin.cpu_harness.console import step_metrics
from polyepo_plugin.cpu_harness.toy_tool_agent import OBSERVATION, WORDINGS, wording_of

STEPS = 2
GROUPS = 4  # data.train_batch_size of cpu_overrides

RECORDING_BACKEND = """
import json
from polyepo_plugin.cpu_harness.toy_tool_agent import wording_of

def label_strategies(prompt, responses):
    with open({record!r}, "a") as record:
        record.write(json.dumps({{"prompt": prompt, "responses": responses}}) + "\\n")
    return [wording_of(response) for response in responses]
"""


def recording_backend(tmp_path: Path) -> tuple[list[str], Path]:
    """Overrides for a ``custom`` backend that appends each group it labels to a JSONL file."""
    record, path = tmp_path / "backend_inputs.jsonl", tmp_path / "recording_backend.py"
    path.write_text(RECORDING_BACKEND.format(record=str(record)))
    return [
        "+algorithm.poly_epo.diversity.backend=custom",
        f"+algorithm.poly_epo.diversity.custom.path={path}",
    ], record


def check_tool_calls_in_responses(tmp_path: Path) -> None:
    """verl's dump of each step decodes whole responses: turn 1's call, the tool's observation
    of the right sum, and turn 2, in every row."""
    dumps = rollout_dumps(tmp_path)
    assert len(dumps) == STEPS
    for rows in dumps:
        assert len(rows) == GROUPS * 4
        for row in rows:
            call = re.search(r"<tool_call>(.*?)</tool_call>", row["output"])
            assert call, f"no tool call in the response: {row['output']!r}"
            arguments = json.loads(call.group(1))["arguments"]
            assert f"{OBSERVATION} {arguments['a'] + arguments['b']}" in row["output"], row["output"]
            assert "answer is" in row["output"].split(OBSERVATION)[1], row["output"]


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["poly_epo", "grpo"])
def test_v1_trainer_on_rows_of_verls_tool_agent_loop(tmp_path, estimator):
    _require_trainer(use_v1=True)
    backend, record = recording_backend(tmp_path) if estimator == "poly_epo" else ([], None)
    proc = _run_trainer(tmp_path, estimator, STEPS, use_v1=True, extra=backend, tool_agent=True)
    _check_run(proc, tmp_path, steps=STEPS, dumps_extra_info=False)
    check_tool_calls_in_responses(tmp_path)
    metrics = step_metrics(proc.stdout)
    if estimator == "grpo":
        assert not any(key.startswith("poly_epo/") for key in metrics[STEPS])
        return

    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(calls) == STEPS * GROUPS, f"the backend labelled {len(calls)} groups in {STEPS} steps"
    for step in range(1, STEPS + 1):
        m = metrics[step]
        assert m["poly_epo/groups"] == GROUPS and m["poly_epo/skipped_groups"] == 0
        groups = calls[(step - 1) * GROUPS : step * GROUPS]
        expected = sum(len({wording_of(r) for r in group["responses"]}) for group in groups) / GROUPS
        assert m["poly_epo/distinct_strategies_mean"] == pytest.approx(expected)
    for group in calls:
        assert re.fullmatch(r"user\nAdd \d+ and \d+\nassistant\n", group["prompt"]), group["prompt"]
        for response in group["responses"]:
            # The model's two turns, a line each; the tool's turn (response_mask 0) is not read.
            first, second = response.split("\n")
            assert wording_of(first) in range(len(WORDINGS)) and "<tool_call>" in first, response
            assert re.search(r"answer is -?\d+\.$", second), response
            assert OBSERVATION not in response and "tool\n" not in response, response
