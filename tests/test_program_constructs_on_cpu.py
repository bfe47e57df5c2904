"""program_constructs: what a response's program does, its names and literals abstracted."""

import pytest

from polyepo_plugin.diversity.program_constructs import program_constructs


def fenced(code: str, prose: str = "Here it is.") -> str:
    return f"{prose}\n```python\n{code}\n```\nThat prints 120."


# Three ways to compute n! (shared with test_text_clusters_on_cpu.py).
FACTORIAL_LOOP = """def factorial(n):
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result"""
# The same loop: every name, literal, annotation and assignment form changed.
FACTORIAL_LOOP_REWORDED = """def fact(m: int) -> int:
    acc: int = 1
    for factor in range(2, m + 1):
        acc = acc * factor
    return acc"""
FACTORIAL_RECURSION = """def factorial(n):
    return 1 if n <= 1 else n * factorial(n - 1)"""
FACTORIAL_LIBRARY = """import math

def factorial(n):
    return math.prod(range(1, n + 1))"""
FACTORIAL_WHILE = """def factorial(n):
    result = 1
    while n > 1:
        result *= n
        n -= 1
    return result"""
FACTORIAL_BUILTIN = """import math

def factorial(n):
    return math.factorial(n)"""


def test_renaming_and_rewording_a_program_leaves_its_constructs():
    loop = program_constructs(fenced(FACTORIAL_LOOP))
    assert loop == {"code:for", "code:range", "code:*", "code:+"}
    assert program_constructs(fenced(FACTORIAL_LOOP_REWORDED, "Another intro.")) == loop


def test_methods_of_one_task_perform_different_constructs():
    loop, recursive, library = (
        program_constructs(fenced(code)) for code in (FACTORIAL_LOOP, FACTORIAL_RECURSION, FACTORIAL_LIBRARY)
    )
    assert {"code:recursion", "code:branch"} <= recursive and "code:recursion" not in loop | library
    assert {"code:import math", "code:math", "code:.prod"} <= library
    assert len({frozenset(loop), frozenset(recursive), frozenset(library)}) == 3


def test_library_names_are_vocabulary_and_the_programs_own_names_are_not():
    code = """import numpy as np
from math import comb as choose
import re

class Solver:
    def paths(self, m, n):
        self.cache = {}
        try:
            return choose(m + n, m) + len(re.findall('a', 'b')) + int(np.sum([1]))
        except ValueError as err:
            return self.cache.get(err)"""
    found = program_constructs(fenced(code))
    expected = {"code:comb", "code:import math", "code:import numpy", "code:import re", "code:re", "code:.findall",
                "code:len", "code:int", "code:.sum", "code:.get", "code:try", "code:ValueError"}
    assert expected <= found
    own = {"code:np", "code:choose", "code:Solver", "code:paths", "code:m", "code:n", "code:.cache", "code:err", "code:self"}
    assert not own & found


@pytest.mark.parametrize(
    "code",
    [
        FACTORIAL_RECURSION,
        "class Solution:\n    def fact(self, n):\n        return 1 if n <= 1 else n * self.fact(n - 1)",
        "fact = lambda n: 1 if n <= 1 else n * fact(n - 1)",
    ],
)
def test_recursion_is_read_in_functions_methods_and_named_lambdas(code):
    assert "code:recursion" in program_constructs(fenced(code))


def test_the_program_a_response_settles_on_is_read():
    """The last block that binds a name: not a draft before it, not a call or an output shown
    after it, not a ``__main__`` block; a fence left open at the end runs to the end."""
    loop = program_constructs(fenced(FACTORIAL_LOOP))
    draft_then_final = fenced(FACTORIAL_LIBRARY, "First try:") + "\nNo imports allowed.\n" + fenced(FACTORIAL_LOOP)
    assert program_constructs(draft_then_final) == loop
    shown_after = fenced(FACTORIAL_LOOP) + "\n```python\nprint(factorial(5))\n```\nOutput:\n```\n120\n```"
    assert program_constructs(shown_after) == loop
    guarded = fenced(FACTORIAL_LOOP + "\n\nif __name__ == '__main__':\n    print(factorial(int(input())))")
    assert program_constructs(guarded) == loop
    assert program_constructs("Cut off here:\n```python\n" + FACTORIAL_LOOP + "\n") == loop


def test_a_star_import_is_not_read_as_multiplication():
    assert program_constructs(fenced("from math import *\n\ndef f(n):\n    return factorial(n)")) == {
        "code:import math", "code:factorial"
    }


def test_a_count_method_is_vocabulary_even_beside_a_count_variable():
    code = "def ones(n):\n    count = 0\n    return bin(n).count('1') + count"
    assert {"code:.count", "code:bin"} <= program_constructs(fenced(code))


@pytest.mark.parametrize(
    "text",
    [
        "No program here: 5 x 4 x 3 x 2 = 120.",
        fenced("for i in range(n) print(i)"),  # not Python
        fenced("int main() { return 0; }"),
        "```python\ndef f(:\n```",
        fenced("print(120)"),  # binds nothing: a call, not a program
        fenced("x = " + "+".join(["1"] * 30000)),  # past the parser's nesting limit
    ],
)
def test_no_parsable_program_means_no_constructs(text):
    assert program_constructs(text) == set()
