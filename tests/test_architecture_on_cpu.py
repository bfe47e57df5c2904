"""The package's rooms, checked on its source: who may import a host (verl, TRL), and no import cycles.

Every import counts: module level, inside functions, and ``importlib.import_module("...")``
string literals (the backend registry's table of built-in backends is read the same way).
"""

import ast
from pathlib import Path

import polyepo_plugin

PACKAGE_ROOT = Path(polyepo_plugin.__file__).parent
# Only these import verl: the integration subpackage, and the CPU harness, which patches verl
# for CPU runs and is never loaded on a GPU run.
MAY_IMPORT_VERL = ("polyepo_plugin.integration", "polyepo_plugin.cpu_harness")
# Only the TRL room imports trl; and the verl room's check of whether verl's own import of TRL's
# value-head model succeeds (verl 0.9.1 imports it in every worker when trl is installed).
MAY_IMPORT_TRL = ("polyepo_plugin.trl", "polyepo_plugin.integration.trl_value_head")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def imported_names(path: Path, this_module: str) -> set[str]:
    """Every module this file imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = this_module if path.name == "__init__.py" else this_module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_import_module_call(node):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
            target = node.value.split(":", 1)[0]  # "package.module:Attribute" entries of a registry table
            if target.startswith("polyepo_plugin.") and " " not in target:
                names.add(target)
    return names


def _is_import_module_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("import_module", "__import__")
    )


def host_importers(host: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """Modules outside ``allowed`` that import the ``host`` package, with what they import of it."""
    offenders = {}
    for name, path in modules().items():
        if name.startswith(allowed):
            continue
        host_imports = sorted(n for n in imported_names(path, name) if n == host or n.startswith(f"{host}."))
        if host_imports:
            offenders[name] = host_imports
    return offenders


def test_only_the_integration_subpackage_and_the_cpu_harness_import_verl():
    assert host_importers("verl", MAY_IMPORT_VERL) == {}


def test_only_the_trl_room_and_verls_value_head_check_import_trl():
    assert host_importers("trl", MAY_IMPORT_TRL) == {}
    assert "polyepo_plugin.trl.trainer" in modules()  # the room exists where the rule says


def test_the_scan_sees_function_level_and_string_imports(tmp_path):
    """The checker itself must catch what it is for."""
    source = tmp_path / "probe.py"
    source.write_text(
        "import importlib\n"
        "def f():\n    from verl.trainer.ppo import core_algos\n"
        "def g():\n    return importlib.import_module('verl.utils')\n"
    )
    assert {"verl.trainer.ppo", "verl.utils"} <= imported_names(source, "polyepo_plugin.probe")


def internal_graph() -> dict[str, set[str]]:
    """Edges between the package's own modules, each import resolved to the module it names
    (``from a.b import c`` names ``a.b.c`` when that is a module, else ``a.b``)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        edges = set()
        for imported in imported_names(path, name):
            parts = imported.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in known:
                    if candidate != name:
                        edges.add(candidate)
                    break
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_the_package_modules():
    cycle = find_cycle(internal_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# The package root holds the core only: the set math, grouping, options, user code, the entry.
CORE_MODULES = {"__init__", "set_advantage", "grouping", "config", "user_code", "estimator"}


def test_the_package_root_holds_the_core_only():
    root = {path.stem for path in PACKAGE_ROOT.glob("*.py")}
    assert root == CORE_MODULES, f"outside the core at the package root: {sorted(root - CORE_MODULES)}"
