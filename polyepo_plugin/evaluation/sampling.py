"""Sampling N responses per chat prompt: vLLM when installed and a GPU is present, else HF generate.

Both report, per response, whether it ended because of the token budget: vLLM's
``finish_reason == "length"``; for HF, no end-of-sequence token among its new tokens.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Samples:
    responses: list[list[str]]  # per prompt, N decoded responses (special tokens dropped)
    truncated: list[list[bool]]  # per prompt, N flags: the response hit max_new_tokens
    tokenizer: Any


def generate(
    model_path: str,
    prompts: Sequence[list],
    n: int,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = -1,
    seed: int = 0,
    batch_prompts: int = 16,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    progress: bool = True,
) -> Samples:
    """N sampled responses per chat prompt. ``top_k`` <= 0 turns top-k off, ``top_p`` 1.0 top-p.
    ``tensor_parallel_size`` and ``gpu_memory_utilization`` go to vLLM's engine. vLLM does not
    give its GPU memory back while the process lives: ``polyepo-eval`` runs each model in a
    process of its own (``evaluation.worker``)."""
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    texts = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        engine = {"tensor_parallel_size": tensor_parallel_size, "gpu_memory_utilization": gpu_memory_utilization}
        return _generate_vllm(
            model_path, texts, n, max_new_tokens, temperature, top_p, top_k, seed, progress, tok, engine
        )
    return _generate_hf(
        model_path, texts, n, max_new_tokens, temperature, top_p, top_k, seed, batch_prompts, progress, tok
    )


def _generate_vllm(
    model_path, texts, n, max_new_tokens, temperature, top_p, top_k, seed, progress, tok, engine
) -> Samples:
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_path, seed=seed, **engine)
    params = SamplingParams(
        n=n,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k if top_k > 0 else -1,
        max_tokens=max_new_tokens,
        seed=seed,
    )
    outs = llm.generate(texts, params, use_tqdm=progress)
    return Samples(
        [[c.text for c in o.outputs] for o in outs],
        [[c.finish_reason == "length" for c in o.outputs] for o in outs],
        tok,
    )


def _generate_hf(
    model_path, texts, n, max_new_tokens, temperature, top_p, top_k, seed, batch_prompts, progress, tok
) -> Samples:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    eos = end_of_sequence_ids(model.generation_config.eos_token_id, tok.eos_token_id)
    tok.padding_side = "left"
    responses: list[list[str]] = []
    truncated: list[list[bool]] = []
    starts = range(0, len(texts), batch_prompts)
    for start in tqdm(starts, desc=f"sampling {n}/prompt", disable=not progress):
        enc = tok(texts[start : start + batch_prompts], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            ids = model.generate(
                **enc,
                do_sample=True,
                temperature=temperature,
                top_k=max(top_k, 0),  # 0: off
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                num_return_sequences=n,
                pad_token_id=tok.pad_token_id,
            )
        new = ids[:, enc["input_ids"].shape[1] :]
        decoded = tok.batch_decode(new, skip_special_tokens=True)
        cut = hit_budget(new.tolist(), eos)
        responses += [decoded[i : i + n] for i in range(0, len(decoded), n)]
        truncated += [cut[i : i + n] for i in range(0, len(cut), n)]
    return Samples(responses, truncated, tok)


def end_of_sequence_ids(*ids) -> set[int]:
    """The ids that end a response: ints or lists of ints (e.g. a generation config's and a tokenizer's)."""
    out: set[int] = set()
    for value in ids:
        if value is None:
            continue
        out.update([value] if isinstance(value, int) else value)
    return out


def hit_budget(new_tokens: Sequence[Sequence[int]], eos: set[int]) -> list[bool]:
    """Per generated sequence: True when none of its new tokens ends a sequence, i.e. generation
    stopped only because the budget ran out (generate pads finished sequences after their end token)."""
    return [not any(t in eos for t in seq) for seq in new_tokens]
