"""A response's final answer, found so that strategy comparisons can leave it out (pure, stdlib only).

In math and code, correct responses to one problem share their final answer and differ in how
they reach it; a backend that compares strategies must not read the answer, nor the way it is
written. ``answer_spans`` finds every statement of it with the precedence math-verify's
extraction uses (the evaluation's answer): a ``\\boxed{}``, else a stated answer, else the close
of the text. A statement is a *value* said in a fixed way; prose after a marker word is
reasoning. The rules:

1. ``\\boxed{...}`` / ``\\fbox{...}``, braces matched however deeply nested (``\\boxed{\\frac{42}{7}}``).
2. An answer statement: a marker ("the answer is", "final answer:", "**Answer:**", "the result
   is", "output:", "prints"; "la respuesta es", "la réponse est", "die Antwort ist/lautet",
   "答案是", "答案：", "最终答案是", ...) followed by a value, up to the value's end (a sentence
   end, a line end, a clause break such as ", so" or "because"). A *value* opens with a number
   (digits, English number words, Chinese numerals), a sign, a LaTeX command or ``x =``, and has
   at most ``CLOSING_WORDS`` words and numbers; after a marker an option letter or yes / no
   counts too. "Answer: use the Euclidean algorithm" states no value: it stays.
3. The close: in the last non-blank line, from the last connective ("so", "thus", "gives",
   "total", "=", ":", ","; "por lo tanto", "donc", "also", "所以", "因此", "等于", ...) that is
   followed by a value only, to the line's end: ", so 7", "Total 47.", "So: 55.", "Therefore,
   sixty-six handshakes."; failing that, a value of math only (rule 4) that ends the line up to
   three words after a connective or the line's start, the value alone ("Also ist die Summe 7."
   loses "7.", "It returns 19." loses "19.").
4. A last line that is a value: the whole last non-blank line when it is only a value ("42",
   "1.", "-3/4", "$\\frac{1}{2}$", "x = 2"), even as the response's only line; or, in a text of
   several lines, when it is a value at all ("23 chickens and 12 rabbits") and not indented code.
5. Echoes: the final block (the statements at the end of the text, with only punctuation and
   spacing between them) takes in, repeatedly, what closes the text before it when that is a
   statement (rules 3-4) of the same value ("... 20 x 41 = 820.\\nThe answer is 820." loses
   "= 820." as well) or a bare heading ("**Final Answer**", "答案：").

Statements of rules 2-3 start at the run of closing words just before them ("which gives 7",
"and so 7", "so the final answer is 7", "所以答案是 1"), so that the four ways of closing one worked body (", so X", a bare
last line, ``\\boxed{X}``, " which gives X.") leave one text. Anything else stays: the value
where the reasoning uses it (``3^2 = 9`` when the answer is 2), a described method, numbers
elsewhere. What all correct responses share is left for the clustering to discount.

Time is linear in the text's length: each statement is read within ``WINDOW`` characters of its
marker or of the text's end, and the scans call ``checkpoint`` every ``CHECK_EVERY`` characters
(so a cancelled labelling stops inside a long response; it may raise to stop).

``answer_values`` are what the spans state: their numbers ("forty-five handshakes" states
forty-five), or a LaTeX answer whole (``\\frac{42}{7}``). ``without_final_answer`` removes the
spans, tidies the punctuation left at each cut and collapses spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

CLOSING_WORDS = 8  # words and numbers a value may have (LaTeX commands, braces and symbols not counted)
WINDOW = 256  # characters read for one statement: a value of CLOSING_WORDS words fits
CHECK_EVERY = 4096  # characters a scan reads between two calls of ``checkpoint``
_ECHOES = 4  # most statements an answer block takes in before it (rule 5)

NUMBER = re.compile(r"(?<![A-Za-zÀ-ɏ\d.])\d+(?:,\d{3})*(?:\.\d+)?(?![A-Za-zÀ-ɏ\d])")
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_SMALL = f"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|zero|{_UNITS}"
_DECADES = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
# a number in words: "forty-five", "one hundred twenty", "three thousand"
NUMBER_WORDS = re.compile(
    rf"\b(?:(?:{_DECADES})(?:-(?:{_UNITS}))?|{_SMALL})(?:\s+(?:hundred|thousand)(?:\s+(?:(?:{_DECADES})(?:-(?:{_UNITS}))?|{_SMALL}))?)*\b",
    re.IGNORECASE,
)
_BOX_OR_BRACE = re.compile(r"\\(?:boxed|fbox)\s*\{|[{}]")
# a marker is a keyword (found by a plain scan of the lower-cased text: fast) and what follows it;
# articles and "final" before it join the statement as closing words
_MARKER_WORD = re.compile(
    "answer|resultado|result|output|solution|prints|respuesta|solución|réponse|résultat"
    "|antwort|endantwort|ergebnis|endergebnis|lösung|答案|结果|答"
)
_MARKER_REST = re.compile(
    r"(?:\s+finale?)?\s*(?:(?:is|was|es|est|ist|lautet)(?![^\W\d_])|[:：=])"
    r"|(?<=prints)(?![^\W\d_])|(?<=output)s(?![^\W\d_])|(?<=[答案果])\s*[是为]"
)
_HEADING = re.compile(
    r"[\s#*]*(?:final\s+answer|answer|respuesta(?:\s+final)?|réponse(?:\s+finale)?|(?:end)?antwort|(?:最终)?答案)"
    r"[\s*:：]*",
    re.IGNORECASE,
)
_CONNECTIVE = re.compile(
    r"\b(?:so|thus|hence|therefore|total|totals|gives?\s+us|giving\s+us|gives?|giving|yields?|gets?|got|makes?|equals?|is|are|was|of|to|in\s+all"
    r"|returns?|returned|prints?|outputs?|reach(?:es)?|(?:comes|amounts?|works\s+out|evaluates)\s+to"
    r"|entonces|luego|así\s+que|por\s+(?:lo\s+)?tanto|da|dan|es|son|igual\s+a|en\s+total"
    r"|obtenemos|donc|ainsi|alors|soit|donne|vaut|est|sont|égal\s+à|au\s+total|obtient|obtenons"
    r"|also|daher|somit|folglich|ergibt(?:\s+sich)?|ist|sind|beträgt|gleich|insgesamt)(?!\w)"
    r"|所以|因此|因而|故|即|得到|得|等于|是|为|共|总共|一共"
    r"|[=:,;，：；]"
)
# words that close a text before its answer; a statement starts at their run ("which gives 7")
_CLOSING_WORDS = frozenset(
    "which that this so thus hence therefore then and finally final the we get give gives giving"
    " lo que cual por tanto así entonces luego finalmente la el ce qui donc ainsi et alors on obtient finalement le"
    " also und daher somit folglich wir erhalten schließlich die das".split()
)
_CLOSING_CJK = ("所以", "因此", "因而", "故", "即", "那么", "于是", "最终", "最后", "最后的", "可得", "得到", "我们")
_SEPARATORS = " \t\n,，、;；:："
# where a stated value ends: a sentence or line end, or a clause break (", so ..." but not "1, 2, 3")
_VALUE_END = re.compile(
    r"[.!?](?=\s|$)|[\n。！？；，]|[,;](?=\s+[^\d\s$\\-])"
    r"|\s(?:because|since|as|by|using|via|porque|usando|car|puisque|parce|weil|denn|indem)(?!\w)|因为|由于|通过",
    re.IGNORECASE,
)
_ANSWER_WORD = re.compile(r"answer|respuesta|réponse|antwort|答", re.IGNORECASE)
_VALUE_OPENING = re.compile(
    r"(?:[\s$*(\[{]|\\[(\[])*(?:[A-Za-z]\w{0,2}(?:\([^()\n]{0,12}\))?\s*=\s*[\s$*(]*)?"  # "x = ", "f(10) = "
    rf"(?:[-+−±]?\s*\.?\d|\\[A-Za-z]|[零〇一二三四五六七八九十百千万两]|(?:{_DECADES}|{_SMALL})(?![^\W\d_]))",
    re.IGNORECASE,
)
_CHOICE = re.compile(r"[\s$*(\[]*(?:[A-E]|yes|no|true|false|sí|oui|non|ja|nein|是|否)[\s$*)\].!。]*", re.IGNORECASE)
# a line that is a value and nothing else: numbers, operators, LaTeX commands, one-letter variables
_VALUE_ONLY = re.compile(
    r"(?:\\[A-Za-z]+|(?<![A-Za-z])[A-Za-zπ](?![A-Za-z])|[\d\s+\-−±×·*/^_=.,:;!%()\[\]{}|<>'$\\。])+"
)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\S")
_WORDS = re.compile(r"\\[A-Za-z]+|(\d+(?:[.,]\d+)*|[^\W\d_]+)")  # words and numbers; LaTeX commands matched to be skipped
_MATH_DELIMITERS = re.compile(r"\\[()\[\]]")
_NON_SPACE = re.compile(r"\S")
_PLAIN_WORD = re.compile(r"[\s,]*[^\W\d_]+(?=\s)")
_SPACE_RUN = re.compile("  +")  # after tabs became spaces; a literal pattern is scanned far faster than a class
_DECORATION = " \t\n.!?:：,，;；。！？*$"
_PUNCTUATION = ".,;:!?。，；：！？、"


def _lowered(text: str) -> str:
    """``text`` in lower case, character for character (one whose lower case is longer stays)."""
    lowered = text.lower()
    if len(lowered) == len(text):  # no character grew: the positions agree
        return lowered
    return "".join(lower if len(lower := character.lower()) == 1 else character for character in text)


def _no_check() -> None:
    """The default ``checkpoint``: never stops."""


def _scan(pattern: re.Pattern, text: str, checkpoint: Callable[[], None]) -> Iterator[re.Match]:
    """``pattern``'s matches in ``text``, read ``CHECK_EVERY`` characters at a time with ``checkpoint()``
    before each part; a match starts inside its part and may run ``WINDOW`` characters past it."""
    position = 0
    while position < len(text):
        checkpoint()
        part_end = min(len(text), position + CHECK_EVERY)
        next_position = part_end
        for match in pattern.finditer(text, position, min(len(text), part_end + WINDOW)):
            if match.start() >= part_end:
                break
            next_position = max(next_position, match.end())
            yield match
        position = next_position


def _box_pairs(text: str, checkpoint: Callable[[], None]) -> Iterator[tuple[int, int, int, int, bool]]:
    """Each ``\\boxed{}`` as ``(start, content start, content end, end, outermost)``, inner ones first:
    one pass with a stack of open braces."""
    open_braces, open_boxes = [], 0  # open_braces: (box start, content start); box start -1: a plain brace
    for match in _scan(_BOX_OR_BRACE, text, checkpoint):
        if match.group() == "}":
            if not open_braces:
                continue
            start, content = open_braces.pop()
            if start >= 0:
                open_boxes -= 1
                yield start, content, match.start(), match.end(), not open_boxes
        elif match.group() == "{":
            open_braces.append((-1, match.end()))
        else:
            open_braces.append((match.start(), match.end()))
            open_boxes += 1


def _boxes(text: str, checkpoint: Callable[[], None]) -> list[tuple[int, int, str]]:
    """Rule 1: the outermost boxes (one inside another is covered by it) with their content."""
    return [(start, end, text[content:close]) for start, content, close, end, outermost in _box_pairs(text, checkpoint) if outermost]


def _unboxed(value: str) -> str:
    """``value`` without its box wrappers: ``\\boxed{\\boxed{7}}`` -> ``7``."""
    cuts = sorted(cut for start, content, close, end, _ in _box_pairs(value, _no_check) for cut in ((start, content), (close, end)))
    kept, position = [], 0
    for start, end in cuts:
        kept.append(value[position:start])
        position = end
    return "".join(kept) + value[position:]


def _is_value(text: str) -> bool:
    """Whether ``text`` (a statement's rest) is a value: module docstring, rule 2."""
    body = text.strip(_DECORATION)
    return (
        bool(body)
        and _VALUE_OPENING.match(body) is not None
        and sum(1 for word in _WORDS.finditer(body) if word.group(1)) <= CLOSING_WORDS
        and _VALUE_END.search(body) is None  # one clause: "5. Next we check" is no value
    )


def _is_value_only(line: str) -> bool:
    """Whether ``line`` is a value made of math only ("-3/4", "x = 2"; not "x^2 + 1 = 10")."""
    return _is_value(line) and _VALUE_ONLY.fullmatch(line.strip(_DECORATION)) is not None


def _run_start(lowered: str, start: int) -> int:
    """Where the run of closing words that ends at ``start`` begins (``start`` without one)."""
    for _ in range(CLOSING_WORDS):
        window = max(0, start - 24)
        head = lowered[window:start].rstrip(_SEPARATORS)
        word = len(head)
        while word and head[word - 1].isalpha():
            word -= 1
        cjk = [closing for closing in _CLOSING_CJK if head.endswith(closing)]
        if head[word:] in _CLOSING_WORDS and (word or not window):  # a whole word, not the tail of one
            start = window + word
        elif cjk:
            start = window + len(head) - len(cjk[0])
        else:
            break
    return start


def _statements(text: str, lowered: str, checkpoint: Callable[[], None]) -> list[tuple[int, int, str]]:
    """Rule 2: each marker followed by a value, to the value's end."""
    out = []
    for word in _scan(_MARKER_WORD, lowered, checkpoint):
        if word.start() and word.group() < "\u3000" and lowered[word.start() - 1].isalpha():
            continue  # inside a longer word
        marker = _MARKER_REST.match(lowered, word.end())
        if marker is None:
            continue
        window_end = min(len(text), marker.end() + WINDOW)
        stop = _VALUE_END.search(lowered, marker.end(), window_end)
        if stop is None and window_end < len(text):
            continue  # no end within the window: prose, not a value
        end = stop.start() if stop else len(text)
        value = text[marker.end() : end]
        if _is_value(value) or (_ANSWER_WORD.match(word.group()) and _CHOICE.fullmatch(value)):
            out.append((_run_start(lowered, word.start()), end, value.strip(_DECORATION)))
    return out


def _closing(text: str, lowered: str, end: int) -> tuple[int, int, str] | None:
    """Rules 3-4 on ``text[:end]``: the statement that closes it, or None."""
    while end and text[end - 1].isspace():
        end -= 1
    if not end:
        return None
    newline = text.rfind("\n", max(0, end - WINDOW), end)
    whole = newline >= 0 or end <= WINDOW  # the window holds the whole last line
    start = newline + 1 if whole else end - WINDOW
    line = text[start:end]
    indented = line[:1].isspace()
    only_line = whole and _NON_SPACE.search(text, 0, start) is None
    if whole and (only_line or not indented) and _is_value_only(line):
        return start + len(line) - len(line.lstrip()), end, line.strip(_DECORATION)
    # a close (a connective of up to 3 words, a value of up to CLOSING_WORDS, stops) starts among the last words
    words = [word.start() for word in _TOKEN.finditer(line)][-2 * CLOSING_WORDS - 4 :]
    last, first = None, words[0] if words else 0
    connectives = list(_CONNECTIVE.finditer(lowered, start + first, end))
    for connective in connectives:
        if _is_value(text[connective.end() : end]):
            last = connective  # the last one: the shortest close
    if last is not None:
        return _run_start(lowered, last.start()), end, text[last.end() : end].strip(_DECORATION)
    # a connective or the line's start, up to 3 words, a value of math: the value ("also ist die Summe 7")
    for position in [connective.end() for connective in connectives] + ([start] if whole and not indented else []):
        for _ in range(3):
            word = _PLAIN_WORD.match(text, position, end)
            if word is None:
                break
            position = word.end()
            if _is_value_only(text[position:end]):
                return position, end, text[position:end].strip(_DECORATION)
    if whole and not only_line and not indented and _is_value(line):
        return start, end, line.strip(_DECORATION)
    return None


def _answer_tokens(value: str) -> set[str]:
    """What one statement states: a LaTeX expression as written (its numbers may be the problem's
    data), else its numbers, in digits or in words; a box states its content."""
    value = _MATH_DELIMITERS.sub(" ", _unboxed(value)).strip(_DECORATION)
    if "\\" in value:
        return {value.strip()}
    return set(NUMBER.findall(value)) | {words.lower() for words in NUMBER_WORDS.findall(value)}


def _echoes(text: str, lowered: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Rule 5: the statements of the same value (and the headings) just before the final block."""
    merged = _merged(spans)
    if not merged or text[merged[-1][1] :].strip(_DECORATION):
        return []
    block_start = merged[-1][0]
    for start, end in reversed(merged[:-1]):
        if text[end:block_start].strip(_DECORATION):
            break
        block_start = start
    stated = {token for start, _, value in spans if start >= block_start for token in _answer_tokens(value)}
    out = []
    for _ in range(_ECHOES):
        end = block_start
        while end and text[end - 1].isspace():
            end -= 1
        heading = text.rfind("\n", max(0, end - WINDOW), end) + 1
        if (heading or end <= WINDOW) and _HEADING.fullmatch(text, heading, end):
            start, value = heading, ""
        else:
            echo = _closing(text, lowered, block_start)
            if echo is None or not (tokens := _answer_tokens(echo[2])) or not tokens <= stated:
                break
            start, value = echo[0], echo[2]
        out.append((start, block_start, value))
        block_start = start
    return out


def _merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end, _ in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def answer_spans(text: str, checkpoint: Callable[[], None] = _no_check) -> list[tuple[int, int, str]]:
    """``(start, end, value)`` of every final-answer statement of ``text`` (module docstring), by position.

    Spans may overlap (a ``\\boxed{}`` inside an answer line); ``value`` is the answer's text ("" for
    a heading). ``checkpoint()`` is called every ``CHECK_EVERY`` characters of each scan.
    """
    lowered = _lowered(text)
    spans = _boxes(text, checkpoint) + _statements(text, lowered, checkpoint)
    closing = _closing(text, lowered, len(text))
    if closing is not None:
        spans.append(closing)
    spans += _echoes(text, lowered, spans)
    return sorted(spans)


def answer_values(text: str) -> set[str]:
    """What the final-answer spans of ``text`` state, as written: ``"820"``, ``"0.5"``,
    ``"forty-five"``, a LaTeX expression whole (``"\\frac{42}{7}"``)."""
    return {token for _, _, value in answer_spans(text) for token in _answer_tokens(value)}


def without_final_answer(text: str, checkpoint: Callable[[], None] = _no_check) -> str:
    """``text`` without its final-answer spans (unchanged without any): at each cut the spacing and the
    comma or colon left before it go and a second stop after a stop is dropped ("x, so 5. Next" ->
    "x. Next"); spaces collapsed; stripped of spacing and stops at both ends. Linear in ``len(text)``;
    ``checkpoint()`` is called every ``CHECK_EVERY`` characters (it may raise to stop)."""
    merged = _merged(answer_spans(text, checkpoint))
    if not merged:
        return text
    pieces, position = [], 0
    for start, end in merged:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    kept = [pieces[0]]
    for piece in pieces[1:]:
        left, right = kept[-1].rstrip(" \t*#"), piece.lstrip(" \t")  # markup of a cut statement goes too
        if right[:1] and right[0] in _PUNCTUATION:
            left = left.rstrip(" \t,;:，；：、")
            if not left or left[-1] in _PUNCTUATION or left[-1] == "\n":
                right = right.lstrip(_PUNCTUATION + " \t")
        elif left and right and left[-1] != "\n" and right[0] != "\n":
            left += " "
        kept[-1] = left
        kept.append(right)
    return _SPACE_RUN.sub(" ", "".join(kept).replace("\t", " ")).strip(" \n*#" + _PUNCTUATION)
