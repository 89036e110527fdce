"""The experiments package is a house one can find one's way in: no import cycles, small files and functions.

The import graph is built from the source with ``ast`` (every ``import`` statement, also
those inside functions, so that a function-local import cannot hide a cycle) and must be
acyclic.  Sizes follow the developer guide: no function over 80 lines and no file over
400 lines unless listed below with the reason; the same size limits hold for the memories
(``models/``) and their energy functions (``energy/``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "experiments"

MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 400
#: "path:function" -> why it is longer than the limit.
LONG_FUNCTIONS: dict[str, str] = {}
LONG_FILES: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``path`` imports (the most specific module each statement names)."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif base in modules:
                    found.add(base)
    found.discard(here)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_package():
    graph = _graph()
    assert {"experiments.cli", "experiments.runner", "experiments.patterns", "experiments.transition"} <= set(graph)
    assert "experiments.runner" in graph["experiments.cli"]
    assert "experiments.patterns.pattern_set" in graph["experiments.patterns.synthetic"]


def test_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_import_graph_is_acyclic():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_shared_modules_do_not_import_what_runs():
    """What runs (studies, demos, the command line) sits above what it shares."""
    graph = _graph()
    runs = ("experiments.cli", "experiments.__main__", "experiments.capacity", "experiments.basins")
    runs += ("experiments.spurious", "experiments.transition", "experiments.demos")
    shared = [m for m in graph if m.startswith(("experiments.patterns", "experiments.metrics"))]
    shared += ["experiments.corruption", "experiments.runner", "experiments.zoo", "experiments.seeds"]
    for module in shared:
        bad = [m for m in graph.get(module, ()) if m.startswith(runs)]
        assert not bad, f"{module} imports {bad}"


def _sizes(package: Path = PACKAGE):
    for path in sorted(package.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        source = path.read_text()
        yield rel, None, len(source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield rel, node.name, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("kind", ["function", "file"])
def test_functions_and_files_are_small(kind):
    too_long = []
    for rel, name, n in _sizes():
        if kind == "file" and name is None and n > MAX_FILE_LINES and rel not in LONG_FILES:
            too_long.append(f"{rel}: {n} lines")
        if kind == "function" and name and n > MAX_FUNCTION_LINES and f"{rel}:{name}" not in LONG_FUNCTIONS:
            too_long.append(f"{rel}:{name}: {n} lines")
    assert not too_long, "\n".join(too_long)


@pytest.mark.parametrize("package", ["models", "energy"])
def test_memories_and_energies_are_small(package):
    too_long = [
        f"{rel}{':' + name if name else ''}: {n} lines"
        for rel, name, n in _sizes(ROOT / package)
        if n > (MAX_FUNCTION_LINES if name else MAX_FILE_LINES)
    ]
    assert too_long == [], "\n".join(too_long)
