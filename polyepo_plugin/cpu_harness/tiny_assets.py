"""Tiny local assets for CPU smoke runs: a random Qwen2 model, a tokenizer, parquet data.

Nothing here touches the Hugging Face hub. The model is random, so it learns nothing
useful in two steps; the point is that verl's real trainer runs end to end.
TEST/DEMO only.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable

from polyepo_plugin.cpu_harness.tiny_lm import IM_END, IM_START, random_qwen2, train_tokenizer

DATA_SOURCE = "polyepo_toy_add"


def toy_examples(n: int, seed: int = 0, max_operand: int = 9) -> list[dict]:
    """``n`` addition problems: ``{"question": "Add 3 and 4", "answer": "7"}``."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(0, max_operand), rng.randint(0, max_operand)
        out.append({"question": f"Add {a} and {b}", "answer": str(a + b)})
    return out


def _training_corpus() -> list[str]:
    # Enough text for a few hundred merges covering the template and the toy task.
    lines = [
        f"{IM_START}user\nAdd {a} and {b}{IM_END}\n{IM_START}assistant\n{a + b}{IM_END}\n"
        for a in range(10)
        for b in range(10)
    ]
    lines += ["system user assistant answer the question with a number", "0123456789 +-=.,:!?"]
    return lines


def build_tokenizer(out_dir: str, vocab_size: int = 384):
    """The smoke runs' tokenizer, trained locally on the toy task's text, saved in ``out_dir``."""
    return train_tokenizer(_training_corpus(), out_dir, vocab_size)


def build_tiny_model(out_dir: str, seed: int = 0, hidden_size: int = 64, num_layers: int = 2) -> str:
    """Save a random fp32 Qwen2 causal LM plus its tokenizer into ``out_dir``; return ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    tok = build_tokenizer(out_dir)
    random_qwen2(
        tok, hidden_size, num_layers, num_heads=4, num_kv_heads=2, max_positions=512, seed=seed
    ).save_pretrained(out_dir)
    return out_dir


def write_parquet(
    examples: Iterable[dict],
    path: str,
    split: str = "train",
    data_source: str = DATA_SOURCE,
    agent_name: str | None = None,
) -> str:
    """Write ``{"question", "answer"}`` examples as a verl RL parquet file; return ``path``.

    ``agent_name``, if given, fills verl's ``agent_name`` column: the agent loop of every row
    (e.g. ``tool_agent``); without it verl runs its default, single-turn loop.
    """
    import pandas as pd

    rows = []
    for i, ex in enumerate(examples):
        rows.append(
            {
                "data_source": data_source,
                "prompt": [{"role": "user", "content": ex["question"]}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(ex["answer"])},
                "extra_info": {"split": split, "index": i, "question": ex["question"]},
                **({"agent_name": agent_name} if agent_name else {}),
            }
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def build_all(
    root: str, n_train: int = 16, n_val: int = 8, seed: int = 0, agent_name: str | None = None
) -> dict[str, str]:
    """Model dir, train/val parquet and reward file under ``root``; returns their paths.
    ``agent_name`` is that of every row (see ``write_parquet``)."""
    from . import toy_reward

    model_dir = build_tiny_model(os.path.join(root, "tiny_qwen2"), seed=seed)
    data = os.path.join(root, "data")
    train = write_parquet(
        toy_examples(n_train, seed=seed), os.path.join(data, "train.parquet"), "train", agent_name=agent_name
    )
    val = write_parquet(
        toy_examples(n_val, seed=seed + 1), os.path.join(data, "val.parquet"), "test", agent_name=agent_name
    )
    return {"model": model_dir, "train": train, "val": val, "reward": os.path.abspath(toy_reward.__file__)}
