"""pass@k / majority@k / strategy-diversity evaluation of a model on a verl-format dataset.

    polyepo-eval --model base=/path/to/model --model rl=/path/to/other --data test.parquet \\
        --reward-path my_reward.py --reward-name compute_score --n 16 --out eval_out/

samples N responses per prompt (vLLM when installed and a GPU is present, else HF generate),
scores them with a verl reward function, and reports for k = 1..N the unbiased pass@k
(Chen et al. 2021), majority@k, and distinct (correct) strategies per prompt, read from the
reward's ``strategy`` extra info (``--backend labels``) or from a diversity backend
(``ngram``, ``answer``, ...). Writes ``eval.json`` and ``pass_at_k.png`` (one curve per model).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Sequence

from polyepo_plugin.grouping import strategy_codes

CORRECT = 0.5  # a response is correct when its score exceeds this (binary rewards: score 1)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))  # the ratio as a product: no huge integers


def majority_at_k(answers: Sequence, correct: Sequence[bool], k: int, draws: int = 200, seed: int = 0) -> float:
    """Probability that the most frequent answer among k random samples (ties: the one seen first)
    is a correct one; exact for k = n, a ``draws``-subset estimate otherwise."""
    n = len(answers)
    is_right = {a: bool(ok) for a, ok in zip(answers, correct)}
    subsets = [range(n)] if k == n else [random.Random(seed * 7919 + d).sample(range(n), k) for d in range(draws)]
    hits = 0
    for subset in subsets:
        top = Counter(answers[i] for i in subset).most_common(1)[0][0]
        hits += is_right[top]
    return hits / len(subsets)


def summarize_groups(groups: Sequence[dict]) -> dict:
    """Per-prompt and mean (± standard error over prompts) metrics of scored groups.

    Each group: ``{"prompt", "responses", "scores", "strategies", "answers"}``, lists of equal
    length N (strategies: ints, -1 degenerate). All groups must have the same N."""
    sizes = {len(g["scores"]) for g in groups}
    if len(sizes) != 1:
        raise ValueError(f"every prompt needs the same number of samples, got sizes {sorted(sizes)}")
    n = sizes.pop()
    per_prompt = []
    for g in groups:
        correct = [s > CORRECT for s in g["scores"]]
        c = sum(correct)
        per_prompt.append(
            {
                "prompt": g["prompt"],
                "correct": c,
                "pass_at_k": [pass_at_k(n, c, k) for k in range(1, n + 1)],
                "majority_at_k": [majority_at_k(g["answers"], correct, k) for k in range(1, n + 1)],
                "distinct_strategies": len({s for s in g["strategies"] if s >= 0}),
                "distinct_correct_strategies": len({s for s, ok in zip(g["strategies"], correct) if s >= 0 and ok}),
            }
        )
    summary = {"n": n, "prompts": len(per_prompt)}
    for key in ("pass_at_k", "majority_at_k"):
        columns = list(zip(*(p[key] for p in per_prompt)))
        summary[key] = [mean_se(col) for col in columns]
    for key in ("distinct_strategies", "distinct_correct_strategies"):
        summary[key] = mean_se([p[key] for p in per_prompt])
    return {"summary": summary, "per_prompt": per_prompt}


def mean_se(values: Sequence[float]) -> dict:
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return {"mean": m, "se": math.sqrt(var / len(values))}


def load_reward(path: str | None, name: str = "compute_score") -> Callable:
    """A verl reward function: ``name`` from the file ``path``, or verl's default by data source."""
    if path is None:
        from verl.utils.reward_score import default_compute_score

        return default_compute_score
    spec = importlib.util.spec_from_file_location("polyepo_eval_reward", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def score_groups(
    rows: Sequence[dict],
    responses: Sequence[Sequence[str]],
    reward: Callable,
    backend: str = "labels",
    tokenizer=None,
    **backend_options,
) -> list[dict]:
    """Score every response; strategies from the reward's ``strategy`` (labels) or a backend."""
    groups = []
    for row, texts in zip(rows, responses):
        outs = [
            reward(row["data_source"], t, row["reward_model"]["ground_truth"], row.get("extra_info")) for t in texts
        ]
        outs = [o if isinstance(o, dict) else {"score": float(o)} for o in outs]
        groups.append(
            {
                "prompt": row["prompt"][-1]["content"],
                "responses": list(texts),
                "scores": [float(o["score"]) for o in outs],
                "answers": [str(o.get("pred", t.strip())) for o, t in zip(outs, texts)],
                "strategies": _reward_strategies(outs) if backend == "labels" else None,
            }
        )
    if backend != "labels":
        from polyepo_plugin.strategies import label_strategies

        labels = label_strategies(
            [g["responses"] for g in groups],
            [g["prompt"] for g in groups],
            backend=backend,
            tokenizer=tokenizer,
            **backend_options,
        )
        for g, lab in zip(groups, labels):
            g["strategies"] = list(lab)
    return groups


def _reward_strategies(outs: Sequence[dict]) -> list[int]:
    """The reward's ``strategy`` labels coded as the ``labels`` backend codes them."""
    if any("strategy" not in o for o in outs):
        raise KeyError("backend 'labels' needs the reward function to return a 'strategy'; pick another --backend")
    return strategy_codes([o["strategy"] for o in outs]).tolist()


def generate(
    model_path: str,
    prompts: Sequence[list],
    n: int,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    seed: int = 0,
    batch_prompts: int = 16,
    progress: bool = True,
) -> tuple[list[list[str]], object]:
    """N sampled responses per chat prompt (decoded, special tokens dropped) and the tokenizer."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    texts = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        from vllm import LLM, SamplingParams

        llm = LLM(model=model_path, seed=seed)
        params = SamplingParams(n=n, temperature=temperature, max_tokens=max_new_tokens, seed=seed)
        outs = llm.generate(texts, params, use_tqdm=progress)
        return [[c.text for c in o.outputs] for o in outs], tok
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    tok.padding_side = "left"
    out: list[list[str]] = []
    starts = range(0, len(texts), batch_prompts)
    for start in tqdm(starts, desc=f"sampling {n}/prompt", disable=not progress):
        enc = tok(texts[start : start + batch_prompts], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            ids = model.generate(
                **enc,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                num_return_sequences=n,
                pad_token_id=tok.pad_token_id,
            )
        decoded = tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        out += [decoded[i : i + n] for i in range(0, len(decoded), n)]
    return out, tok


def evaluate(
    model_path: str,
    data_path: str,
    n: int = 16,
    reward: Callable | None = None,
    backend: str = "labels",
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    max_prompts: int | None = None,
    seed: int = 0,
    progress: bool = True,
    **backend_options,
) -> dict:
    """Sample, score and summarize one model on one parquet dataset (see the module docstring)."""
    import pandas as pd

    rows = pd.read_parquet(data_path).to_dict("records")[:max_prompts]
    for row in rows:  # parquet gives numpy arrays; the chat template wants lists of dicts
        row["prompt"] = [dict(m) for m in row["prompt"]]
    responses, tok = generate(
        model_path, [r["prompt"] for r in rows], n, temperature, max_new_tokens, seed, progress=progress
    )
    groups = score_groups(rows, responses, reward or load_reward(None), backend, tok, **backend_options)
    result = summarize_groups(groups)
    result["settings"] = {
        "model": model_path,
        "data": data_path,
        "n": n,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "backend": backend,
        "seed": seed,
    }
    result["samples"] = [
        {"prompt": g["prompt"], "responses": g["responses"], "strategies": g["strategies"]} for g in groups[:5]
    ]
    return result


def plot_pass_at_k(summaries: dict[str, dict], path: str, title: str = "pass@k on held-out prompts") -> str:
    """One curve per model (``name -> summary``), ±1 standard error as a band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, summary in summaries.items():
        ks = range(1, len(summary["pass_at_k"]) + 1)
        means = [p["mean"] for p in summary["pass_at_k"]]
        ses = [p["se"] for p in summary["pass_at_k"]]
        ax.plot(ks, means, marker="o", ms=3, label=name)
        ax.fill_between(ks, [m - s for m, s in zip(means, ses)], [m + s for m, s in zip(means, ses)], alpha=0.2)
    return save_figure(fig, ax, path, "k", "pass@k", title)


def save_figure(fig, ax, path: str, xlabel: str, ylabel: str, title: str) -> str:
    """Label, grid, legend and write a matplotlib figure to ``path`` (PNG); close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyepo-eval", description=__doc__.split("\n\n")[1])
    parser.add_argument("--model", action="append", required=True, help="PATH or NAME=PATH; repeat to compare")
    parser.add_argument("--data", required=True, help="verl-format parquet (prompt, data_source, reward_model)")
    parser.add_argument("--reward-path", help="file with the reward function (default: verl's by data_source)")
    parser.add_argument("--reward-name", default="compute_score")
    parser.add_argument("--backend", default="labels", help="labels (reward's 'strategy'), ngram, answer, ...")
    parser.add_argument("--backend-option", action="append", default=[], help="KEY=VALUE, e.g. n=2 for ngram")
    parser.add_argument("--n", type=int, default=16, help="samples per prompt")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-prompts", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="polyepo_eval")
    args = parser.parse_args(argv)
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
            args.n,
            reward,
            args.backend,
            args.temperature,
            args.max_new_tokens,
            args.max_prompts,
            args.seed,
            **options,
        )
        s = results[name]["summary"]
        print(
            f"[eval] {name}: pass@1 {s['pass_at_k'][0]['mean']:.3f}  pass@{s['n']} {s['pass_at_k'][-1]['mean']:.3f}  "
            f"distinct correct strategies {s['distinct_correct_strategies']['mean']:.2f} ({s['prompts']} prompts)"
        )
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(results, f, indent=1)
    plot_pass_at_k({name: r["summary"] for name, r in results.items()}, os.path.join(args.out, "pass_at_k.png"))
    print(f"[eval] wrote {args.out}/eval.json and {args.out}/pass_at_k.png")
    return 0


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


if __name__ == "__main__":
    raise SystemExit(main())
