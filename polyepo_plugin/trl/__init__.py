"""Poly-EPO in Hugging Face TRL: a ``GRPOTrainer`` whose advantages are the set advantages.

Switch a ``GRPOTrainer`` script by changing two names and adding options, which have the names,
defaults and checks of verl's ``algorithm.poly_epo``::

    from polyepo_plugin.trl import PolyEpoGRPOConfig, PolyEpoGRPOTrainer

    args = PolyEpoGRPOConfig(output_dir="out", num_generations=8, poly_epo={"set_size": 4})
    trainer = PolyEpoGRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=dataset)

The only room of the package that imports ``trl`` (tested with ``trl>=1.16,<1.17``).
"""

from polyepo_plugin.trl.trainer import PolyEpoGRPOConfig, PolyEpoGRPOTrainer

__all__ = ["PolyEpoGRPOConfig", "PolyEpoGRPOTrainer"]
