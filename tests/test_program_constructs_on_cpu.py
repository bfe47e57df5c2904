"""program_constructs: what a response's program does, its names and literals abstracted."""

import pytest

from polyepo_plugin.diversity.program_constructs import last_code_block, program_constructs


def fenced(code: str, prose: str = "Here it is.") -> str:
    return f"{prose}\n```python\n{code}\n```\nRunning it gives 19."


MODULO_LOOP = """def digit_sum(n):
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total"""
# The same loop with every name, literal, comparison and assignment form changed.
MODULO_LOOP_REWORDED = """def sum_of_digits(value):
    acc = 0
    while value:
        acc = acc + value % 10
        value = value // 10
    return acc"""
STRING_DIGITS = """def digit_sum(n):
    return sum(int(d) for d in str(n))"""
RECURSION = """def digit_sum(n):
    return n if n < 10 else n % 10 + digit_sum(n // 10)"""


def test_renaming_and_rewording_a_program_leaves_its_constructs():
    assert program_constructs(fenced(MODULO_LOOP)) == program_constructs(fenced(MODULO_LOOP_REWORDED, "Another intro."))
    assert program_constructs(fenced(MODULO_LOOP)) == {"code:while", "code:+", "code:%", "code://"}


def test_methods_of_one_task_perform_different_constructs():
    loop, string, recursive = (program_constructs(fenced(code)) for code in (MODULO_LOOP, STRING_DIGITS, RECURSION))
    assert string == {"code:sum", "code:int", "code:str", "code:comprehension"}
    assert {"code:recursion", "code:branch"} <= recursive and "code:recursion" not in loop
    assert len({frozenset(loop), frozenset(string), frozenset(recursive)}) == 3


def test_library_names_are_vocabulary_and_bound_names_are_not():
    code = "from math import comb\nimport re\n\ndef paths(m, n):\n    return comb(m + n, m) + len(re.findall('a', 'b'))"
    found = program_constructs(fenced(code))
    assert {"code:comb", "code:import math", "code:import re", "code:re", "code:.findall", "code:len"} <= found
    assert not {"code:paths", "code:m", "code:n"} & found


def test_the_last_program_is_the_one_a_response_settles_on():
    draft_then_final = fenced(STRING_DIGITS, "First try:") + "\nNo, no strings allowed.\n" + fenced(MODULO_LOOP)
    assert last_code_block(draft_then_final).startswith("def digit_sum(n):\n    total = 0")
    assert program_constructs(draft_then_final) == program_constructs(fenced(MODULO_LOOP))


@pytest.mark.parametrize(
    "text",
    [
        "No program here: the digits 4, 9 and 6 add up to 19.",
        fenced("for i in range(n) print(i)"),  # not Python
        fenced("int main() { return 0; }"),
        "```python\ndef f(:\n```",
        "an unclosed fence ```python\nx = 1",
    ],
)
def test_no_parsable_program_means_no_constructs(text):
    assert program_constructs(text) == set()
