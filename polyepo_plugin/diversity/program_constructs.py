"""What a response's program does, with its names and values abstracted: evidence of method.

A program's wording is its names, its literals, its annotations and its layout; its method is
the constructs it uses (a ``while`` loop, recursion, ``%`` and ``//``, a regular expression,
``str.count``). Two responses that rename every variable still perform the same operations; two
methods perform different ones, even when their prose is alike. Pure functions, standard
library only.

``program_constructs(text) -> set[str]`` reads the response's program: its fenced code blocks
(```` ``` ```` ... ```` ``` ````; a fence left open at the end of a cut-off response runs to the
end) are parsed as Python, and the LAST one that binds a name (defines a function or class, or
assigns) is read: a chain of thought may draft a program and restart, and the last program is
the one it settles on, while blocks that only show a call or an output bind nothing. It returns,
each prefixed ``"code:"`` so that they can share a set with numbers:

- control: ``for``, ``while``, ``branch`` (``if`` statement or expression), ``comprehension``
  (list, set, dict or generator), ``lambda``, ``recursion`` (a function, method or named lambda
  calling itself), ``try``, ``match``, ``index`` (subscripts), ``slice``;
- operators: every arithmetic, bitwise, boolean or unary operator by its kind (``%``, ``//``,
  ``&``, ``<<``, ``**``, ``not``, ...; ``x += 1`` and ``x = x + 1`` both give ``+``), and ``in``;
- vocabulary: every name the program uses but does not bind (builtins and imported names:
  ``sum``, ``bin``, ``comb``), every attribute it uses that the program does not itself define
  (``count``, ``bit_length``; not ``self.memo`` or ``self.helper``), and every imported module.

Names the program binds (functions, classes, methods, parameters, variables, import aliases,
exception and pattern names), literals, type annotations and a ``if __name__ == "__main__":``
block are left out: they are wording or usage. Plain comparisons (``<``, ``!=``) are left out
too: ``while n > 0`` and ``while n`` are one loop. A text without such a block has no constructs
(then the channel is silent and the rest of the evidence decides).
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings

PREFIX = "code:"
_FENCED = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_OPERATOR = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.MatMult: "@", ast.Invert: "~", ast.Not: "not", ast.USub: "-", ast.UAdd: "+",
    ast.And: "and", ast.Or: "or",
}
_CONSTRUCT = {
    ast.For: "for", ast.AsyncFor: "for", ast.While: "while", ast.If: "branch", ast.IfExp: "branch",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.Lambda: "lambda", ast.Try: "try", ast.Match: "match",
    ast.Subscript: "index", ast.Slice: "slice",
}
if hasattr(ast, "TryStar"):  # Python 3.11+
    _CONSTRUCT[ast.TryStar] = "try"
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def program_constructs(text: str) -> set[str]:
    """The constructs of ``text``'s program (module docstring); empty when it has none."""
    tree = settled_program(text)
    if tree is None:
        return set()
    bound, defined_attributes = _bound_names(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        kind = type(node)
        if kind in _CONSTRUCT:
            found.add(_CONSTRUCT[kind])
        if isinstance(node, (ast.BinOp, ast.AugAssign, ast.UnaryOp, ast.BoolOp)):
            found.add(_OPERATOR[type(node.op)])
        elif isinstance(node, ast.Compare):
            found.update("in" for op in node.ops if isinstance(op, (ast.In, ast.NotIn)))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr not in defined_attributes:
            found.add(f".{node.attr}")
        elif isinstance(node, ast.Import):
            found.update(f"import {alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(f"import {node.module}")
            found.update(alias.name for alias in node.names if alias.name != "*")  # not the operator
    if _recursive(tree):
        found.add("recursion")
    return {PREFIX + c for c in found}


def settled_program(text: str) -> ast.Module | None:
    """The last fenced block of ``text`` that parses as Python and binds a name, with its
    annotations and ``__main__`` block removed; None when there is none."""
    for block in reversed(_FENCED.findall(text)):
        try:
            with warnings.catch_warnings():  # invalid escapes in a response's strings are its business
                warnings.simplefilter("ignore", SyntaxWarning)
                tree = ast.parse(textwrap.dedent(block))
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python, or past the parser's limits
            continue
        if _binds_a_name(tree):
            return _without_wording(tree)
    return None


def _binds_a_name(tree: ast.Module) -> bool:
    return any(
        isinstance(node, (*_FUNCTIONS, ast.ClassDef, ast.Assign, ast.AugAssign, ast.AnnAssign)) for node in ast.walk(tree)
    )


def _without_wording(tree: ast.Module) -> ast.Module:
    """``tree`` without type annotations and without top-level ``if __name__ == ...`` blocks."""
    tree.body = [statement for statement in tree.body if not _is_main_guard(statement)]
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return tree


def _is_main_guard(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.If)
        and isinstance(statement.test, ast.Compare)
        and isinstance(statement.test.left, ast.Name)
        and statement.test.left.id == "__name__"
    )


def _bound_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The names the program binds (functions, classes, methods, parameters, assigned and loop
    variables, import aliases, exception and pattern names; an imported name without an alias
    is the library's, vocabulary) and the attributes it defines (methods, ``self.memo = ...``)."""
    bound, attributes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            bound.add(node.name)
            attributes.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            attributes.add(node.attr)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound, attributes


def _recursive(tree: ast.Module) -> bool:
    """Whether a function, a method (``self.f(...)`` inside ``f``) or a named lambda (``f =
    lambda ...: ... f(...)``) calls itself."""
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            name, body = node.name, node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and len(node.targets) == 1:
            if not isinstance(node.targets[0], ast.Name):
                continue
            name, body = node.targets[0].id, node.value
        else:
            continue
        if any(isinstance(call, ast.Call) and _callee(call.func) == name for call in ast.walk(body)):
            return True
    return False


def _callee(function: ast.expr) -> str | None:
    """``f`` for ``f(...)`` and ``self.f(...)`` / ``cls.f(...)``; None otherwise."""
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id in ("self", "cls"):
        return function.attr
    return None
