"""pass@k / majority@k / strategy-diversity evaluation of models on a verl-format dataset.

    polyepo-eval --model base=/path/to/model --model step_850=/path/to/checkpoint --data test.parquet \\
        --reward-path my_reward.py --reward-name compute_score --n 16 --max-new-tokens 4096 --out eval_out/

samples N responses per prompt (vLLM when installed and a GPU is present, else HF generate)
with at most --max-new-tokens new tokens each, scores them with a verl reward function (a
response is correct when its score exceeds --correct-threshold), and reports for k = 1..N the
unbiased pass@k (Chen et al. 2021), majority@k over the responses' final answers, distinct
(correct) strategies per prompt, labelled by --backend (the same backends as training, with the
same default), and the fraction of responses cut by the token budget.

Every model path, the data file, the reward and the backend are checked before any sampling.
Each model runs in a process of its own (vLLM frees its GPU memory only when its process ends);
``eval.json`` and ``pass_at_k.png`` (one curve per model) are rewritten as each model finishes,
and a model that fails is recorded in ``eval.json`` with its error while the others go on (exit
status 1 at the end).

majority@k: the answer given most often among k samples wins; it counts as correct when more
than half of ALL the samples giving that answer scored correct. So majority@1 (the fraction of
samples whose answer is a correct one) need not equal pass@1 (each sample's own score).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

from polyepo_plugin.config import DiversityConfig
from polyepo_plugin.evaluation.stats import DEFAULT_CORRECT_THRESHOLD

# diversity, pipeline and scoring load torch: main imports them once the arguments parse, so
# --help needs none of it.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # org/name on the Hugging Face hub

# What each built-in backend reads, for --help.
BACKEND_HELP = {
    "semantic": "the reasoning (numbers computed, whole-text MiniLM), split only on strong evidence; offline",
    "ngram": "token n-gram overlap",
    "answer": "final-answer equivalence",
    "embedding": "plain sentence embeddings",
    "judge": "an LLM judge, --backend-option base_url=http://HOST:PORT/v1",
    "custom": "your function, --backend-option path=FILE name=FUNCTION",
    "labels": "the 'strategy' the reward function returns with each score",
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
        "--correct-threshold",
        type=float,
        default=DEFAULT_CORRECT_THRESHOLD,
        help="a response counts as correct (pass@k, majority@k, correct strategies) when its reward exceeds this, "
        "as training's algorithm.poly_epo.correct_threshold; lower it for partial-credit rewards",
    )
    parser.add_argument(
        "--backend",
        default=DiversityConfig.backend,
        metavar="BACKEND",
        help="how strategies are labelled, as in training (algorithm.poly_epo.diversity.backend): "
        + ", ".join(f"{name} ({what})" for name, what in BACKEND_HELP.items())
        + ", or one you registered",
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
    parser.add_argument(
        "--tensor-parallel-size", type=int, default=1, help="vLLM: GPUs per model (HF generate ignores it)"
    )
    parser.add_argument(
        "--gpu-memory-utilization",
        type=float,
        default=0.9,
        help="vLLM: the share of each GPU's memory its engine may take (HF generate ignores it)",
    )
    parser.add_argument("--out", default="polyepo_eval", help="directory for eval.json and pass_at_k.png")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from polyepo_plugin.diversity import backend_names
    from polyepo_plugin.evaluation.pipeline import load_rows
    from polyepo_plugin.evaluation.scoring import check_scoring, load_reward

    if args.backend not in backend_names():
        parser.error(f"argument --backend: invalid choice: {args.backend!r} (choose from {', '.join(backend_names())})")
    # Everything that can be wrong before the first model loads fails here, not after sampling.
    try:
        models = named_models(args.model)
        for name, path in models:
            check_model_path(name, path)
        options = dict(_backend_option(o) for o in args.backend_option)
        try:
            rows = load_rows(args.data, args.max_prompts)
        except ValueError as error:
            raise ValueError(f"--data: {error}") from None
        check_scoring(rows, load_reward(args.reward_path, args.reward_name), args.backend, **options)
    except ValueError as error:
        parser.error(str(error))
    os.makedirs(args.out, exist_ok=True)
    results: dict[str, dict] = {}
    for name, path in models:
        print(f"[eval] {name}: {path}", flush=True)
        results[name] = evaluate_model(args, path, options)
        if "error" in results[name]:
            print(f"[eval] {name}: FAILED: {results[name]['error']}", file=sys.stderr, flush=True)
        else:
            print(format_summary(name, results[name]["summary"], args.max_new_tokens), flush=True)
        write_report(args.out, results)  # what is measured is kept, whatever the next model does
    if any(r.get("summary", {}).get("majority_at_k") is not None for r in results.values()):
        from polyepo_plugin.evaluation.stats import MAJORITY_AT_K_MEANS

        print(f"[eval] {MAJORITY_AT_K_MEANS}", flush=True)
    failed = [name for name, result in results.items() if "error" in result]
    print(f"[eval] wrote {args.out}/eval.json and {args.out}/pass_at_k.png", flush=True)
    if failed:
        print(f"[eval] failed: {', '.join(failed)} (their errors are in eval.json)", file=sys.stderr, flush=True)
    return 1 if failed else 0


def evaluate_model(args: argparse.Namespace, path: str, backend_options: dict) -> dict:
    """One model's result, from a process of its own (``worker``), or ``{"error": ...}``."""
    from polyepo_plugin.evaluation.worker import evaluate_in_own_process

    job = {
        "model_path": path,
        "data_path": args.data,
        "reward_path": args.reward_path,
        "reward_name": args.reward_name,
        "max_new_tokens": args.max_new_tokens,
        "n": args.n,
        "backend": args.backend,
        "backend_options": backend_options,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "max_prompts": args.max_prompts,
        "seed": args.seed,
        "correct_threshold": args.correct_threshold,
        "tensor_parallel_size": args.tensor_parallel_size,
        "gpu_memory_utilization": args.gpu_memory_utilization,
    }
    return evaluate_in_own_process(job)


def write_report(out: str, results: dict[str, dict]) -> None:
    """``eval.json`` with every model so far (a failed one as ``{"error": ...}``) and the pass@k
    plot of those that succeeded; each file replaced whole."""
    from polyepo_plugin.evaluation.plots import plot_pass_at_k

    partial = os.path.join(out, "eval.json.partial")
    with open(partial, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(partial, os.path.join(out, "eval.json"))
    measured = {name: r["summary"] for name, r in results.items() if "summary" in r}
    if measured:
        plot_pass_at_k(measured, os.path.join(out, "pass_at_k.png"))


def check_model_path(name: str, path: str) -> None:
    """A local model must be a Hugging Face model directory (``config.json``); a path that does
    not exist here may only be a hub id (``org/name``), which its own process downloads."""
    where = f"--model {name}={path}"
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise ValueError(
                f"{where}: the directory has no config.json, so it is not a Hugging Face model. A verl FSDP "
                "checkpoint (global_step_N/actor) must be merged first: python -m verl.model_merger merge --backend "
                "fsdp --local_dir CHECKPOINT --target_dir CHECKPOINT/merged_hf (examples/paper_qwen3_4b_polaris/"
                "evaluate.sh does it)"
            )
    elif os.path.exists(path):
        raise ValueError(f"{where}: not a directory; expected a Hugging Face model directory or hub id")
    elif path.startswith(("/", ".", "~")) or not HUB_ID.match(path):
        raise ValueError(f"{where}: no such directory (and not a hub id of the form org/name)")


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
