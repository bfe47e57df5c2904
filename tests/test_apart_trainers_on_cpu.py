"""verl's trainers with the rollout apart from the actor (one-step-off-policy, fully async) run
polyepo's start-up checks in their __init__, which skips the legacy trainer's, before any worker
or model exists; the fully async one in the actor Ray creates. Other estimators are left alone.
Their training runs are in tests/e2e/test_apart_trainers_cpu.py."""

import os

import pytest
import verl
from hydra import compose, initialize_config_dir

VERL_CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
MISCONFIGURED = "set_size=4 gives k=4 with actor_rollout_ref.rollout.n=4"


def config_with(estimator, *extra):
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        return compose(
            "ppo_trainer", overrides=[f"algorithm.adv_estimator={estimator}", "actor_rollout_ref.rollout.n=4", *extra]
        )


def misconfigured_poly_epo():
    return config_with("poly_epo", "+algorithm.poly_epo.set_size=4")


def test_the_one_step_off_policy_trainer_checks_a_poly_epo_run():
    # Imported as verl's entry point imports it: the plugin's import hook wraps it then.
    from verl.experimental.one_step_off_policy.ray_trainer import OneStepOffRayTrainer

    with pytest.raises(ValueError, match=MISCONFIGURED):
        OneStepOffRayTrainer(misconfigured_poly_epo(), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)


def test_other_estimators_pass():
    from verl.experimental.one_step_off_policy.ray_trainer import OneStepOffRayTrainer

    with pytest.raises(AssertionError) as raised:  # verl's own __init__ runs: it asserts hybrid_engine is off
        OneStepOffRayTrainer(config_with("grpo"), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)
    assert raised.traceback[-1].name == "__init__" and "one_step_off_policy" in str(raised.traceback[-1].path)


def test_the_fully_async_trainer_class_ray_runs_checks_poly_epo():
    from verl.experimental.fully_async_policy.fully_async_trainer import FullyAsyncTrainer

    # The subclass @ray.remote built, which Ray pickles and runs in the actor's process.
    trainer_class = FullyAsyncTrainer.__ray_metadata__.modified_class
    with pytest.raises(ValueError, match=MISCONFIGURED):
        trainer_class(misconfigured_poly_epo(), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    # The trainer actor asks for 10 CPUs; logical ones, two processes at most run here.
    ray.init(num_cpus=10, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def create_fully_async_trainer(ray, config):
    """As verl's FullyAsyncTaskRunner creates it: an actor built from the @ray.remote class."""
    from verl.experimental.fully_async_policy.fully_async_trainer import FullyAsyncTrainer

    trainer = FullyAsyncTrainer.remote(config=config, tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)
    with pytest.raises(ray.exceptions.ActorDiedError) as died:
        ray.get(trainer.__ray_ready__.remote())
    return str(died.value)


def test_the_fully_async_trainer_actor_checks_poly_epo_through_ray(ray_cluster):
    message = create_fully_async_trainer(ray_cluster, misconfigured_poly_epo())
    assert "ValueError" in message and MISCONFIGURED in message


def test_the_fully_async_trainer_actor_runs_verls_init_for_grpo(ray_cluster):
    message = create_fully_async_trainer(ray_cluster, config_with("grpo"))
    # verl's own __init__ ran in the actor and stopped at its first check (hybrid_engine must be off).
    assert "assert not self.hybrid_engine" in message and MISCONFIGURED not in message
