"""pass@k / majority@k / strategy-diversity evaluation of models on a verl-format dataset.

    polyepo-eval --model base=/path/to/model --model step_850=/path/to/checkpoint --data test.parquet \\
        --reward-path my_reward.py --reward-name compute_score --n 16 --max-new-tokens 4096 --out eval_out/

samples N responses per prompt (vLLM when installed and a GPU is present, else HF generate)
with at most --max-new-tokens new tokens each, scores them with a verl reward function, and
reports for k = 1..N the unbiased pass@k (Chen et al. 2021), majority@k over the responses'
final answers, distinct (correct) strategies per prompt, labelled by --backend (the same
backends as training, with the same default), and the fraction of responses cut by the token
budget. The reward and the backend are checked before any sampling. Writes ``eval.json`` and
``pass_at_k.png`` with every --model in one report and one figure (one curve per model).

majority@k: the answer given most often among k samples wins; it counts as correct when more
than half of ALL the samples giving that answer scored correct. So majority@1 (the fraction of
samples whose answer is a correct one) need not equal pass@1 (each sample's own score).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Sequence

from polyepo_plugin.config import DiversityConfig
from polyepo_plugin.diversity import backend_names
from polyepo_plugin.evaluation.pipeline import evaluate, load_rows
from polyepo_plugin.evaluation.plots import plot_pass_at_k
from polyepo_plugin.evaluation.scoring import LABELS, check_scoring, load_reward
from polyepo_plugin.evaluation.stats import MAJORITY_AT_K_MEANS

# What each backend reads; --help lists them all (backends registered by a user read as "yours").
BACKEND_HELP = {
    "semantic": "whole-text meaning, robust to paraphrase, offline MiniLM",
    "ngram": "token n-gram overlap",
    "answer": "final-answer equivalence",
    "embedding": "plain sentence embeddings",
    "judge": "an LLM judge, --backend-option base_url=http://HOST:PORT/v1",
    "custom": "your function, --backend-option path=FILE name=FUNCTION",
    LABELS: "the 'strategy' the reward function returns with each score",
}
CHECKPOINT_STEP = re.compile(r"global_step_(\d+)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written, and each option's default after its help (when it has one)."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.default is not None and action.default is not False and action.default != []
        if shown and action.default is not argparse.SUPPRESS and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polyepo-eval", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        help="PATH or NAME=PATH (NAME holds no '/'; split at its first '='); repeat to compare models in one "
        "report and plot. Unnamed, a path under a verl checkpoint's global_step_N is named step_N, any other "
        "by its last path component",
    )
    parser.add_argument("--data", required=True, help="verl-format parquet (prompt, data_source, reward_model)")
    parser.add_argument("--reward-path", help="file with the reward function (default: verl's by data_source)")
    parser.add_argument("--reward-name", default="compute_score", help="the reward function's name in --reward-path")
    parser.add_argument(
        "--backend",
        default=DiversityConfig.backend,
        choices=backend_names(),
        metavar="BACKEND",
        help="how strategies are labelled, as in training (algorithm.poly_epo.diversity.backend): "
        + ", ".join(f"{name} ({BACKEND_HELP.get(name, 'yours')})" for name in backend_names()),
    )
    parser.add_argument(
        "--backend-option",
        action="append",
        default=[],
        help="KEY=VALUE, an option of the backend as under diversity.<backend>, e.g. n=2 for ngram; repeatable",
    )
    parser.add_argument("--n", type=int, default=16, help="samples per prompt")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        required=True,
        help="response budget in tokens; use the budget the model was trained with (e.g. 4096), "
        "responses cut by it are counted and reported",
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument("--top-p", type=float, default=1.0, help="1.0: off")
    parser.add_argument("--top-k", type=int, default=-1, help="-1 (or 0): off")
    parser.add_argument("--max-prompts", type=int, help="evaluate only the first this many prompts (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--out", default="polyepo_eval", help="directory for eval.json and pass_at_k.png")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Everything that can be wrong before the first model loads fails here, not after sampling.
    try:
        models = named_models(args.model)
        options = dict(_backend_option(o) for o in args.backend_option)
        reward = load_reward(args.reward_path, args.reward_name)
        check_scoring(load_rows(args.data, 1)[0], reward, args.backend, **options)
    except ValueError as error:
        parser.error(str(error))
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for name, path in models:
        print(f"[eval] {name}: {path}", flush=True)
        results[name] = evaluate(
            path,
            args.data,
            max_new_tokens=args.max_new_tokens,
            n=args.n,
            reward=reward,
            backend=args.backend,
            temperature=args.temperature,
            top_p=args.top_p,
            top_k=args.top_k,
            max_prompts=args.max_prompts,
            seed=args.seed,
            **options,
        )
        print(format_summary(name, results[name]["summary"], args.max_new_tokens), flush=True)
    if any(r["summary"]["majority_at_k"] is not None for r in results.values()):
        print(f"[eval] {MAJORITY_AT_K_MEANS}", flush=True)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(results, f, indent=1)
    plot_pass_at_k({name: r["summary"] for name, r in results.items()}, os.path.join(args.out, "pass_at_k.png"))
    print(f"[eval] wrote {args.out}/eval.json and {args.out}/pass_at_k.png")
    return 0


def format_summary(name: str, s: dict, max_new_tokens: int) -> str:
    """One line per model: pass@1, pass@N, majority@N ("n/a" when no answer could be extracted),
    distinct correct strategies and the fraction of responses cut by the budget."""
    majority = "n/a" if s["majority_at_k"] is None else f"{s['majority_at_k'][-1]['mean']:.3f}"
    truncated = "n/a" if s.get("truncated_fraction") is None else f"{s['truncated_fraction']:.1%}"
    return (
        f"[eval] {name}: pass@1 {s['pass_at_k'][0]['mean']:.3f}  pass@{s['n']} {s['pass_at_k'][-1]['mean']:.3f}  "
        f"majority@{s['n']} {majority}  distinct correct strategies {s['distinct_correct_strategies']['mean']:.2f}  "
        f"truncated at {max_new_tokens} tokens: {truncated} ({s['prompts']} prompts)"
    )


def named_models(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``--model`` values as ``(name, path)`` (see ``model_name``); two models of one name are a
    ``ValueError`` (their results would overwrite each other)."""
    models = [split_model_spec(spec) for spec in specs]
    names = [name for name, _ in models]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"--model: more than one model is named {', '.join(repeated)}; name each one, e.g. "
            "--model poly_epo_step_850=PATH --model grpo_step_850=PATH"
        )
    return models


def split_model_spec(spec: str) -> tuple[str, str]:
    """``NAME=PATH`` split at the first ``=`` (a path may hold ``=``, e.g. ``lr=1e-6``); a spec whose
    text before its first ``=`` holds a ``/`` is a plain PATH, named by ``model_name``."""
    name, equals, path = spec.partition("=")
    if equals and name and "/" not in name:
        return name, path
    return model_name(spec), spec


def model_name(path: str) -> str:
    """``step_N`` for a path under a verl checkpoint's ``global_step_N`` directory (the last such
    component), else the path's last component."""
    steps = CHECKPOINT_STEP.findall(path)
    return f"step_{steps[-1]}" if steps else os.path.basename(path.rstrip("/"))


def _backend_option(text: str) -> tuple[str, object]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise ValueError(f"--backend-option {text!r}: expected KEY=VALUE, e.g. n=2")
    return key, _number(value)


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
