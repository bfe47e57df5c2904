"""The demo's base policy: a tokenizer and a tiny Qwen2 built locally, pre-trained by SFT.

The SFT targets are correct responses spread evenly over each training problem's four methods
and the three wordings of each, so the base model starts diverse; RL then decides whether it
stays so. The result is cached (default ``~/.cache/polyepo/demo-base-<key>``, key = every
setting below, the seed and the SFT texts themselves, so a change of the task is a new model)
and reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time

from polyepo_plugin.demo import task
from polyepo_plugin.cpu_harness.tiny_lm import IM_END, IM_START, random_qwen2, train_tokenizer

SETTINGS = {
    "version": 4,
    "vocab": 1024,
    "hidden": 128,
    "layers": 2,
    "heads": 4,
    "sft_steps": 600,
    "batch": 64,
    "lr": 3e-3,
}


def default_cache_root() -> str:
    return os.environ.get("POLYEPO_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "polyepo"))


def build_tokenizer(out_dir: str):
    """Byte-level BPE trained on the task's own text (digits one per token, most words one)."""
    corpus = [
        f"{IM_START}user\n{task.question(t)}{IM_END}\n{IM_START}assistant\n{text}{IM_END}\n"
        for t, primes in task.all_problems()
        for text in task.correct_responses(primes)
    ]
    return train_tokenizer(corpus, out_dir, vocab_size=SETTINGS["vocab"])


def sft_texts(problems) -> list[tuple[str, list[str]]]:
    """(question, its correct responses) of every problem: what SFT fits."""
    return [(task.question(t), task.correct_responses(primes)) for t, primes in problems]


def _sft_examples(tok, problems, seed: int) -> list[tuple[list[int], int]]:
    """(token ids, prompt length) of every (problem, correct method, wording)."""
    out = []
    for question, responses in sft_texts(problems):
        prompt = tok.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        for text in responses:
            answer = tok(f"{text}{IM_END}", add_special_tokens=False)["input_ids"]
            out.append((prompt_ids + answer, len(prompt_ids)))
    random.Random(seed).shuffle(out)
    return out


def pretrain(out_dir: str, train_problems, seed: int = 0, log=print, sft_steps: int | None = None) -> str:
    """Build tokenizer + model in ``out_dir`` and fit the response tokens by SFT (``sft_steps``: tests)."""
    import torch

    s = SETTINGS
    torch.set_num_threads(1)  # on a shared 2-core machine more threads run ~10x slower (measured)
    tok = build_tokenizer(out_dir)
    model = random_qwen2(tok, s["hidden"], s["layers"], s["heads"], s["heads"], max_positions=128, seed=seed)
    examples = _sft_examples(tok, train_problems, seed)
    optim = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=0.0)
    total = s["sft_steps"] if sft_steps is None else sft_steps
    rng = random.Random(seed)
    start = time.time()
    for step in range(1, total + 1):
        batch = rng.sample(examples, min(s["batch"], len(examples)))
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), tok.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        attn = torch.zeros(len(batch), width, dtype=torch.long)
        for row, (seq, plen) in enumerate(batch):  # right padding; loss on the response only
            ids[row, : len(seq)] = torch.tensor(seq)
            labels[row, plen : len(seq)] = torch.tensor(seq[plen:])
            attn[row, : len(seq)] = 1
        loss = model(input_ids=ids, attention_mask=attn, labels=labels).loss
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 100 == 0 or step == total:
            log(f"[base] SFT step {step}/{total} loss {loss.item():.3f} ({time.time() - start:.0f}s)")
    model.save_pretrained(out_dir)
    return out_dir


def cache_key(train_problems, seed: int = 0) -> str:
    """Names the base model: every setting, the seed, and the SFT texts (so the task's wording too)."""
    key_src = json.dumps({"settings": SETTINGS, "sft": sft_texts(train_problems), "seed": seed})
    return hashlib.sha256(key_src.encode()).hexdigest()[:12]


def cached_base_model(train_problems, seed: int = 0, cache_root: str | None = None, log=print) -> str:
    """Path of the pre-trained base model for these problems, training it on first use."""
    final = os.path.join(cache_root or default_cache_root(), f"demo-base-{cache_key(train_problems, seed)}")
    if os.path.exists(os.path.join(final, "config.json")):
        log(f"[base] using cached base model {final}")
        return final
    log(f"[base] pre-training the base model (first run) into {final}")
    tmp = f"{final}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    pretrain(tmp, train_problems, seed=seed, log=log)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    try:
        os.replace(tmp, final)  # atomic: a concurrent run either sees nothing or the whole model
    except OSError:  # another run finished first; use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return final
