"""pass@k / majority@k / strategy-diversity evaluation of a model on a verl-format dataset.

    polyepo-eval --model base=/path/to/model --model rl=/path/to/other --data test.parquet \\
        --reward-path my_reward.py --reward-name compute_score --n 16 --max-new-tokens 4096 --out eval_out/

samples N responses per prompt (vLLM when installed and a GPU is present, else HF generate)
with at most --max-new-tokens new tokens each, scores them with a verl reward function, and
reports for k = 1..N the unbiased pass@k (Chen et al. 2021), majority@k over the responses'
final answers, distinct (correct) strategies per prompt, read from the reward's ``strategy``
extra info (``--backend labels``) or from a diversity backend (``ngram``, ``answer``, ...), and
the fraction of responses cut by the token budget. Writes ``eval.json`` and ``pass_at_k.png``
(one curve per model).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

from polyepo_plugin.evaluation.pipeline import evaluate
from polyepo_plugin.evaluation.plots import plot_pass_at_k
from polyepo_plugin.evaluation.scoring import load_reward


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polyepo-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", required=True, help="PATH or NAME=PATH; repeat to compare")
    parser.add_argument("--data", required=True, help="verl-format parquet (prompt, data_source, reward_model)")
    parser.add_argument("--reward-path", help="file with the reward function (default: verl's by data_source)")
    parser.add_argument("--reward-name", default="compute_score")
    parser.add_argument("--backend", default="labels", help="labels (reward's 'strategy'), ngram, answer, ...")
    parser.add_argument("--backend-option", action="append", default=[], help="KEY=VALUE, e.g. n=2 for ngram")
    parser.add_argument("--n", type=int, default=16, help="samples per prompt")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        required=True,
        help="response budget in tokens; use the budget the model was trained with (e.g. 4096), "
        "responses cut by it are counted and reported",
    )
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0, help="1.0: off")
    parser.add_argument("--top-k", type=int, default=-1, help="-1 (or 0): off")
    parser.add_argument("--max-prompts", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="polyepo_eval")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reward = load_reward(args.reward_path, args.reward_name)
    options = {k: _number(v) for k, v in (o.split("=", 1) for o in args.backend_option)}
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for spec in args.model:
        name, _, path = spec.rpartition("=") if "=" in spec else (os.path.basename(spec.rstrip("/")), "", spec)
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


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
