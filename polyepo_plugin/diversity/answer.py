"""``answer`` backend: responses whose final answers are mathematically equal share a strategy.

Each response's answer is extracted and compared with math-verify (``\\boxed{1/2}`` and
``\\boxed{0.5}`` are one class, ``\\boxed{3}`` another). A response with no extractable answer is
degenerate. A crude proxy for strategy (two methods reaching one answer are merged), but cheap
and deterministic; useful where reasoning paths are hard to compare and answers vary.

Classes: the distinct parsed answers of a group are visited in a canonical (sorted) order; each
joins the first class whose representative (its first answer in that order) verifies equal to it,
else it founds a new class. The partition therefore depends on the group's answers, never on the
order of its responses (math-verify's equality need not be transitive, so the canonical order
is what settles such cases).

math-verify bounds parsing and comparison time with ``signal.alarm``, which only works in the
main thread: there it keeps its default time limits; in any other thread they are turned off.
"""

from __future__ import annotations

import threading

import numpy as np

from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.diversity.optional import import_optional
from polyepo_plugin.grouping import DEGENERATE

MAIN_THREAD_TIMEOUT_S = 5  # math-verify's own default


class AnswerEquivalence:
    def __init__(self, diversity_config):
        self.math_verify = import_optional("math_verify", "answer")

    def assign(self, groups: ResponseGroups) -> Labelling:
        texts = groups.response_texts("answer")
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        for members in groups.member_rows:
            labels[members] = self.classify([texts[row] for row in members])
        return Labelling.complete(labels, len(groups.member_rows))

    def classify(self, texts: list[str]) -> list[int]:
        """One class per set of equivalent final answers; ``-1`` where none can be parsed."""
        timeout = MAIN_THREAD_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
        parse, verify = self.math_verify.parse, self.math_verify.verify
        parsed = [parse(text, parsing_timeout=timeout) if text.strip() else [] for text in texts]
        # The parse's printed forms name an answer: equal keys are equal without asking verify.
        keys = [tuple(map(str, answer)) if answer else None for answer in parsed]
        answer_of = {key: answer for key, answer in zip(keys, parsed) if key is not None}
        representatives: list = []
        class_of: dict[tuple, int] = {}
        for key in sorted(answer_of):
            answer = answer_of[key]
            match = next(
                (c for c, rep in enumerate(representatives) if verify(rep, answer, timeout_seconds=timeout)), None
            )
            if match is None:
                match = len(representatives)
                representatives.append(answer)
            class_of[key] = match
        return [DEGENERATE if key is None else class_of[key] for key in keys]
