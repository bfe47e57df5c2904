"""Label strategies outside verl: the diversity backends on plain lists of texts.

For evaluation scripts and notebooks, e.g. counting the distinct strategies among a model's
samples, with the same backends, options and default backend as training::

    from polyepo_plugin.diversity.strategies import label_strategies
    label_strategies(groups)  # the training default, diversity.backend=semantic
    label_strategies([["x = 2 by factoring", "x = 2, factoring again", "guess"]], backend="ngram", n=2)
    label_strategies(groups, prompts, backend="embedding", threshold=0.85)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from polyepo_plugin.config import DiversityConfig, parse_config
from polyepo_plugin.diversity import check_backend_ready, label_groups
from polyepo_plugin.diversity.groups import ResponseGroups
from polyepo_plugin.grouping import DEGENERATE, GroupLayout

_WORD = re.compile(r"\w+|[^\w\s]")


def label_strategies(
    responses: Sequence[Sequence[str]],
    prompts: Sequence[str] | None = None,
    backend: str = DiversityConfig.backend,
    tokenizer: Any = None,
    **options: Any,
) -> list[list[int]]:
    """One list of strategy labels per group of responses; ``-1`` marks a degenerate response.

    ``responses[g]`` are the responses to prompt ``prompts[g]`` (``""`` for every prompt when
    None; only the ``judge`` and ``custom`` backends read prompts). ``backend`` defaults to
    training's default (``DiversityConfig.backend``). ``options`` are the backend's
    options as under ``algorithm.poly_epo.diversity.<backend>`` (e.g. ``n=2`` for ngram,
    ``threshold=0.85`` for embedding, ``path=...`` for custom), validated like a training config;
    the ``labels`` backend has no meaning here. Labels are numbered 0, 1, ... within each group
    in order of first appearance; they are comparable only within a group. A judge group whose
    labelling fails gets ``judge.fallback``'s labels, with a logged warning, as in training.

    Token-based backends (ngram) see ``tokenizer``'s ids when one is given (anything with
    ``encode(text, add_special_tokens=False)``, e.g. a Hugging Face tokenizer), else a simple
    deterministic tokenization: each run of word characters and each other non-space character
    is one token, its id a CRC32 of the token, so results are the same in every process.
    """
    config = diversity_config(backend, **options)
    groups = response_groups(responses, prompts, tokenizer)
    if groups.layout.num_rows == 0:
        return [[] for _ in responses]
    labels = label_groups(config, groups).labels
    out: list[list[int]] = [[] for _ in responses]
    for g, members in zip(groups.layout.uids, groups.member_rows):
        out[g] = _renumber(labels[members])
    return out


def diversity_config(backend: str = DiversityConfig.backend, **options: Any) -> DiversityConfig:
    """``backend`` with its ``options`` (as under ``diversity.<backend>``), validated like a training
    config: unknown options and bad values are a ``ValueError``."""
    diversity = {"backend": backend, backend: dict(options)} if options else {"backend": backend}
    return parse_config({"poly_epo": {"diversity": diversity}}).diversity


def check_backend(backend: str = DiversityConfig.backend, **options: Any) -> None:
    """Fail now, before any work, when ``backend`` cannot label: an unknown name or option, or
    the backend's own start-up check (``check_ready``: a judge that does not answer, a model
    that does not load). A ``ValueError`` (or the backend's error) that says what is wrong."""
    check_backend_ready(diversity_config(backend, **options))


def response_groups(
    responses: Sequence[Sequence[str]], prompts: Sequence[str] | None = None, tokenizer: Any = None
) -> ResponseGroups:
    """What a backend reads, built from texts: groups by position, token ids (see ``label_strategies``)
    under a response mask, and the texts themselves, so nothing needs decoding."""
    if prompts is not None and len(prompts) != len(responses):
        raise ValueError(f"label_strategies: {len(prompts)} prompts for {len(responses)} groups of responses")
    texts = [str(text) for group in responses for text in group]
    index = np.array([g for g, group in enumerate(responses) for _ in group], dtype=object)
    tokens, mask = tokenized_texts(texts, tokenizer)
    group_prompts = [""] * len(responses) if prompts is None else [str(p) for p in prompts]
    return ResponseGroups(
        GroupLayout.from_index(index),
        mask,
        {"responses": tokens},
        None,
        tokenizer,
        decoded_responses=texts,
        decoded_prompts=[group_prompts[g] for g in index],
    )


def tokenized_texts(texts: Sequence[str], tokenizer: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, L)`` right-padded token ids of ``texts`` and their 0/1 mask, tokenized as
    ``label_strategies`` says (``tokenizer``'s ids, else the deterministic word tokens)."""
    return _pad([_tokenize(str(text), tokenizer) for text in texts])


def _tokenize(text: str, tokenizer: Any) -> list[int]:
    if tokenizer is not None:
        return list(tokenizer.encode(text, add_special_tokens=False))
    return [zlib.crc32(token.encode()) for token in _WORD.findall(text)]


def _pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(B, L)`` token ids and their 0/1 mask."""
    width = max([1, *map(len, rows)])
    tokens = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width)
    for row, ids in enumerate(rows):
        tokens[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        mask[row, : len(ids)] = 1
    return tokens, mask


def _renumber(labels: np.ndarray) -> list[int]:
    """0, 1, ... in order of first appearance; ``-1`` stays."""
    codes: dict[int, int] = {}
    return [codes.setdefault(int(label), len(codes)) if label >= 0 else DEGENERATE for label in labels]
