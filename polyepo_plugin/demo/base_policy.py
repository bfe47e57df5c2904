"""The demo's base policy: a tokenizer and a tiny Qwen2 built locally, pre-trained by SFT.

The SFT targets are correct answers spread evenly over each training problem's three primes,
so the base model starts diverse; RL then decides whether it stays so. The result is cached
(default ``~/.cache/polyepo/demo-base-<key>``, key = every setting below) and reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time

from polyepo_plugin.cpu_harness.tiny_assets import CHAT_TEMPLATE, IM_END, IM_START, PAD
from polyepo_plugin.demo import task

SETTINGS = {"version": 1, "hidden": 128, "layers": 2, "heads": 4, "sft_steps": 600, "batch": 64, "lr": 3e-3}


def default_cache_root() -> str:
    return os.environ.get("POLYEPO_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "polyepo"))


def build_tokenizer(out_dir: str):
    """Byte-level BPE trained on the task's own text (byte-level so that "\\n" is one token,
    which verl checks; transformers 5 reloads it as a Qwen2 tokenizer, digits one per token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        f"{IM_START}user\n{task.question(t)}{IM_END}\n{IM_START}assistant\n{p}{IM_END}\n"
        for t, primes in task.all_problems()
        for p in primes
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD)
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.save_pretrained(out_dir)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(out_dir)  # what verl will load, not what we built


def _sft_examples(tok, problems, seed: int) -> list[tuple[list[int], int]]:
    """(token ids, prompt length) of every (problem, correct prime) pair."""
    out = []
    for t, primes in problems:
        prompt = tok.apply_chat_template(
            [{"role": "user", "content": task.question(t)}], add_generation_prompt=True, tokenize=False
        )
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        for p in primes:
            answer = tok(f"{p}{IM_END}", add_special_tokens=False)["input_ids"]
            out.append((prompt_ids + answer, len(prompt_ids)))
    random.Random(seed).shuffle(out)
    return out


def pretrain(out_dir: str, train_problems, seed: int = 0, log=print, sft_steps: int | None = None) -> str:
    """Build tokenizer + model in ``out_dir`` and fit the response tokens by SFT (``sft_steps``: tests)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    s = SETTINGS
    torch.set_num_threads(1)  # on a shared 2-core machine more threads run ~10x slower (measured)
    tok = build_tokenizer(out_dir)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=s["hidden"],
        intermediate_size=2 * s["hidden"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["heads"],
        max_position_embeddings=128,
        tie_word_embeddings=False,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).float()
    examples = _sft_examples(tok, train_problems, seed)
    optim = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=0.0)
    rng = random.Random(seed)
    start = time.time()
    total = s["sft_steps"] if sft_steps is None else sft_steps
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
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model.save_pretrained(out_dir)
    return out_dir


def cached_base_model(train_problems, seed: int = 0, cache_root: str | None = None, log=print) -> str:
    """Path of the pre-trained base model for these problems, training it on first use."""
    key_src = json.dumps({"settings": SETTINGS, "problems": [t for t, _ in train_problems], "seed": seed})
    key = hashlib.sha256(key_src.encode()).hexdigest()[:12]
    final = os.path.join(cache_root or default_cache_root(), f"demo-base-{key}")
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
