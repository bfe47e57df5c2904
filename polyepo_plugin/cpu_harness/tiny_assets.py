"""Tiny local assets for CPU smoke runs: a random Qwen2 model, a tokenizer, parquet data.

Nothing here touches the Hugging Face hub. The model is random, so it learns nothing
useful in two steps; the point is that verl's real trainer runs end to end.
TEST/DEMO only.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable

IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"

# Qwen-style template; verl checks that "\n" is a single token, which byte-level BPE gives.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

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
    """Train a byte-level BPE tokenizer locally and save it with ``save_pretrained``.

    Byte-level (not a character WordLevel vocabulary): transformers 5 loads a qwen2
    model's tokenizer as ``Qwen2Tokenizer`` and adds a ByteLevel pre-tokenizer, which
    would silently drop ``"\\n"`` from a character vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_corpus(), trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=IM_END, pad_token=PAD, unk_token=None, bos_token=None
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.padding_side = "left"
    hf_tok.save_pretrained(out_dir)
    return hf_tok


def build_tiny_model(out_dir: str, seed: int = 0, hidden_size: int = 64, num_layers: int = 2) -> str:
    """Save a random fp32 Qwen2 causal LM plus its tokenizer into ``out_dir``; return ``out_dir``."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    os.makedirs(out_dir, exist_ok=True)
    tok = build_tokenizer(out_dir)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model.save_pretrained(out_dir)
    return out_dir


def write_parquet(examples: Iterable[dict], path: str, split: str = "train", data_source: str = DATA_SOURCE) -> str:
    """Write ``{"question", "answer"}`` examples as a verl RL parquet file; return ``path``."""
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
            }
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def build_all(root: str, n_train: int = 16, n_val: int = 8, seed: int = 0) -> dict[str, str]:
    """Model dir, train/val parquet and reward file under ``root``; returns their paths."""
    from . import toy_reward

    model_dir = build_tiny_model(os.path.join(root, "tiny_qwen2"), seed=seed)
    train = write_parquet(toy_examples(n_train, seed=seed), os.path.join(root, "data", "train.parquet"), "train")
    val = write_parquet(toy_examples(n_val, seed=seed + 1), os.path.join(root, "data", "val.parquet"), "test")
    return {"model": model_dir, "train": train, "val": val, "reward": os.path.abspath(toy_reward.__file__)}
