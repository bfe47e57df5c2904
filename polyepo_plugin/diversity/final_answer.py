"""A response's final answer, found so that strategy comparisons can leave it out (pure, stdlib only).

In math and code, correct responses to one problem share their final answer and differ in how
they reach it; a backend that compares strategies must not read the answer. ``answer_spans``
finds it with the precedence math-verify's extraction uses (the evaluation's answer): a
``\\boxed{}``, else a stated answer, else the closing number of the text; and it finds every
such statement, not only the last:

1. ``\\boxed{...}`` / ``\\fbox{...}``, braces matched however deeply nested (``\\boxed{\\frac{42}{7}}``);
2. an answer statement: from a marker ("final answer:", "the answer is", "**Answer:**", "the
   result is", "output:", "prints", ...) to the end of its sentence or line, when what follows
   is short (at most ``CLOSING_WORDS`` words) and, unless the marker says "answer", opens with
   a number or a LaTeX value ("the result is symmetric, so ..." is reasoning, not an answer);
3. the closing statement: in the last non-blank line, from the last connective ("so", "thus",
   "hence", "therefore", "total", "gives", "=", ":" ...) that is followed only by a short value
   (at most ``CLOSING_WORDS`` words and symbols, a number among them, in digits or in words) to
   the end: ", so 7", "Total 47.", "So: 55.", "Therefore, fifteen handshakes.";
4. a plain last line: the last non-blank line of a text of several lines, when it is short (at
   most ``CLOSING_WORDS`` words), states a number and is not indented code:
   "23 chickens and 12 rabbits", "fifteen years.".

``answer_values`` are what those spans state: their numbers ("forty-five handshakes" states
forty-five), or a LaTeX answer whole (``\\frac{42}{7}``). ``without_final_answer`` removes the
spans and every other occurrence of those values (the rationale's "20 x 41 = 820" before "the
answer is 820"), so two responses that differ only in their final answer read the same.
"""

from __future__ import annotations

import re

CLOSING_WORDS = 8

NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_SMALL = f"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|zero|{_UNITS}"
_DECADES = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
# a number in words: "forty-five", "one hundred twenty", "three thousand"
NUMBER_WORDS = re.compile(
    rf"\b(?:(?:{_DECADES})(?:-(?:{_UNITS}))?|{_SMALL})(?:\s+(?:hundred|thousand)(?:\s+(?:(?:{_DECADES})(?:-(?:{_UNITS}))?|{_SMALL}))?)*\b",
    re.IGNORECASE,
)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_MARKER = re.compile(
    r"\b(?:the\s+)?(?:final\s+(?:answer|result)|answer|result|output|solution)\s*(?:is|:)\s*(?:\*\*)?"
    r"|\b(?:prints|outputs)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")
_CONNECTIVE = re.compile(
    r"(?:\b(?:so|thus|hence|therefore|total|totals|gives?|giving|get|makes?|equals?|is|are|of|to|in\s+all)\b|[=:,;])",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+|[^\w\s]")
_SPACES = re.compile(r"[ \t]+")
_LEFT_PUNCTUATION = re.compile(r"\s*([.,;:!?])[\s.,;:!?]*(?=\s|$)")


def _boxes(text: str) -> list[tuple[int, int, str]]:
    out = []
    for match in _BOX.finditer(text):
        depth, k = 1, match.end()
        while k < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            k += 1
        if depth == 0:
            out.append((match.start(), k, text[match.end() : k - 1]))
    return out


def _last_line(text: str) -> tuple[int, int, bool]:
    """(start, end, is_only_line) of the last non-blank line."""
    stripped = text.rstrip()
    start = stripped.rfind("\n") + 1
    return start, len(stripped), not stripped[:start].strip()


def answer_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, value)`` of every final-answer statement of ``text`` (module docstring), by position.

    Spans may overlap (a ``\\boxed{}`` inside an answer line); ``value`` is the answer's text.
    """
    spans = _boxes(text)
    for match in _MARKER.finditer(text):
        stop = _SENTENCE_END.search(text, match.end())
        end = stop.start() if stop else len(text)
        value = text[match.end() : end].strip()
        # A statement of a value, not prose that happens to follow "the solution is"/"the result is".
        stated = "answer" in match.group(0).lower() or _starts_with_value(value)
        if value and stated and len(_WORD.findall(value)) <= CLOSING_WORDS:
            spans.append((match.start(), end, value))
    start, end, only_line = _last_line(text)
    line = text[start:end]
    closing = None
    for match in _CONNECTIVE.finditer(line):
        tail = line[match.end() :]
        if _states_number(tail) and len(_WORD.findall(tail.rstrip(" .!"))) <= CLOSING_WORDS:
            closing = (start + match.start(), end, tail.strip(" .!"))  # the last qualifying one: the shortest
    if closing is None and not only_line and not line[:1].isspace():
        if _states_number(line) and len(_WORD.findall(line.rstrip(" .!"))) <= CLOSING_WORDS:
            closing = (start, end, line.strip(" .!"))
    if closing is not None:
        spans.append(closing)
    return sorted(spans)


def _answer_tokens(value: str) -> set[str]:
    """What to mask for one stated answer: a LaTeX expression as written (its numbers may be the
    problem's data), else the numbers it states, in digits or in words."""
    if "\\" in value:
        return {value.strip()}
    return set(NUMBER.findall(value)) | {words.lower() for words in NUMBER_WORDS.findall(value)}


def _starts_with_value(value: str) -> bool:
    """Whether ``value`` opens with a number (digits or words) or a LaTeX value."""
    opening = value.lstrip(" $*([")
    first = opening.split(maxsplit=1)[0] if opening else ""
    return opening.startswith("\\") or bool(NUMBER.match(first.lstrip("-")) or NUMBER_WORDS.match(first))


def _states_number(value: str) -> bool:
    return bool(NUMBER.search(value) or NUMBER_WORDS.search(value))


def answer_values(text: str) -> set[str]:
    """What the final-answer spans of ``text`` state, as written: ``"820"``, ``"0.5"``,
    ``"forty-five"``, a LaTeX expression whole (``"\\frac{42}{7}"``)."""
    return {token for _, _, value in answer_spans(text) for token in _answer_tokens(value)}


def without_final_answer(text: str) -> str:
    """``text`` without its final-answer spans and without every other occurrence of what they state,
    spaces collapsed and the punctuation the removal leaves behind tidied (unchanged without any)."""
    spans = answer_spans(text)
    if not spans:
        return text
    values = {token for _, _, value in spans for token in _answer_tokens(value)}
    kept, position = [], 0
    for start, end, _ in spans:
        if start > position:
            kept.append(text[position:start])
        position = max(position, end)
    kept.append(text[position:])
    out = " ".join(kept)
    for value in sorted((v for v in values if "\\" in v), key=len, reverse=True):
        out = out.replace(value, " ")
    plain = sorted((v for v in values if "\\" not in v), key=len, reverse=True)
    if plain:  # one pattern of the stated values: far cheaper than testing every number of a long text
        out = re.sub(rf"(?<![\w.])(?:{'|'.join(map(re.escape, plain))})(?!\w)", " ", out, flags=re.IGNORECASE)
    out = _LEFT_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", out))
    return out.strip(" \t.,;:")
