"""verl's real compute_advantage and config with the trainer integration installed."""

import logging
import os

import numpy as np
import pytest
import torch
import verl
from hydra import compose, initialize_config_dir
from verl import DataProto
from verl.trainer.ppo import ray_trainer

from fake_judge import FakeJudge

from polyepo_plugin.integration import legacy, notes, patching
from polyepo_plugin.integration.checks import validate_run
from polyepo_plugin.estimator import compute_grpo_div_advantage, compute_poly_epo_advantage

VERL_CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")


def verl_config(*overrides):
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        return compose("ppo_trainer", overrides=list(overrides))


def legacy_batch(groups=4, n=6, width=10, seed=0):
    """A DataProto as the legacy trainer holds it at advantage time (reward extra info included)."""
    g = torch.Generator().manual_seed(seed)
    rows = groups * n
    responses = torch.randint(3, 40, (rows, width), generator=g)
    lengths = torch.randint(2, width + 1, (rows,), generator=g)
    response_mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    scores = torch.randint(0, 2, (rows,), generator=g).float()
    token_level_rewards = torch.zeros(rows, width)
    token_level_rewards[torch.arange(rows), lengths - 1] = scores
    uids = np.array([f"prompt-{i // n}" for i in range(rows)], dtype=object)
    strategy = np.array([int(s) for s in torch.randint(-1, 3, (rows,), generator=g)])
    data = DataProto.from_dict(
        tensors={
            "responses": responses,
            "response_mask": response_mask,
            "token_level_rewards": token_level_rewards,
            "token_level_scores": token_level_rewards.clone(),
            "prompts": torch.randint(3, 40, (rows, 5), generator=g),
            "attention_mask": torch.cat([torch.ones(rows, 5, dtype=torch.long), response_mask], dim=1),
        },
        non_tensors={"uid": uids, "strategy": strategy, "acc": scores.numpy()},
    )
    return data


@pytest.mark.parametrize("estimator", ["poly_epo", "grpo_div"])
@pytest.mark.parametrize("backend", ["labels", "ngram"])
def test_legacy_compute_advantage_hands_the_batch_to_the_estimator(estimator, backend):
    data = legacy_batch()
    config = verl_config(f"algorithm.adv_estimator={estimator}", f"+algorithm.poly_epo.diversity.backend={backend}")
    out = ray_trainer.compute_advantage(data, adv_estimator=estimator, config=config.algorithm)
    compute = {"poly_epo": compute_poly_epo_advantage, "grpo_div": compute_grpo_div_advantage}[estimator]
    batch, extra = data.batch, data.non_tensor_batch
    expected, _ = compute(
        batch["token_level_rewards"],
        batch["response_mask"],
        extra["uid"],
        config.algorithm,
        batch=batch,
        non_tensor_batch=extra,
    )
    assert torch.allclose(out.batch["advantages"], expected)
    assert out.batch["advantages"].abs().sum() > 0
    metrics = ray_trainer.compute_data_metrics(batch=out, use_critic=False)
    assert metrics["poly_epo/groups"] == 4
    assert 1 <= metrics["poly_epo/distinct_strategies_mean"] <= 6


def test_labels_reach_the_estimator_from_reward_extra_info():
    """Changing only the labels changes the advantages: they are read, not defaulted."""
    config = verl_config("algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=labels").algorithm
    data = legacy_batch()
    relabelled = legacy_batch()
    relabelled.non_tensor_batch["strategy"] = np.arange(len(relabelled))  # all distinct
    a = ray_trainer.compute_advantage(data, adv_estimator="poly_epo", config=config).batch["advantages"]
    b = ray_trainer.compute_advantage(relabelled, adv_estimator="poly_epo", config=config).batch["advantages"]
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("estimator", ["grpo", "grpo_vectorized", "rloo"])
def test_other_estimators_see_what_they_saw_before(estimator):
    config = verl_config(f"algorithm.adv_estimator={estimator}").algorithm
    unpatched = ray_trainer.compute_advantage.__wrapped__
    a = ray_trainer.compute_advantage(legacy_batch(), adv_estimator=estimator, config=config)
    b = unpatched(legacy_batch(), adv_estimator=estimator, config=config)
    assert torch.equal(a.batch["advantages"], b.batch["advantages"])
    assert legacy.METRICS_META_KEY not in a.meta_info


def test_trainer_modules_are_patched_once_without_problems():
    import verl.experimental.separation.ray_trainer as separation
    import verl.trainer.ppo.v1.trainer_base as v1_base
    import verl.trainer.ppo.v1.utils as v1_utils

    assert patching.problems == []
    for function in (
        ray_trainer.compute_advantage,
        v1_utils.compute_advantage,
        separation.compute_advantage,
        ray_trainer.RayPPOTrainer.__init__,
        ray_trainer.RayPPOTrainer.fit,
        separation.SeparateRayPPOTrainer.fit,
        ray_trainer.RayPPOTrainer.init_workers,
        separation.SeparateRayPPOTrainer.init_workers,
        v1_base.PPOTrainer._setup,
        v1_base.PPOTrainer.__init__,
        v1_base.PPOTrainer._compute_advantage,
        v1_base.compute_advantage_for_multi_trajectories,
        v1_utils.compute_advantage_for_multi_trajectories,
    ):
        assert function.__polyepo_wrapped__
        assert not getattr(function.__wrapped__, "__polyepo_wrapped__", False)


# grpo_div (the GRPO+DIV baseline) forms no sets: a set size that would stop poly_epo is ignored.
@pytest.mark.parametrize("estimator,extra", [("poly_epo", []), ("grpo_div", ["+algorithm.poly_epo.set_size=8"])])
def test_validation_passes_the_paper_settings_quietly(estimator, extra, caplog):
    config = verl_config(
        f"algorithm.adv_estimator={estimator}",
        "actor_rollout_ref.rollout.n=8",
        "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm",
        "actor_rollout_ref.actor.loss_scale_factor=4096",
        *extra,
    )
    with caplog.at_level(logging.WARNING):
        validate_run(config)
    assert caplog.text == ""


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["actor_rollout_ref.rollout.n=4", "+algorithm.poly_epo.set_size=4"],
            "set_size=4 gives k=4 with actor_rollout_ref.rollout.n=4: a set as large as the group",
        ),
        (
            ["actor_rollout_ref.rollout.n=4", "+algorithm.poly_epo.set_size=6"],
            "set_size=6 gives k=6 with actor_rollout_ref.rollout.n=4: no set of 6 responses fits in a group of 4",
        ),
        (
            ["actor_rollout_ref.rollout.n=2"],
            r"set_size=auto gives k=2 with actor_rollout_ref.rollout.n=2: auto sets hold max\(2, n // 2\) responses "
            r".* Use actor_rollout_ref.rollout.n >= 3",
        ),
        (["actor_rollout_ref.rollout.n=1"], "set_size=auto gives k=2 with actor_rollout_ref.rollout.n=1"),
        (["actor_rollout_ref.rollout.n=1", "+algorithm.poly_epo.set_size=1"], "a set as large as the group"),
        (["+algorithm.poly_epo.diversity.judge.temperature=-0.5"], r"judge.temperature=-0.5: expected a number >= 0"),
        (["+algorithm.poly_epo.correct_threshold=nan"], "correct_threshold=nan: expected a finite number"),
        (["+algorithm.poly_epo.objective=pass_at_k"], "objective='pass_at_k'"),
        (["+algorithm.poly_epo.diversity.backend=judge_me"], "diversity.backend='judge_me'"),
        (["+algorithm.poly_epo.set_sise=2"], r"unknown option\(s\) algorithm.poly_epo.set_sise"),
    ],
)
def test_validation_stops_a_misconfigured_run(overrides, message):
    config = verl_config("algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=8", *overrides)
    with pytest.raises(ValueError, match=message):
        validate_run(config)


def test_validation_passes_three_responses_a_group_with_sets_of_two():
    """set_size=auto keeps the diversity term down to rollout.n=3 (k=1 would drop it)."""
    validate_run(verl_config("algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=3"))


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["+algorithm.poly_epo.set_size=1"],
            "set_size=1: every set holds one response, so a set's score is that response's reward and strategy "
            "diversity has no effect: the advantages are GRPO-like",
        ),
        ([], "actor.loss_agg_mode=token-mean; the paper used seq-mean-token-sum-norm"),
        (["actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm"], "without actor.loss_scale_factor"),
        (["algorithm.filter_groups.enable=true"], "algorithm.filter_groups is on"),
        (["actor_rollout_ref.actor.use_kl_loss=true"], "actor.use_kl_loss=True (kl_loss_coef=0.001)"),
        (["actor_rollout_ref.actor.entropy_coeff=0.01"], "actor.entropy_coeff=0.01"),
        (["algorithm.use_kl_in_reward=true"], "algorithm.use_kl_in_reward=True"),
    ],
)
def test_validation_notes_departures_from_the_paper_once(overrides, message, caplog):
    config = verl_config("algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=8", *overrides)
    notes._noted.clear()
    with caplog.at_level(logging.WARNING):
        validate_run(config)
        validate_run(config)
    assert caplog.text.count(message) == 1


def test_loss_term_note_states_the_scale_gap(caplog):
    config = verl_config(
        "algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=8", "actor_rollout_ref.actor.entropy_coeff=0.01"
    )
    notes._noted.clear()
    with caplog.at_level(logging.WARNING):
        validate_run(config)
    assert "about 7-28x more against the policy term" in caplog.text


def test_an_untested_verl_version_is_named_once(monkeypatch, caplog):
    monkeypatch.setattr(verl, "__version__", "0.9.7")
    config = verl_config("algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=8")
    notes._noted.clear()
    with caplog.at_level(logging.WARNING):
        validate_run(config)
        validate_run(config)
    assert caplog.text.count("polyepo was tested with verl 0.9.1; this is verl 0.9.7") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a process without CUDA gives")
def test_embedding_on_cuda_stops_where_advantages_are_computed_without_a_gpu():
    config = verl_config(
        "algorithm.adv_estimator=poly_epo",
        "actor_rollout_ref.rollout.n=8",
        "+algorithm.poly_epo.diversity.backend=embedding",
        "+algorithm.poly_epo.diversity.embedding.device=cuda",
    )
    with pytest.raises(ValueError, match=r"embedding.device='cuda'.*TaskRunner.*sees no CUDA device"):
        validate_run(config)


def test_validation_ignores_other_estimators():
    validate_run(verl_config("algorithm.adv_estimator=grpo", "actor_rollout_ref.rollout.n=1"))


def test_a_failed_shape_check_stops_poly_epo_runs():
    patching.problems.append("verl.trainer.ppo.ray_trainer.compute_advantage not found")
    try:
        with pytest.raises(RuntimeError, match="cannot hand prompt groups to poly_epo.*compute_advantage not found"):
            validate_run(verl_config("algorithm.adv_estimator=poly_epo", "actor_rollout_ref.rollout.n=8"))
    finally:
        patching.problems.pop()


def test_shape_check_records_a_changed_signature():
    class Trainer:
        def _compute_advantage(self, batch):  # lost its metrics parameter
            return batch

    problems_before = list(patching.problems)
    try:
        patching.wrap_attribute(Trainer, "_compute_advantage", lambda f: f, ("batch", "metrics"), "Trainer")
        assert patching.problems[-1] == "Trainer._compute_advantage has no parameter(s) metrics"
        assert not getattr(Trainer._compute_advantage, "__polyepo_wrapped__", False)
    finally:
        patching.problems[:] = problems_before


def judge_run_config(base_url, *overrides):
    return verl_config(
        "algorithm.adv_estimator=poly_epo",
        "actor_rollout_ref.rollout.n=8",
        "+algorithm.poly_epo.diversity.backend=judge",
        f"+algorithm.poly_epo.diversity.judge.base_url={base_url}",
        "+algorithm.poly_epo.diversity.judge.timeout_s=2",
        *overrides,
    )


def test_validation_stops_a_run_whose_judge_does_not_answer():
    with FakeJudge() as judge:
        validate_run(judge_run_config(judge.base_url))  # reachable: passes
        closed = judge.base_url
    with pytest.raises(ValueError, match="judge.base_url=.*the judge endpoint is unreachable"):
        validate_run(judge_run_config(closed, "+algorithm.poly_epo.diversity.judge.startup_wait_s=0"))


def test_validation_stops_a_run_whose_judge_model_is_misnamed():
    """Before this check every chat request of the run failed and every group took n-gram labels."""
    with FakeJudge(models=("Qwen/Qwen3-4B-Instruct-2507",)) as judge:
        config = judge_run_config(judge.base_url, "+algorithm.poly_epo.diversity.judge.model=Qwen3-4B")
        served = "'Qwen/Qwen3-4B-Instruct-2507'"
        with pytest.raises(ValueError, match=f"does not serve model 'Qwen3-4B'; it serves: {served}"):
            validate_run(config)


def test_validation_builds_the_backend_a_run_will_use(tmp_path):
    config = verl_config(
        "algorithm.adv_estimator=grpo_div",
        "actor_rollout_ref.rollout.n=8",
        "+algorithm.poly_epo.diversity.backend=custom",
        f"+algorithm.poly_epo.diversity.custom.path={tmp_path / 'missing.py'}",
    )
    with pytest.raises(ValueError, match="diversity.custom.path=.*no such file"):
        validate_run(config)


# A judge served by verl on a pool of its own (diversity.judge.base_url=verl), valid as is.
SERVED_JUDGE = {
    "algorithm.adv_estimator": "poly_epo",
    "actor_rollout_ref.rollout.n": "8",
    "+algorithm.poly_epo.diversity.backend": "judge",
    "+algorithm.poly_epo.diversity.judge.base_url": "verl",
    "reward.custom_reward_function.path": "/recipes/math_reward.py",
    "reward.reward_model.enable": "True",
    "reward.reward_model.model_path": "Qwen/Qwen3-4B-Instruct-2507",
    "reward.reward_model.enable_resource_pool": "True",
    "reward.reward_model.nnodes": "1",
    "reward.reward_model.n_gpus_per_node": "1",
    "reward.reward_model.rollout.name": "vllm",
    "reward.reward_model.rollout.free_cache_engine": "False",
    "reward.reward_model.rollout.max_model_len": "40960",
}


def served_judge_config(**changes):
    options = {**SERVED_JUDGE, **{key.replace("__", "."): value for key, value in changes.items()}}
    return verl_config(*(f"{key}={value}" for key, value in options.items() if value is not None))


def test_validation_passes_a_judge_served_by_verl_without_probing_it():
    validate_run(served_judge_config())  # no router exists before the trainer builds it


@pytest.mark.parametrize(
    "changes,message",
    [
        (
            {"reward__reward_model__enable": "False"},
            "add reward.reward_model.enable=True reward.reward_model.model_path=",
        ),
        (
            {"reward__custom_reward_function__path": None},
            "as a discriminative model .* Set reward.custom_reward_function.path",
        ),
        (
            {"reward__reward_model__enable_resource_pool": "False"},
            "colocated .* add reward.reward_model.enable_resource_pool=True",
        ),
        (
            {"reward__reward_model__rollout__free_cache_engine": "True"},
            "add reward.reward_model.rollout.free_cache_engine=False",
        ),
        (
            {"reward__reward_model__rollout__max_model_len": "4096"},
            r"Set reward.reward_model.rollout.max_model_len=\d+ or more",
        ),
        (
            {"reward__reward_model__rollout__max_model_len": None},
            "context length is unknown before it loads; set reward.reward_model.rollout.max_model_len",
        ),
    ],
)
def test_validation_stops_a_judge_verl_cannot_serve(changes, message):
    with pytest.raises(ValueError, match=message):
        validate_run(served_judge_config(**changes))


def _local_model(tmp_path, architecture, max_positions):
    (tmp_path / "config.json").write_text(
        f'{{"architectures": ["{architecture}"], "max_position_embeddings": {max_positions}}}'
    )
    return str(tmp_path)


def test_validation_stops_a_classification_model_as_judge(tmp_path):
    model = _local_model(tmp_path, "Qwen2ForSequenceClassification", 40960)
    with pytest.raises(
        ValueError, match="is a Qwen2ForSequenceClassification, which verl's servers run for classification only"
    ):
        validate_run(served_judge_config(reward__reward_model__model_path=model))


def test_validation_reads_the_judge_context_from_a_local_model(tmp_path):
    unset = {"reward__reward_model__rollout__max_model_len": None}
    validate_run(
        served_judge_config(reward__reward_model__model_path=_local_model(tmp_path, "Qwen3ForCausalLM", 40960), **unset)
    )
    with pytest.raises(ValueError, match="more than the judge model's max_position_embeddings .*=2048"):
        validate_run(
            served_judge_config(
                reward__reward_model__model_path=_local_model(tmp_path, "Qwen3ForCausalLM", 2048), **unset
            )
        )


def test_a_verl_served_judge_labels_through_the_router_it_is_given(monkeypatch):
    from polyepo_plugin.config import parse_config
    from polyepo_plugin.diversity import judge
    from polyepo_plugin.integration import served_judge

    monkeypatch.setattr(judge, "_verl_endpoint", None)
    config = served_judge_config()
    options = parse_config(config.algorithm).diversity
    client = judge.JudgeClient(options.judge)
    prompt = "Problem: behaviour: ok\n\n### Attempt 1\nfactor it\n\n### Attempt 2\nexpand it"
    with pytest.raises(RuntimeError, match="no verl reward-model router is known"):
        client.label_all([(prompt, 2)])
    with FakeJudge(models=("Qwen/Qwen3-4B-Instruct-2507",)) as server:
        served_judge.connect(router_trainer(config, server), options)
        assert judge.endpoint(options.judge) == (server.base_url, "Qwen/Qwen3-4B-Instruct-2507")
        [outcome] = client.label_all([(prompt, 2)])
    assert outcome.labels == [0, 1]
    test_group = judge.render_request(judge.load_template(None), *judge.TEST_GROUP, options.judge.max_response_chars)
    assert server.prompts == [test_group, prompt]  # connect's start-up check, then the labelling


def router_trainer(config, server):
    """What connect reads of a trainer: its config and its reward loop's router (``server``)."""
    from types import SimpleNamespace

    address = server.base_url.split("//", 1)[1].rsplit("/v1", 1)[0]
    return SimpleNamespace(config=config, reward_loop_manager=SimpleNamespace(reward_router_address=address))


def test_connecting_to_a_verl_served_judge_under_another_name_stops_the_run(monkeypatch):
    """verl serves a remote model_path under its local copy's path: every request would fail."""
    from polyepo_plugin.config import parse_config
    from polyepo_plugin.diversity import judge
    from polyepo_plugin.integration import served_judge

    monkeypatch.setattr(judge, "_verl_endpoint", None)
    config = served_judge_config(reward__reward_model__model_path="hdfs://models/judge-4b")
    with FakeJudge(models=("/tmp/models/judge-4b",)) as server:
        message = (
            "does not serve model 'hdfs://models/judge-4b'; it serves: '/tmp/models/judge-4b'. verl serves its reward "
            "model under the local path .* set reward.reward_model.model_path to a local directory"
        )
        with pytest.raises(ValueError, match=message):
            served_judge.connect(router_trainer(config, server), parse_config(config.algorithm).diversity)
    assert server.prompts == []
