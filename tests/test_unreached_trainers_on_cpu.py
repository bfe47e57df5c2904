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

    trainer_class = FullyAsyncTrainer.__ray_actor_class__  # the class the Ray actor is built from
    with pytest.raises(ValueError, match=r"grpo_div cannot train with verl's FullyAsyncTrainer.*SeparateRayPPOTrainer"):
        trainer_class(config_with("grpo_div"), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)


def test_other_estimators_pass():
    from verl.experimental.one_step_off_policy.ray_trainer import OneStepOffRayTrainer

    unreached.refuse("OneStepOffRayTrainer", config_with("grpo"))
    with pytest.raises(AssertionError) as raised:  # verl's own __init__ runs: it asserts hybrid_engine is off
        OneStepOffRayTrainer(config_with("grpo"), tokenizer=None, role_worker_mapping={}, resource_pool_manager=None)
    assert raised.traceback[-1].name == "__init__" and "one_step_off_policy" in str(raised.traceback[-1].path)
