"""Strategy clusters from response texts: a split only where the evidence of another method is strong.

Whatever the labeller calls a new strategy is what Poly-EPO pays for, so the two errors are not
alike: splitting one method's paraphrases pays the policy for rewording; merging two methods
only loses signal. Responses are therefore one strategy unless what they compute, or what they
say once wording is discounted, differs clearly, on an absolute scale (no standardisation within
the group, which would split every group whose responses differ at all). Pure functions, no verl.

1. ``embed_responses(texts, model, ...) -> (n, D)``: one unit vector per response that reads the
   WHOLE text, however long (the sentence model itself sees at most ``max_seq_length`` = 256
   word pieces at a time):

   - ``encoder="static"`` (default): every word piece of the text is looked up in a table
     holding, for each word piece t of the model's vocabulary, the model's embedding of the
     one-token text ``[CLS] t [SEP]`` (computed lazily, in fixed blocks of ids, kept per model
     object); the response vector is the mean of its word pieces' vectors weighted by the
     inverse document frequency over the texts of the call plus one,
     ``w_t = log((N + 1) / df_t) + 1``, normalised: a word piece every text of the call holds
     weighs the least (about 1), not 0, so a step collapsed onto one method still shares that
     method's words and is not left to its wordings. About 30 times cheaper than
     ``contextual`` once the table rows exist.
   - ``encoder="contextual"``: the text is cut at sentence ends into units of at most
     ``unit_tokens`` word pieces; every unit is embedded by the model; the response vector is the
     mean of its units' vectors weighted by their word-piece counts, normalised.

   A blank text gets the zero vector.

2. ``without_generic_direction(vectors, model)``: the vectors stripped of the model's generic-text
   direction ``g`` (the mean of its one-word-piece table over the whole vocabulary, unit length,
   computed once per model object), ``x - (x . g) g``, renormalised: what any text shares weighs
   nothing, so cosines spread out. ``g`` does not depend on the batch: a direction estimated
   from the step itself (its first principal component) is the dominant strategy's once the
   policy has collapsed onto one, and removing it split that strategy's wordings.

3. ``computed_numbers(text, prompt)``: the numbers a response computes: every number it states,
   in digits or in English words ("forty-five" -> 45), fractions in lowest terms whichever way
   they are written ("one sixth", "2/12" -> 1/6), decimals with a point or, in a text that
   writes them so, a comma ("0,88" -> 0.88; ``decimal_comma_convention``), less the numbers of the prompt (the
   problem's data) and the values of its final-answer statements (shared by every correct
   response whatever its method). Paraphrases of one method compute the same quantities in any
   words; two methods usually compute different ones. ``program_constructs(text)``
   (``program_constructs`` module): what the last program of a response does, names and literals
   abstracted (loops, recursion, operators, library calls), items prefixed ``code:``.

4. ``cluster_group(vectors, numbers, weights, ...) -> labels``: with ``x_i`` the vectors of step
   2 and ``w`` the batch IDF weights of the numbers (``number_weights``: ``log(M / df) + 1`` over the
   M responses of the call), the evidence that i and j share a method is

       e_ij = a_ij (J_ij - numbers_threshold) + (1 - a_ij) (x_i . x_j - embedding_threshold)

   where ``J_ij = w(N_i & N_j) / w(N_i | N_j)`` is the weighted Jaccard overlap of their computed
   numbers and ``a_ij = min(1, min(w(N_i), w(N_j)) / numbers_evidence)``: numbers decide once
   both responses compute enough of them (what they compute outweighs how they say it), the
   embedding decides where neither does. Where both responses hold a program (``P_i``, ``P_j``
   their constructs), what the programs do outweighs the rest:

       e_ij <- c_ij (J'_ij - numbers_threshold) + (1 - c_ij) e_ij,
       c_ij = code_weight * min(1, min(w(N_i | P_i), w(N_j | P_j)) / numbers_evidence)

   with ``J'`` the same weighted Jaccard over numbers and constructs together: prose around a
   program is mostly the problem's own words, alike across methods. Constructs every response
   of the call performs weigh the least (1), not 0: in a step of one program they are what its
   responses share. Clusters are merged by average linkage while the
   mean ``e`` over their cross pairs is at least 0, so two clusters stay apart only when they
   differ on average, clearly; exact copies are merged first. Labels are 0, 1, ... in order of
   first appearance, ``-1`` for a blank response.

``label_texts(groups, model, prompts=None, ...)`` removes the final answers
(``final_answer.without_final_answer``; a response that states nothing else reads as
``ANSWER_ONLY``, and bare answers share one strategy) and does all four steps for many groups
with one embedding pass. ``checkpoint`` is called between model batches and between groups and
may raise to stop the work (a cancelled labelling). Deterministic: no sampling, ties broken by
index. Defaults (``DEFAULT_EVIDENCE``) were chosen on the development families of
``benchmarks/data/strategy_sets`` (every form, digits masked too: at least 90% of their
one-strategy groups labelled one strategy, in mixed and in collapsed steps; then the best mean
ARI, where settings within 0.05 of it go to the lowest ``embedding_threshold``, since a split is
the harmful error; dev scores 0.2 to 0.4 alike), and are reported on every other source by
``benchmarks/bench_strategy_detection.py``.
"""

from __future__ import annotations

import math
import re
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from polyepo_plugin.diversity.final_answer import answer_values, without_final_answer
from polyepo_plugin.diversity.program_constructs import program_constructs

ENCODERS = ("contextual", "static")
STATIC_BLOCK = 32  # static table rows are computed in fixed blocks of word-piece ids (same batches, same bits)
ANSWER_ONLY = "(a final answer only)"
# The decision's defaults (``SemanticOptions`` repeats them; a test keeps the two equal).
DEFAULT_EVIDENCE = {"embedding_threshold": 0.2, "numbers_threshold": 0.2, "numbers_evidence": 5.0, "code_weight": 0.8}

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
# A run of digits with commas and at most one decimal point: "12", "2.50", "1,000", "1,5", "2,3,5".
_DIGITS = re.compile(r"(?<![\w.])\d+(?:,\d+)*(?:\.\d+)?(?!\w)")
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_COMMA_PAIR = re.compile(r"\d+,\d+")
_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS_WORDS = {w: 10 * k for k, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 10**6}
_ANY_NUMBER_WORD = "|".join([*_UNIT_WORDS, *_TENS_WORDS, *_SCALE_WORDS])
_VALUE_OF_WORD = {**{w: k for k, w in enumerate(_UNIT_WORDS)}, **_TENS_WORDS}
_NUMBER_WORDS = re.compile(
    rf"\b(?:{_ANY_NUMBER_WORD})(?:[\s-]+(?:{_ANY_NUMBER_WORD}))*\b",
    re.IGNORECASE,
)
_DENOMINATOR_WORDS = {
    **{w: 2 for w in ("half", "halves")},
    **{f"{w}{plural}": d for w, d in (("third", 3), ("quarter", 4), ("fourth", 4), ("fifth", 5), ("sixth", 6),
       ("seventh", 7), ("eighth", 8), ("ninth", 9), ("tenth", 10), ("twelfth", 12), ("hundredth", 100))
       for plural in ("", "s")},
}
# "two thirds", "a sixth", "one half", "half" (an ordinal alone, "the third pipe", is no fraction)
_FRACTION_WORDS = re.compile(
    rf"\b(?:(?P<numerator>(?:{_ANY_NUMBER_WORD})(?:[\s-]+(?:{_ANY_NUMBER_WORD}))*|an?)[\s-]+)?"
    rf"(?P<denominator>{'|'.join(_DENOMINATOR_WORDS)})\b",
    re.IGNORECASE,
)
_DIGIT_FRACTION = re.compile(r"(?<![\w./])(\d+)\s*/\s*(\d+)(?![\w/]|\.\d)")
_static_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_generic_directions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
        weights = np.array([math.log((n + 1) / df[t]) + 1.0 for t in row])
        pooled = (weights[:, None] * np.stack([table[t] for t in row])).sum(0)
        out[i] = pooled / max(np.linalg.norm(pooled), 1e-12)
    return out


# ---------------------------------------------------------------------------------------------
# Deciding one group
# ---------------------------------------------------------------------------------------------


def generic_direction(model: Any, checkpoint: Callable[[], None] = _carry_on) -> np.ndarray:
    """``(D,)`` unit mean of the model's one-word-piece table over its whole vocabulary: the
    direction of text in general. Built once per model object (the whole table: about 25 s on
    2 CPU cores, kept for the static encoder too)."""
    if model not in _generic_directions:
        table = static_table(model, range(len(model.tokenizer)), checkpoint)
        mean = np.mean(np.stack(list(table.values())), axis=0).astype(np.float64)
        _generic_directions[model] = mean / np.linalg.norm(mean)
    return _generic_directions[model]


def without_generic_direction(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``x - (x . g) g`` renormalised for each row (``g`` = ``direction``, unit); zero rows stay zero."""
    x = np.asarray(vectors, dtype=np.float64)
    g = np.asarray(direction, dtype=np.float64)
    kept = x - np.outer(x @ g, g)
    norms = np.linalg.norm(kept, axis=1, keepdims=True)
    present = np.linalg.norm(x, axis=1, keepdims=True) > 0
    return np.where(present, kept / np.maximum(norms, 1e-12), 0.0)


def words_to_numbers(text: str) -> list[str]:
    """The English number phrases of ``text`` as digits: "forty-five" -> "45", "one hundred
    twenty" -> "120", "three thousand" -> "3000"."""
    out = []
    for match in _NUMBER_WORDS.finditer(text):
        total = current = 0
        for word in re.findall(r"[a-z]+", match.group(0).lower()):
            if word in _VALUE_OF_WORD:
                current += _VALUE_OF_WORD[word]
            elif word == "hundred":
                current = max(current, 1) * 100
            elif word in _SCALE_WORDS:
                total += max(current, 1) * _SCALE_WORDS[word]
                current = 0
        out.append(str(total + current))
    return out


def stated_fractions(text: str) -> tuple[set[str], str]:
    """The fractions ``text`` states, in digits ("1/6") or English words ("one sixth", "two
    thirds", "half"), in lowest terms ("1/6"), and the text with them blanked out (so that their
    parts are not read as whole numbers too)."""
    found = set()

    def word_fraction(match: re.Match) -> str:
        numerator, denominator = match.group("numerator"), match.group("denominator").lower()
        if numerator is None and denominator not in ("half", "halves"):
            return match.group(0)
        top = 1 if numerator is None or numerator.lower() in ("a", "an") else int(words_to_numbers(numerator)[0])
        found.add(_lowest_terms(top, _DENOMINATOR_WORDS[denominator]))
        return " "

    def digit_fraction(match: re.Match) -> str:
        found.add(_lowest_terms(int(match.group(1)), int(match.group(2))))
        return " "

    rest = _DIGIT_FRACTION.sub(digit_fraction, _FRACTION_WORDS.sub(word_fraction, text))
    return found, rest


def _lowest_terms(top: int, bottom: int) -> str:
    if bottom == 0:
        return f"{top}/0"
    common = math.gcd(top, bottom) or 1
    top, bottom = top // common, bottom // common
    return str(top) if bottom == 1 else f"{top}/{bottom}"


def stated_numbers(text: str) -> set[str]:
    """Every number ``text`` states, in digits or in English words, as digits; fractions as
    ``stated_fractions`` reads them; decimals without trailing zeros ("2.50" -> "2.5")."""
    fractions, rest = stated_fractions(text)
    runs = [(m.group(0), _in_a_tuple(rest, m)) for m in _DIGITS.finditer(rest)]
    decimal_commas = decimal_comma_convention([run for run, in_tuple in runs if not in_tuple])
    digits = {
        _without_trailing_zeros(x) for run, in_tuple in runs for x in _read_digit_run(run, decimal_commas and not in_tuple)
    }
    return fractions | digits | set(words_to_numbers(rest))


def _in_a_tuple(text: str, match: re.Match) -> bool:
    """A run between brackets or right after "=": "gcd(48,18)", "(3,4)", "a,b=0,1" are lists in
    any language."""
    before = text[match.start() - 1] if match.start() else ""
    after = text[match.end()] if match.end() < len(text) else ""
    return before == "=" or (before in ("(", "[", "{") and after in (")", "]", "}"))


def decimal_comma_convention(runs: Sequence[str]) -> bool:
    """Whether a text's digit runs write decimals with a comma (French, German, Spanish: "1,1 ×
    0,8 = 0,88"): no run has a decimal point and at least two are one comma between digits that
    cannot be a thousands group. One such pair alone ("roots 2,3") reads as two numbers."""
    if any("." in run for run in runs):
        return False
    pairs = [run for run in runs if _COMMA_PAIR.fullmatch(run) and not _THOUSANDS.fullmatch(run)]
    return len(pairs) >= 2


def _read_digit_run(run: str, decimal_commas: bool) -> list[str]:
    if decimal_commas and _COMMA_PAIR.fullmatch(run):
        return [run.replace(",", ".")]
    if _THOUSANDS.fullmatch(run):
        return [run.replace(",", "")]
    return run.split(",")  # one number, or a list: "2,3,5", "(3,4)"


def _without_trailing_zeros(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def computed_numbers(text: str, prompt: str = "") -> set[str]:
    """What ``text`` computes: its stated numbers less the prompt's and less its final answers' values."""
    return stated_numbers(text) - stated_numbers(prompt) - stated_numbers(" ".join(answer_values(text)))


def number_weights(number_sets: Sequence[set[str]]) -> dict[str, float]:
    """``log(M / df) + 1`` of each number over the M responses of the call: a number every
    response states weighs 1, the least, not 0, so a step collapsed onto one method still
    shares what that method computes."""
    df = Counter(x for numbers in number_sets for x in numbers)
    return {x: math.log(len(number_sets) / count) + 1.0 for x, count in df.items()}


def evidence_matrix(
    vectors: np.ndarray,
    numbers: Sequence[set[str]] | None = None,
    weights: dict[str, float] | None = None,
    **options: Any,
) -> np.ndarray:
    """``similarity_evidence`` of unit ``vectors`` (``without_generic_direction``): the embedding's
    similarity of two responses is the cosine ``x_i . x_j`` of their vectors."""
    x = np.asarray(vectors, dtype=np.float64)
    return similarity_evidence(x @ x.T, numbers, weights, **options)


def similarity_evidence(
    similarity: np.ndarray,
    numbers: Sequence[set[str]] | None = None,
    weights: dict[str, float] | None = None,
    embedding_threshold: float = DEFAULT_EVIDENCE["embedding_threshold"],
    numbers_threshold: float = DEFAULT_EVIDENCE["numbers_threshold"],
    numbers_evidence: float = DEFAULT_EVIDENCE["numbers_evidence"],
    constructs: Sequence[set[str]] | None = None,
    code_weight: float = DEFAULT_EVIDENCE["code_weight"],
) -> np.ndarray:
    """``(m, m)`` evidence ``e_ij`` that responses i and j share a method (module docstring):
    above 0 alike, below 0 different. ``similarity``: the embedding's ``(m, m)`` pairwise
    similarity (``evidence_matrix`` gives it from vectors; a benchmark may put another in its
    place); ``numbers``/``weights``: ``computed_numbers`` and ``number_weights`` (None: no number
    read); ``constructs``: ``program_constructs`` (None or empty sets: no program read), weighted
    by ``weights`` too (None: ``number_weights`` of numbers and constructs over these m); with
    neither, the embedding alone."""
    evidence = np.array(similarity, dtype=np.float64) - embedding_threshold
    if numbers is None and constructs is None:
        return evidence
    numbers = numbers if numbers is not None else [set()] * len(evidence)
    constructs = constructs if constructs is not None else [set()] * len(evidence)
    performed = [n | c for n, c in zip(numbers, constructs)]
    weights = weights if weights is not None else number_weights(performed)

    def mass(items: set[str]) -> float:
        return sum(weights.get(v, 0.0) for v in items)

    number_mass = [mass(n) for n in numbers]
    program_mass = [mass(p) if c else 0.0 for p, c in zip(performed, constructs)]  # 0 without a program

    def share(least: float) -> float:
        return min(1.0, least / numbers_evidence) if numbers_evidence > 0 else 1.0

    for i, j in zip(*np.triu_indices(len(evidence), 1)):
        e = evidence[i, j]
        least = min(number_mass[i], number_mass[j])
        if least > 0:  # else a side with no weighted number: the embedding alone
            a = share(least)
            e = a * (weighted_overlap(numbers[i], numbers[j], weights) - numbers_threshold) + (1 - a) * e
        least = min(program_mass[i], program_mass[j])
        if least > 0:  # both hold a program
            c = code_weight * share(least)
            e = c * (weighted_overlap(performed[i], performed[j], weights) - numbers_threshold) + (1 - c) * e
        evidence[i, j] = evidence[j, i] = e
    return evidence


def weighted_overlap(a: set[str], b: set[str], weights: dict[str, float]) -> float:
    """``w(a & b) / w(a | b)``; 0 when the union weighs nothing."""
    union = sum(weights.get(v, 0.0) for v in a | b)
    return sum(weights.get(v, 0.0) for v in a & b) / union if union > 0 else 0.0


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


def reasoning_text(text: str, checkpoint: Callable[[], None] = _carry_on) -> str:
    """What the clustering compares: ``text`` without its final answer; ``ANSWER_ONLY`` for a
    response that states nothing else (bare answers share one strategy); blank stays blank.
    ``checkpoint`` is called inside long texts too (``without_final_answer``)."""
    if not text.strip():
        return ""
    return without_final_answer(text, checkpoint=checkpoint).strip() or ANSWER_ONLY


def cluster_group(
    vectors: np.ndarray,
    numbers: Sequence[set[str]] | None = None,
    weights: dict[str, float] | None = None,
    blank: Sequence[bool] | None = None,
    constructs: Sequence[set[str]] | None = None,
    duplicate_cosine: float = 0.9999,
    **evidence_options: float,
) -> list[int]:
    """Strategy labels of one group of n responses (module docstring, step 4).

    ``vectors``: ``(n, D)`` (``without_generic_direction``; zero rows are blank); ``numbers``: the
    n ``computed_numbers`` sets, ``weights`` their ``number_weights`` over the call (None: the
    embedding alone decides); ``blank``: extra blank rows; ``constructs``: the n
    ``program_constructs`` sets (None: no program read); ``evidence_options``: the options of
    ``similarity_evidence``. Returns 0..C-1 in order of first appearance, ``-1`` for blank rows.
    """
    x = np.asarray(vectors, dtype=np.float64)
    present = np.linalg.norm(x, axis=1) > 0
    if blank is not None:
        present &= ~np.asarray(blank, dtype=bool)
    rows = np.flatnonzero(present)
    labels = [-1] * len(x)
    if rows.size == 0:
        return labels
    units = x[rows] / np.linalg.norm(x[rows], axis=1, keepdims=True)
    kept = [numbers[r] for r in rows] if numbers is not None else None
    programs = [constructs[r] for r in rows] if constructs is not None else None
    evidence = evidence_matrix(units, kept, weights, constructs=programs, **evidence_options)
    found = average_linkage(evidence, 0.0, must_link=units @ units.T >= duplicate_cosine)
    for row, label in zip(rows, found):
        labels[row] = label
    return labels


@dataclass(frozen=True)
class PreparedGroups:
    """Steps 1-3 done for many groups, ready to be clustered under any evidence options.

    ``vectors``: ``(M, D)`` for the M responses of all groups in order (generic direction
    removed); ``numbers``: their ``computed_numbers``; ``constructs``: their
    ``program_constructs``; ``weights``: ``number_weights`` of numbers and constructs over all M;
    ``blank``: responses with no text; ``sizes``: responses per group."""

    vectors: np.ndarray
    numbers: list[set[str]]
    constructs: list[set[str]]
    weights: dict[str, float]
    blank: list[bool]
    sizes: list[int]

    def rows(self) -> list[slice]:
        """Each group's rows in the arrays above."""
        ends = np.cumsum([0, *self.sizes])
        return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]

    def labels(self, checkpoint: Callable[[], None] = _carry_on, **evidence_options: float) -> list[list[int]]:
        """One ``cluster_group`` per group."""
        out = []
        for rows in self.rows():
            checkpoint()
            out.append(
                cluster_group(
                    self.vectors[rows],
                    self.numbers[rows],
                    self.weights,
                    self.blank[rows],
                    self.constructs[rows],
                    **evidence_options,
                )
            )
        return out


def prepare_texts(
    groups: Sequence[Sequence[str]],
    model: Any,
    prompts: Sequence[str] | None = None,
    encoder: str = "static",
    unit_tokens: int = 128,
    batch_size: int = 64,
    checkpoint: Callable[[], None] = _carry_on,
) -> PreparedGroups:
    """Final answers removed (``reasoning_text``), one ``embed_responses`` call over all texts,
    the generic direction removed, computed numbers, program constructs and their weights over
    the call."""
    if prompts is not None and len(prompts) != len(groups):
        raise ValueError(f"prepare_texts: {len(prompts)} prompts for {len(groups)} groups")
    texts = [reasoning_text(str(text), checkpoint) for group in groups for text in group]
    vectors = without_generic_direction(
        embed_responses(texts, model, encoder, unit_tokens, batch_size, checkpoint), generic_direction(model, checkpoint)
    )
    group_prompts = [str(p) for p in prompts] if prompts is not None else [""] * len(groups)
    numbers = [
        computed_numbers(text, prompt) for group, prompt in zip(groups, group_prompts) for text in map(str, group)
    ]
    constructs = []
    for group in groups:
        checkpoint()  # a long program takes milliseconds to parse
        constructs += [program_constructs(str(text)) for text in group]
    weights = number_weights([n | c for n, c in zip(numbers, constructs)])
    return PreparedGroups(vectors, numbers, constructs, weights, [not t.strip() for t in texts], [len(g) for g in groups])


def label_texts(
    groups: Sequence[Sequence[str]],
    model: Any,
    prompts: Sequence[str] | None = None,
    checkpoint: Callable[[], None] = _carry_on,
    evidence: dict[str, float] | None = None,
    **preparation: Any,
) -> list[list[int]]:
    """Labels for many groups (``groups[g]`` the responses to ``prompts[g]``; None: no prompt
    numbers to leave out): ``prepare_texts`` (one embedding pass over all texts; ``preparation``:
    its ``encoder``, ``unit_tokens``, ``batch_size``), then one ``cluster_group`` per group under
    the ``evidence`` options (``similarity_evidence``'s thresholds; None: ``DEFAULT_EVIDENCE``)."""
    prepared = prepare_texts(groups, model, prompts, checkpoint=checkpoint, **preparation)
    return prepared.labels(checkpoint, **(evidence or {}))
