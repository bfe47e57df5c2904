"""What sets a response apart within its group, read as terms: words and worked-step shapes (pure, numpy only).

Two bags of terms per response, each compared by a cosine of TF-IDF weights computed WITHIN the
group, so that what every response of the group states (the problem's own vocabulary, the
question's operations) carries no weight and what only some responses state carries the most:

- ``word_terms``: lowercased words cut to their first ``STEM`` letters (a crude stem: "pairs",
  "pairing" and "paired" meet), single and adjacent pairs; numbers are left to the numbers channel;
- ``step_terms``: the shape of the worked steps: the text read as a stream of numbers (``N``),
  one-letter names (``V``), longer words and the operators ``+ - * / ^ = % ( ) [ ] < >``, of
  which every run of ``STEP_LENGTH`` items holding an operator is a term ("N ^ N", "V = N * N",
  "mod N ="); equations and operations are compared without their numbers.

``term_similarity(bags)``, with ``m`` bags, ``df_t`` the bags holding term t and ``c_it`` its
count in bag i: ``w_it = (1 + log c_it) log(m / df_t)`` (0 for a term in every bag),
``S[i, j] = w_i . w_j / (|w_i| |w_j|)`` (0 where a bag has no weighted term).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

STEM = 5
STEP_LENGTH = 3
_WORD = re.compile(r"[A-Za-z]+")
_STEP_ITEM = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]+|[-+*/^=%()\[\]<>]")
_OPERATORS = set("+-*/^=%")


def word_terms(text: str) -> Counter:
    """Counts of stemmed words and of adjacent stemmed-word pairs."""
    words = [w.lower()[:STEM] for w in _WORD.findall(text)]
    terms = Counter(words)
    terms.update(f"{a} {b}" for a, b in zip(words, words[1:]))
    return terms


def step_terms(text: str) -> Counter:
    """Counts of the runs of ``STEP_LENGTH`` step items that hold an operator (module docstring)."""
    items = []
    for item in _STEP_ITEM.findall(text):
        if item[0].isdigit():
            items.append("N")
        elif item[0].isalpha():
            items.append("V" if len(item) == 1 else item.lower())
        else:
            items.append(item)
    has_operator = [item in _OPERATORS for item in items]
    runs = zip(*(items[k:] for k in range(STEP_LENGTH)))
    flags = zip(*(has_operator[k:] for k in range(STEP_LENGTH)))
    return Counter(" ".join(run) for run, flag in zip(runs, flags) if any(flag))


def term_similarity(bags: Sequence[Counter]) -> np.ndarray:
    """``(m, m)`` cosine of within-group TF-IDF weights of the bags (module docstring)."""
    m = len(bags)
    df = Counter(term for bag in bags for term in bag)
    columns = {term: k for k, term in enumerate(sorted(t for t, count in df.items() if count < m))}
    weights = np.zeros((m, len(columns)))
    for row, bag in enumerate(bags):
        for term, count in bag.items():
            if term in columns:
                weights[row, columns[term]] = (1 + math.log(count)) * math.log(m / df[term])
    weights /= np.maximum(np.linalg.norm(weights, axis=1, keepdims=True), 1e-12)
    return weights @ weights.T
