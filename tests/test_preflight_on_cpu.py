"""polyepo-check: a run's start-up checks on CPU, from the overrides the run gets, before any
cluster exists. It composes verl's real config and calls the trainer constructor's own check
(``checks.validate_run``), so it fails exactly where the run would, with the run's message."""

import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fake_judge import FakeJudge

from polyepo_plugin import config as config_module
from polyepo_plugin.integration import preflight
from polyepo_plugin.integration.checks import validate_run

REPO = Path(__file__).resolve().parents[1]
RUN = [
    "algorithm.adv_estimator=poly_epo",
    "actor_rollout_ref.rollout.n=8",
    "actor_rollout_ref.actor.use_dynamic_bsz=True",  # verl requires a micro-batch setting; this is the recipes'
    "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True",
    "++algorithm.poly_epo.diversity.backend=ngram",  # quick: the default (semantic) loads MiniLM
]


def check(capsys, *overrides: str) -> tuple[int, str, str]:
    code = preflight.main(list(overrides))
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


def test_a_good_run_passes_with_what_it_will_train(capsys):
    code, out, err = check(capsys, *RUN, "++algorithm.poly_epo.set_size=4")
    assert code == 0, err
    assert "polyepo-check: ok" in err and "rollout.n=8, set size k=4" in err and "PPOTrainerSync" in err
    assert out == ""  # stdout carries only the launch command, when asked for


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["++algorithm.poly_epo.sett_size=3"], "unknown option(s) algorithm.poly_epo.sett_size"),
        (["++algorithm.poly_epo.set_size=8"], "a set as large as the group"),
        (["++algorithm.poly_epo.diversity.backend=judgee"], "judgee"),
    ],
)
def test_a_bad_option_fails_with_the_trainers_own_message(capsys, overrides, message):
    code, out, err = check(capsys, *RUN, *overrides)
    assert code == 1 and out == ""
    with pytest.raises(ValueError) as raised:  # what the trainer's constructor raises on this config
        validate_run(preflight.compose_run_config([*RUN, *overrides]))
    assert message in str(raised.value)
    assert f"polyepo-check: FAILED: {raised.value}" in err


def test_the_trainer_and_mode_are_checked(capsys):
    code, _, err = check(capsys, *RUN, "trainer.v1.trainer_mode=synch")
    assert code == 1 and "Unknown trainer 'synch'" in err
    code, _, err = check(capsys, *RUN, "trainer.use_v1=false")
    assert code == 0 and "trainer verl.trainer.ppo.ray_trainer.RayPPOTrainer" in err


def test_a_key_missing_from_verls_config_fails_as_hydra_does(capsys):
    code, _, err = check(capsys, *RUN, "algorithm.poly_epo.set_size=3")
    assert code == 1 and "Could not override 'algorithm.poly_epo.set_size'" in err


def test_the_judge_is_asked_only_when_reach_judge_is_given(capsys):
    unreachable = [
        *RUN,
        "++algorithm.poly_epo.diversity.backend=judge",
        f"++algorithm.poly_epo.diversity.judge.base_url=http://127.0.0.1:{closed_port()}/v1",
        "++algorithm.poly_epo.diversity.judge.startup_wait_s=0",  # else a closed port is waited for 300 s
    ]
    code, _, err = check(capsys, *unreachable)
    assert code == 0 and "endpoint not asked: add --reach-judge" in err
    code, _, err = check(capsys, "--reach-judge", *unreachable)
    assert code == 1 and "the judge endpoint is unreachable" in err
    with FakeJudge() as judge:
        reachable = [
            *RUN,
            "++algorithm.poly_epo.diversity.backend=judge",
            f"++algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
        ]
        code, _, err = check(capsys, "--reach-judge", *reachable)
        assert code == 0, err
        assert judge.requests  # it was asked


def test_print_launch_gives_one_pasteable_command(capsys):
    overrides = [*RUN, "trainer.logger=[console,wandb]", "++algorithm.poly_epo.set_size=4"]
    code, out, _ = check(capsys, "--print-launch", "python3", *overrides)
    assert code == 0
    echoed = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + out.split(" ", 3)[3]], check=True, capture_output=True, text=True
    )
    assert out.startswith("python3 -m verl.trainer.main_ppo \\\n")
    assert echoed.stdout.splitlines() == overrides  # bash reads back exactly the overrides


def test_the_options_are_parsed_once_per_check(capsys, monkeypatch):
    """One parse feeds every check and note (the backend, the set size, the notes)."""
    parses = []
    parse = config_module._parse_section

    def counted(section):
        parses.append(section)
        return parse(section)

    monkeypatch.setattr(config_module, "_parse_section", counted)
    code, _, err = check(capsys, *RUN, "++algorithm.poly_epo.set_size=1")  # the set-size note reads the options too
    assert code == 0, err
    assert len(parses) == 1


def test_polyepo_check_is_a_console_script_and_a_module():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["polyepo-check"] == "polyepo_plugin.integration.preflight:main"
    result = subprocess.run(
        [sys.executable, "-m", "polyepo_plugin.integration.preflight", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--reach-judge" in result.stdout


def test_the_readme_gives_the_second_day_in_order():
    """Check (polyepo-check, the dry run), launch, then evaluate the base model and checkpoints."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Check, launch, evaluate") :]
    section = section[: section.index("\n## ", 1)]
    steps = ["polyepo-check", "POLYEPO_DRY_RUN=1 bash", "**Launch**", "evaluate.sh BASE CKPT1", "--model base="]
    positions = [section.index(step) for step in steps]
    assert positions == sorted(positions)
    # the failure the section shows is the one the check prints
    typo = ["++algorithm.poly_epo.sett_size=3"]
    with pytest.raises(ValueError) as raised:
        validate_run(preflight.compose_run_config([*RUN, *typo]))
    assert str(raised.value).split(";")[0] in section
