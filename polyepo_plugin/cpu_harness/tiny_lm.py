"""Tiny language models built locally: a byte-level BPE tokenizer and a small random Qwen2.

Shared by the CPU harness's smoke assets and the demo's base policy. Nothing here touches the
Hugging Face hub.
"""

from __future__ import annotations

from collections.abc import Iterable

IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"

# Qwen-style template; verl checks that "\n" is a single token, which byte-level BPE gives.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(corpus: Iterable[str], out_dir: str, vocab_size: int):
    """Train a byte-level BPE tokenizer on ``corpus``, save it to ``out_dir`` and load it back.

    Byte-level (not a character WordLevel vocabulary): transformers 5 loads a qwen2 model's
    tokenizer as ``Qwen2Tokenizer`` and adds a ByteLevel pre-tokenizer, which would silently drop
    ``"\\n"`` from a character vocabulary. Returned as verl will load it, not as built.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=IM_END, pad_token=PAD, unk_token=None, bos_token=None
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.padding_side = "left"
    hf_tok.save_pretrained(out_dir)
    return AutoTokenizer.from_pretrained(out_dir)


def random_qwen2(tokenizer, hidden_size: int, num_layers: int, num_heads: int, num_kv_heads: int,
                 max_positions: int, seed: int):
    """A randomly initialised fp32 ``Qwen2ForCausalLM`` sized for ``tokenizer``'s vocabulary."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return model
