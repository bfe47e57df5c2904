"""What a response's program does, with its names and values abstracted: evidence of method.

A program's wording is its names, its literals and its layout; its method is the constructs it
uses (a ``while`` loop, recursion, ``%`` and ``//``, a regular expression, ``str.count``). Two
responses that rename every variable still perform the same operations; two methods perform
different ones, even when their prose is alike. Pure functions, standard library only.

``program_constructs(text) -> set[str]`` reads the LAST fenced code block of ``text`` (a chain of
thought may draft a program and restart; the last one is what it settles on) as Python and
returns, each prefixed ``"code:"`` so that it can share a set with numbers:

- control: ``for``, ``while``, ``branch`` (``if`` statement or expression), ``comprehension``
  (list, set, dict or generator), ``lambda``, ``recursion`` (a function calling itself), ``try``;
- operators: every arithmetic, bitwise or augmented-assignment operator by its kind (``%``,
  ``//``, ``&``, ``<<``, ``**``, ...; ``x += 1`` and ``x = x + 1`` both give ``+``), ``in``,
  ``and``/``or``/``not``, ``index`` (subscripts), ``slice``;
- vocabulary: every name the program uses but does not bind (builtins and imported names:
  ``sum``, ``bin``, ``comb``), every attribute it reads (``count``, ``bit_length``), every
  module it imports, every decorator's name.

Names the program binds (its functions, parameters, variables) and every literal are left out:
they are wording. Plain comparisons (``<``, ``!=``) are left out too: ``while n > 0`` and
``while n`` are one loop. A text without a fenced block, or whose last block is not Python,
has no constructs (then the channel is silent and the rest of the evidence decides).
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings

PREFIX = "code:"
_FENCED = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_OPERATOR = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.MatMult: "@", ast.Invert: "~", ast.Not: "not", ast.USub: "-", ast.UAdd: "+",
    ast.And: "and", ast.Or: "or",
}
_CONSTRUCT = {
    ast.For: "for", ast.AsyncFor: "for", ast.While: "while", ast.If: "branch", ast.IfExp: "branch",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.Lambda: "lambda", ast.Try: "try", ast.Subscript: "index",
    ast.Slice: "slice",
}


def last_code_block(text: str) -> str | None:
    """The body of the last ```-fenced block of ``text``, dedented; None when there is none."""
    blocks = _FENCED.findall(text)
    return textwrap.dedent(blocks[-1]) if blocks else None


def program_constructs(text: str) -> set[str]:
    """The constructs of ``text``'s last fenced code block (module docstring); empty when it has
    none or the block does not parse as Python."""
    code = last_code_block(text)
    if code is None:
        return set()
    try:
        with warnings.catch_warnings():  # invalid escapes in a response's strings are its business
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python, or nested past the parser's limits
        return set()
    bound = _bound_names(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        kind = type(node)
        if kind in _CONSTRUCT:
            found.add(_CONSTRUCT[kind])
        if isinstance(node, (ast.BinOp, ast.AugAssign, ast.UnaryOp, ast.BoolOp)):
            found.add(_OPERATOR.get(type(node.op), type(node.op).__name__))
        elif isinstance(node, ast.Compare):
            found.update("in" for op in node.ops if isinstance(op, (ast.In, ast.NotIn)))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(f".{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            modules += [alias.name for alias in node.names]
            found.update(f"import {m}" for m in modules)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _calls_itself(node):
            found.add("recursion")
    return {PREFIX + c for c in found}


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the program itself binds: functions, classes, parameters, assigned or loop
    variables (imported names are vocabulary, not bound)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    return bound


def _calls_itself(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function.name
        for node in ast.walk(function)
    )
