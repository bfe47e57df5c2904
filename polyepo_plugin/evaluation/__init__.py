"""``polyepo-eval``: pass@k, majority@k and strategy diversity of models on a verl-format dataset.

Modules, from pure numbers to the command line:

- ``stats``: pass@k, majority@k, per-prompt and mean summaries (no model, torch or reward code);
- ``sampling``: N responses per prompt with vLLM or HF generate, and which ones hit the budget;
- ``scoring``: the reward function, final answers for majority@k, strategy labels;
- ``plots``: the pass@k figure;
- ``pipeline``: ``evaluate``, one model on one dataset;
- ``cli``: ``main``, the ``polyepo-eval`` command.

The names below are re-exported, so ``from polyepo_plugin import evaluation`` then
``evaluation.pass_at_k(...)`` / ``evaluation.evaluate(...)`` works as before. Importing this
package loads no model library; ``evaluate`` imports torch and transformers when it runs.
"""

from polyepo_plugin.evaluation.cli import main
from polyepo_plugin.evaluation.pipeline import TRUNCATION_WARNING, evaluate, truncation_warning
from polyepo_plugin.evaluation.plots import plot_pass_at_k, save_figure
from polyepo_plugin.evaluation.sampling import Samples, generate
from polyepo_plugin.evaluation.scoring import answer_classes, extract_answers, load_reward, score_groups
from polyepo_plugin.evaluation.stats import CORRECT, majority_at_k, mean_se, pass_at_k, summarize_groups

__all__ = [
    "CORRECT",
    "TRUNCATION_WARNING",
    "Samples",
    "answer_classes",
    "evaluate",
    "extract_answers",
    "generate",
    "load_reward",
    "main",
    "majority_at_k",
    "mean_se",
    "pass_at_k",
    "plot_pass_at_k",
    "save_figure",
    "score_groups",
    "summarize_groups",
    "truncation_warning",
]
