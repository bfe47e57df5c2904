"""verl's trainers with a fit of their own that polyepo does not wrap stop a poly_epo/grpo_div run
in their __init__, before any worker or model exists; other estimators are left alone."""

import os

import pytest
import verl
from hydra import compose, initialize_config_dir

from polyepo_plugin.integration import unreached

VERL_CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")


def config_with(estimator):
    with initialize_config_dir(config_dir=VERL_CONFIG_DIR, version_base=None):
        return compose("ppo_trainer", overrides=[f"algorithm.adv_estimator={estimator}"])


def test_the_one_step_off_policy_trainer_refuses_poly_epo():
    # Imported as verl's entry point imports it: the plugin's import hook wraps it then.
    from verl.experimental.one_step_off_policy.ray_trainer import OneStepOffRayTrainer

    with pytest.raises(ValueError, match=r"poly_epo cannot train with verl's OneStepOffRayTrainer.*Supported: verl\.trainer\.main_ppo"):
        OneStepOffRayTrainer(config_with("poly_epo"), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)


def test_the_fully_async_trainer_refuses_grpo_div():
    from verl.experimental.fully_async_policy.fully_async_trainer import FullyAsyncTrainer

    # The subclass @ray.remote built, which Ray pickles and runs in the actor's process.
    trainer_class = FullyAsyncTrainer.__ray_metadata__.modified_class
    with pytest.raises(ValueError, match=r"grpo_div cannot train with verl's FullyAsyncTrainer.*SeparateRayPPOTrainer"):
        trainer_class(config_with("grpo_div"), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    # The trainer actor asks for 10 CPUs; logical ones, two processes at most run here.
    ray.init(num_cpus=10, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def create_fully_async_trainer(ray, estimator):
    """As verl's FullyAsyncTaskRunner creates it: an actor built from the @ray.remote class."""
    from verl.experimental.fully_async_policy.fully_async_trainer import FullyAsyncTrainer

    trainer = FullyAsyncTrainer.remote(
        config=config_with(estimator), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None
    )
    with pytest.raises(ray.exceptions.ActorDiedError) as died:
        ray.get(trainer.__ray_ready__.remote())
    return str(died.value)


def test_the_fully_async_trainer_actor_refuses_poly_epo_through_ray(ray_cluster):
    message = create_fully_async_trainer(ray_cluster, "poly_epo")
    assert "ValueError: algorithm.adv_estimator=poly_epo cannot train with verl's FullyAsyncTrainer" in message


def test_the_fully_async_trainer_actor_runs_verls_init_for_grpo(ray_cluster):
    message = create_fully_async_trainer(ray_cluster, "grpo")
    # verl's own __init__ ran in the actor and stopped at its first check (hybrid_engine must be off).
    assert "assert not self.hybrid_engine" in message and "cannot train" not in message


def test_other_estimators_pass():
    from verl.experimental.one_step_off_policy.ray_trainer import OneStepOffRayTrainer

    unreached.refuse("OneStepOffRayTrainer", config_with("grpo"))
    with pytest.raises(AssertionError) as raised:  # verl's own __init__ runs: it asserts hybrid_engine is off
        OneStepOffRayTrainer(config_with("grpo"), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)
    assert raised.traceback[-1].name == "__init__" and "one_step_off_policy" in str(raised.traceback[-1].path)
