"""Strategy clusters from response texts, robust to paraphrase: pure functions, no verl.

Two steps, each a plain function so that a backend, a benchmark or a notebook can call them:

1. ``embed_responses(texts, model, ...) -> (n, D)``: one unit vector per response that reads the
   WHOLE text, however long (the sentence model itself sees at most ``max_seq_length`` = 256
   word pieces at a time):

   - ``encoder="contextual"``: the text is cut at sentence ends into units of at most
     ``unit_tokens`` word pieces (a longer sentence is cut into windows of ``unit_tokens``); every
     unit is embedded by the model; the response vector is the mean of its units' vectors,
     weighted by their word-piece counts, normalised to unit length. Cost: one model pass over
     every word piece of every response.
   - ``encoder="static"``: every word piece of the text is looked up in a table holding, for each
     word piece t of the model's vocabulary, the model's embedding of the one-token text
     ``[CLS] t [SEP]`` (computed lazily, in fixed blocks of ids, and kept per model object); the
     response vector is the mean of its word pieces' vectors weighted by the inverse document
     frequency over the texts of the call, ``idf_t = log((N + 1) / df_t)`` (N texts, df_t of
     them contain t), normalised. No attention across the text: about 30 times cheaper than
     ``contextual`` once the table rows exist (on 2 CPU cores, about 200,000 word pieces/s
     against 6,000), and somewhat less accurate.

   A blank text gets the zero vector.

2. ``cluster_group(vectors, texts=None, ...) -> list[int]``: strategy labels for one group,
   from the vectors and texts of its responses WITHOUT their final answers (``reasoning_text``:
   ``final_answer.without_final_answer``; correct responses share their answer whatever their
   strategy, so it must weigh nothing). With ``x_i`` the unit vectors of the m present
   (non-blank) responses:

   - the embedding channel discounts what the group shares: with density weights
     ``w_i = 1 / sum_j exp((x_i . x_j - 1) / bandwidth)`` (a response in a crowd of near-copies
     counts less, so a majority strategy does not define the common part), the common vector is
     ``c = sum_i w_i x_i / sum_i w_i`` and ``u_i = (x_i - c) / |x_i - c|``;
     ``S_sem[i, j] = u_i . u_j``;
   - the numbers channel: the numbers of each text are weighted by ``log(m / df)`` over the
     group, keeping numbers found in 2..m-1 responses (a number every response states, e.g. the
     problem's data, says nothing about the strategy); with ``p_i`` these weight vectors,
     ``S_num[i, j] = p_i . p_j / sqrt((|p_i|^2 + s)(|p_j|^2 + s))``, a cosine damped by
     ``s = numbers_smoothing`` for responses with little numeric evidence;
   - the words and steps channels (``strategy_terms``): cosines of within-group TF-IDF weights
     of stemmed words and word pairs (``S_words``), and of the worked steps' shapes, numbers
     replaced by ``N`` (``S_steps``);
   - ``S = sum_c w_c z(S_c) / sum_c w_c`` with ``w = (1 - numbers_weight - words_weight -
     steps_weight, numbers_weight, words_weight, steps_weight)``, where ``z`` standardises the
     off-diagonal entries of a matrix within the group (standard deviation floored at ``0.05``);
     a channel whose pairs are all alike (no informative number, no weighted term) leaves the
     sum, and so do the text channels when no texts are given;
   - average linkage: repeatedly merge the two clusters with the largest mean ``S`` over their
     cross pairs while it is at least ``threshold`` (0.0: the group's average pair); copies
     (``x_i . x_j >= duplicate_cosine``, by default only texts embedded identically) are merged
     first whatever ``S`` says.

   Labels are 0, 1, ... in order of first appearance; ``-1`` marks a blank response (zero vector
   or blank text). A group of two present responses is one strategy iff ``x_1 . x_2 >=
   pair_cosine`` (a raw cosine, so its scale depends on the encoder: the default 0.98 links only
   near-copies); one present response is strategy 0. Standardising within the group makes the
   threshold relative: a group whose responses all share one strategy is still split where its
   paraphrases differ most, while groups with 2-4 strategies are neither merged into one nor
   shattered. Defaults were chosen on the development families of
   ``benchmarks/data/strategy_sets`` (``benchmarks/bench_strategy_detection.py``).

``label_texts(groups, model, ...)`` removes the final answers and does both for many groups with
one embedding pass. The functions that loop take ``checkpoint``, a function called between
model batches and between groups that may raise to stop the work (a cancelled labelling).
Deterministic: no sampling, ties broken by index, the same texts give the same labels in every
process (same library versions and threads). Nothing here imports verl or the plugin's config;
the only plugin modules used are the pure ``final_answer`` and ``strategy_terms``.
"""

from __future__ import annotations

import math
import re
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from polyepo_plugin.diversity.final_answer import without_final_answer
from polyepo_plugin.diversity.strategy_terms import step_terms, term_similarity, word_terms

ENCODERS = ("contextual", "static")
STATIC_BLOCK = 32  # static table rows are computed in fixed blocks of word-piece ids (same batches, same bits)
Z_FLOOR = 0.05
ANSWER_ONLY = "(a final answer only)"

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_static_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _carry_on() -> None:
    """The default ``checkpoint``: never stops."""


# ---------------------------------------------------------------------------------------------
# Reading the whole response
# ---------------------------------------------------------------------------------------------


def split_units(texts: Sequence[str], tokenizer: Any, unit_tokens: int = 128) -> list[list[list[int]]]:
    """Word-piece ids of each text cut into units: ``out[i]`` lists the units of ``texts[i]``.

    A unit is one sentence (split after ``. ! ? ; :`` followed by white space, and at line
    breaks); a sentence longer than ``unit_tokens`` word pieces is cut into consecutive windows
    of ``unit_tokens``; a unit of fewer than 4 word pieces is joined to the previous one of the
    same text when the result fits. Every sentence's word pieces are in exactly one unit, in order
    (sentences are tokenized one by one, without special tokens).
    """
    if unit_tokens < 4:
        raise ValueError(f"unit_tokens must be at least 4, got {unit_tokens}")
    pieces = [[s for s in _SENTENCE_END.split(text) if s and s.strip()] for text in texts]
    flat = [s for sentences in pieces for s in sentences]
    ids = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
    out, k = [], 0
    for sentences in pieces:
        units: list[list[int]] = []
        for _ in sentences:
            sentence = list(ids[k])
            k += 1
            for start in range(0, len(sentence), unit_tokens):
                window = sentence[start : start + unit_tokens]
                if units and len(window) < 4 and len(units[-1]) + len(window) <= unit_tokens:
                    units[-1] = units[-1] + window
                else:
                    units.append(window)
        out.append([u for u in units if u])
    return out


def _dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def _encode_ids(
    model: Any, units: Sequence[Sequence[int]], batch_size: int, checkpoint: Callable[[], None] = _carry_on
) -> np.ndarray:
    """The model's sentence embedding of each unit ``[CLS] ids [SEP]``: ``(len(units), D)`` float32.

    Units are batched in order of length (stable), so the batches depend only on the units given.
    """
    tokenizer = model.tokenizer
    device = next(model.parameters()).device
    dim = _dimension(model)
    out = np.zeros((len(units), dim), dtype=np.float32)
    order = sorted(range(len(units)), key=lambda k: len(units[k]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            checkpoint()
            batch = order[start : start + batch_size]
            width = max(len(units[k]) for k in batch) + 2
            input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, k in enumerate(batch):
                seq = [tokenizer.cls_token_id, *units[k], tokenizer.sep_token_id]
                input_ids[row, : len(seq)] = torch.as_tensor(seq)
                mask[row, : len(seq)] = 1
            features = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
            if "token_type_ids" in getattr(tokenizer, "model_input_names", ["token_type_ids"]):
                features["token_type_ids"] = torch.zeros_like(features["input_ids"])
            embedded = model(features)["sentence_embedding"].float().cpu().numpy()
            out[batch] = embedded
    return out


def static_table(model: Any, ids: Sequence[int], checkpoint: Callable[[], None] = _carry_on) -> dict[int, np.ndarray]:
    """Rows of the model's one-word-piece table for ``ids``: ``{id: (D,) float32 unit vector}``.

    Row t is the model's embedding of the text ``[CLS] t [SEP]``. Rows are computed in fixed
    blocks of ``STATIC_BLOCK`` consecutive ids, one batch per block on one CPU thread, so a row's
    bits do not depend on which other ids were asked for before nor on the thread count, and are
    kept for the life of the model object (the whole vocabulary, 954 blocks for MiniLM, takes
    about 20-35 s on 2 CPU cores; a step builds only the blocks its texts use).
    """
    table = _static_tables.setdefault(model, {})
    vocab = len(model.tokenizer)
    blocks = sorted({int(t) // STATIC_BLOCK for t in ids if int(t) not in table})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is faster, and the bits do not depend on the thread count
    try:
        for block in blocks:
            members = list(range(block * STATIC_BLOCK, min((block + 1) * STATIC_BLOCK, vocab)))
            vectors = _encode_ids(model, [[t] for t in members], STATIC_BLOCK, checkpoint)  # one batch per block
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            table.update(zip(members, vectors))
    finally:
        torch.set_num_threads(threads)
    return {int(t): table[int(t)] for t in ids}


def embed_responses(
    texts: Sequence[str],
    model: Any,
    encoder: str = "contextual",
    unit_tokens: int = 128,
    batch_size: int = 64,
    checkpoint: Callable[[], None] = _carry_on,
) -> np.ndarray:
    """One unit vector per text reading the whole text: ``(len(texts), D)`` float32; zeros if blank.

    ``model`` is a loaded ``sentence_transformers.SentenceTransformer`` with a BERT-style
    tokenizer (``[CLS]``/``[SEP]``), e.g. all-MiniLM-L6-v2. ``encoder``: ``"contextual"`` (mean
    of the embeddings of sentence units of at most ``unit_tokens`` word pieces, weighted by
    their lengths) or ``"static"`` (IDF-weighted mean of per-word-piece table rows, IDF over
    these ``texts``: call it once with all the responses of a step); see the module docstring.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    limit = getattr(model, "max_seq_length", None)
    if limit and unit_tokens + 2 > limit:
        raise ValueError(f"unit_tokens + 2 = {unit_tokens + 2} exceeds the model's max_seq_length {limit}")
    dim = _dimension(model)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    present = [i for i, text in enumerate(texts) if str(text).strip()]
    if not present:
        return out
    if encoder == "contextual":
        units = split_units([texts[i] for i in present], model.tokenizer, unit_tokens)
        flat = [u for per_text in units for u in per_text]
        vectors = _encode_ids(model, flat, batch_size, checkpoint)
        k = 0
        for i, per_text in zip(present, units):
            lengths = np.array([len(u) for u in per_text], dtype=np.float64)
            pooled = (lengths[:, None] * vectors[k : k + len(per_text)]).sum(0)
            k += len(per_text)
            out[i] = pooled / max(np.linalg.norm(pooled), 1e-12)
        return out
    ids = model.tokenizer([texts[i] for i in present], add_special_tokens=False)["input_ids"]
    table = static_table(model, sorted({t for row in ids for t in row}), checkpoint)
    df = Counter(t for row in ids for t in set(row))
    n = len(ids)
    for i, row in zip(present, ids):
        if not row:
            continue
        weights = np.array([math.log((n + 1) / df[t]) for t in row])
        pooled = (weights[:, None] * np.stack([table[t] for t in row])).sum(0)
        out[i] = pooled / max(np.linalg.norm(pooled), 1e-12)
    return out


# ---------------------------------------------------------------------------------------------
# Clustering one group
# ---------------------------------------------------------------------------------------------


def number_profiles(texts: Sequence[str]) -> np.ndarray:
    """``(m, V)`` weights of the numbers stated in 2..m-1 of the texts: ``log(m / df)`` where present.

    Give texts without their final answer (``final_answer.without_final_answer``); a row is zero
    when its text has none of these numbers.
    """
    bags = [set(_NUMBER.findall(text)) for text in texts]
    m = len(bags)
    df = Counter(x for bag in bags for x in bag)
    vocabulary = sorted(x for x, count in df.items() if 2 <= count < m)
    profiles = np.zeros((m, len(vocabulary)))
    for col, x in enumerate(vocabulary):
        weight = math.log(m / df[x])
        for row, bag in enumerate(bags):
            if x in bag:
                profiles[row, col] = weight
    return profiles


def number_similarity(texts: Sequence[str], smoothing: float = 0.1) -> np.ndarray:
    """``S_num[i, j] = p_i . p_j / sqrt((p_i . p_i + smoothing) (p_j . p_j + smoothing))``, p = ``number_profiles``.

    A cosine damped for responses with little numeric evidence: two responses that share only
    one number of small weight (found in most of the group) do not look alike.
    """
    profiles = number_profiles(texts)
    gram = profiles @ profiles.T
    scale = np.sqrt(np.maximum(np.diag(gram) + smoothing, 1e-12))
    return gram / scale[:, None] / scale[None, :]


def centred_similarity(vectors: np.ndarray, bandwidth: float = 0.05) -> np.ndarray:
    """``S_sem``: cosine similarity after removing the density-weighted common vector (docstring)."""
    x = np.asarray(vectors, dtype=np.float64)
    cosine = x @ x.T
    weights = 1.0 / np.exp((cosine - 1.0) / bandwidth).sum(1)
    common = (weights[:, None] * x).sum(0) / weights.sum()
    u = x - common
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return u @ u.T


def standardise(similarity: np.ndarray) -> np.ndarray:
    """``(S - mean) / max(std, Z_FLOOR)`` with mean and std over the off-diagonal pairs."""
    upper = similarity[np.triu_indices(len(similarity), 1)]
    return (similarity - upper.mean()) / max(float(upper.std()), Z_FLOOR)


def average_linkage(similarity: np.ndarray, threshold: float, must_link: np.ndarray | None = None) -> list[int]:
    """Clusters of one group by average linkage: merge while the best mean cross similarity >= threshold.

    ``similarity`` is ``(m, m)`` symmetric; ``must_link`` (bool ``(m, m)``) pairs are merged first.
    Ties go to the pair of clusters with the smallest first members. Returns one cluster index
    per item, numbered in order of first appearance.
    """
    m = len(similarity)
    clusters = [[i] for i in range(m)]
    if must_link is not None:
        for i in range(m):
            for j in range(i + 1, m):
                if must_link[i, j]:
                    a = next(k for k, c in enumerate(clusters) if i in c)
                    b = next(k for k, c in enumerate(clusters) if j in c)
                    if a != b:
                        low, high = sorted((a, b))
                        clusters[low] = sorted(clusters[low] + clusters[high])
                        del clusters[high]
    while len(clusters) > 1:
        best, pair = -math.inf, None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                value = float(similarity[np.ix_(clusters[a], clusters[b])].mean())
                if value > best:
                    best, pair = value, (a, b)
        if best < threshold:
            break
        a, b = pair
        clusters[a] = sorted(clusters[a] + clusters[b])
        del clusters[b]
    clusters.sort(key=min)
    labels = [0] * m
    for label, members in enumerate(clusters):
        for i in members:
            labels[i] = label
    return labels


def reasoning_text(text: str) -> str:
    """What the clustering compares: ``text`` without its final answer; ``ANSWER_ONLY`` for a
    response that states nothing else (bare answers share one strategy); blank stays blank."""
    if not text.strip():
        return ""
    return without_final_answer(text).strip() or ANSWER_ONLY


def cluster_group(
    vectors: np.ndarray,
    texts: Sequence[str] | None = None,
    threshold: float = 0.0,
    numbers_weight: float = 0.33,
    words_weight: float = 0.17,
    steps_weight: float = 0.33,
    numbers_smoothing: float = 0.1,
    bandwidth: float = 0.05,
    duplicate_cosine: float = 0.9999,
    pair_cosine: float = 0.98,
) -> list[int]:
    """Strategy labels of one group: ``vectors`` ``(n, D)`` from ``embed_responses``, ``texts`` its n texts.

    Give ``vectors`` and ``texts`` of the texts without their final answers (``label_texts``
    does). Formula in the module docstring. Labels are 0..C-1 in order of first appearance,
    ``-1`` for a blank response (zero vector, or blank text when ``texts`` is given). Without
    ``texts`` only the embeddings are used (the text channels' weights are ignored).
    """
    x = np.asarray(vectors, dtype=np.float64)
    present = np.linalg.norm(x, axis=1) > 0
    if texts is not None:
        if len(texts) != len(x):
            raise ValueError(f"cluster_group: {len(texts)} texts for {len(x)} vectors")
        present &= np.array([bool(str(t).strip()) for t in texts], dtype=bool)
    rows = np.flatnonzero(present)
    labels = [-1] * len(x)
    if rows.size == 0:
        return labels
    units = x[rows] / np.linalg.norm(x[rows], axis=1, keepdims=True)
    if rows.size <= 2:
        same = rows.size == 1 or float(units[0] @ units[1]) >= pair_cosine
        for k, row in enumerate(rows):
            labels[row] = 0 if same or k == 0 else 1
        return labels
    channels = [(1.0 - numbers_weight - words_weight - steps_weight, centred_similarity(units, bandwidth))]
    if texts is not None:
        kept = [str(texts[row]) for row in rows]
        if numbers_weight > 0:
            channels.append((numbers_weight, number_similarity(kept, numbers_smoothing)))
        if words_weight > 0:
            channels.append((words_weight, term_similarity([word_terms(t) for t in kept])))
        if steps_weight > 0:
            channels.append((steps_weight, term_similarity([step_terms(t) for t in kept])))
    combined = combine_channels(channels)
    found = average_linkage(combined, threshold, must_link=units @ units.T >= duplicate_cosine)
    for row, label in zip(rows, found):
        labels[row] = label
    return labels


def combine_channels(channels: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    """``sum_c w_c z(S_c) / sum_c w_c`` over the channels whose off-diagonal entries vary.

    A channel with nothing to compare (no informative number, no weighted term: all its pairs
    alike) leaves the sum, and the other channels' weights are renormalised.
    """
    upper = np.triu_indices(len(channels[0][1]), 1)
    used = [(w, s) for w, s in channels if w > 0 and np.ptp(s[upper]) > 0]
    if not used:
        return np.zeros_like(channels[0][1])
    total = sum(w for w, _ in used)
    return sum(w * standardise(s) for w, s in used) / total


def label_texts(
    groups: Sequence[Sequence[str]],
    model: Any,
    encoder: str = "contextual",
    unit_tokens: int = 128,
    batch_size: int = 64,
    checkpoint: Callable[[], None] = _carry_on,
    **cluster_options: Any,
) -> list[list[int]]:
    """Labels for many groups: final answers removed (``reasoning_text``), one ``embed_responses``
    call over all texts, one ``cluster_group`` per group."""
    texts = [reasoning_text(str(text)) for group in groups for text in group]
    vectors = embed_responses(texts, model, encoder, unit_tokens, batch_size, checkpoint)
    out, start = [], 0
    for group in groups:
        checkpoint()
        stop = start + len(group)
        out.append(cluster_group(vectors[start:stop], texts[start:stop], **cluster_options))
        start = stop
    return out
