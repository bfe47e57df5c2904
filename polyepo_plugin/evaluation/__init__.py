"""``polyepo-eval``: pass@k, majority@k and strategy diversity of models on a verl-format dataset.

Modules, from pure numbers to the command line:

- ``stats``: pass@k, majority@k, per-prompt and mean summaries (no model, torch or reward code);
- ``sampling``: N responses per prompt with vLLM or HF generate, and which ones hit the budget;
- ``scoring``: the reward function, final answers for majority@k, strategy labels;
- ``plots``: the pass@k figure;
- ``pipeline``: ``evaluate``, one model on one dataset;
- ``worker``: one model's ``evaluate`` in a process of its own;
- ``cli``: ``main``, the ``polyepo-eval`` command.

The names below are re-exported, so ``from polyepo_plugin import evaluation`` then
``evaluation.pass_at_k(...)`` / ``evaluation.evaluate(...)`` works as before. Importing this
package loads no model library (not even torch); ``evaluate`` imports torch and transformers
when it runs.
"""

import importlib

# name -> the module defining it; loaded on first use (PEP 562), so that ``polyepo-eval --help``
# and ``import polyepo_plugin.evaluation.cli`` load no torch.
_EXPORTS = {
    "main": "cli",
    "TRUNCATION_WARNING": "pipeline",
    "evaluate": "pipeline",
    "truncation_warning": "pipeline",
    "plot_pass_at_k": "plots",
    "save_figure": "plots",
    "Samples": "sampling",
    "generate": "sampling",
    "answer_classes": "scoring",
    "extract_answers": "scoring",
    "load_reward": "scoring",
    "score_groups": "scoring",
    "DEFAULT_CORRECT_THRESHOLD": "stats",
    "majority_at_k": "stats",
    "mean_se": "stats",
    "pass_at_k": "stats",
    "summarize_groups": "stats",
    "threshold_warning": "stats",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
