"""The import graph points one way: no cycle among sluice's modules, and no driver in the translator core.

How imports are counted (a static walk of every module's AST, imports inside functions and
under ``TYPE_CHECKING`` included, since the design rule is about modules, not about timing):
``import a.b`` is an edge to ``a.b``; ``from a.b import c`` is an edge to ``a.b.c`` when that is
a module of ours and ``a/b/__init__.py`` binds no ``c`` itself (``from translator import plan``
is the function ``translator/__init__.py`` imports, not the module), else to ``a.b``. The parent packages Python initialises on the way are not
edges: a package whose ``__init__`` imports its submodules to register them (``stages``,
``builders``, ``expressions``) would otherwise form a cycle with every submodule, by
construction and harmlessly. A real cycle through a package still shows, as an edge to the
package itself (``from translator.stages import STAGE_PLANNERS``).
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("translator", "connectors", "runtime", "flows", "instance")
DRIVERS = ("confluent_kafka", "pymongo", "httpx")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _bound_at_top(name: str, tree: ast.Module) -> set[str]:
    """The names module ``name`` binds at its top level (definitions, assignments, imports),
    but not its own submodules, which a package imports to register them."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module == name:
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def _walk() -> dict[str, set[str]]:
    """Every module of ours to the modules of ours it imports."""
    modules = _modules()
    trees = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in modules.items()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(trees[name]):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against the importing package
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                bound = _bound_at_top(base, trees[base]) if base in trees else set()
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules and alias.name not in bound else base
                    for alias in node.names
                ]
            graph[name].update(target for target in targets if target in modules and target != name)
    return graph


@functools.cache
def _walked() -> str:
    """The walk, run once in a fresh interpreter: ``ast.parse`` deep inside a long test session can
    trip CPython 3.11's "AST constructor recursion depth mismatch"."""
    code = "import json, test_import_graph as t\nprint(json.dumps({k: sorted(v) for k, v in t._walk().items()}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


def _graph() -> dict[str, set[str]]:
    return {name: set(imported) for name, imported in json.loads(_walked()).items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_walk_sees_imports_at_module_level_and_inside_functions() -> None:
    graph = _graph()
    assert "translator.validate" in graph["translator"]  # module level
    assert "translator.run" in graph["translator"]  # inside __getattr__
    assert "connectors.https" in graph["translator.stages.https"]  # inside a function
    assert "translator.builders.sources" in graph["translator.builders"]  # a package registering its modules
    assert "translator" in graph["translator.cli"] and "translator.plan" not in graph["translator.cli"]  # the function


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_at_all() -> None:
    assert _cycles(_graph()) == []


def _loaded_by(modules: str) -> list[str]:
    """The top-level packages a fresh interpreter holds after importing ``modules``."""
    code = f"import sys\nimport {modules}\nprint(' '.join(sorted({{m.partition('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.split()


def test_the_translator_core_loads_no_driver() -> None:
    loaded = _loaded_by("translator.validate, translator.parse")
    assert "translator" in loaded and "bson" in loaded  # the walk really ran; bson is fine
    assert [driver for driver in DRIVERS if driver in loaded] == []


def test_the_translator_core_loads_no_bytewax() -> None:
    assert "bytewax" not in _loaded_by("translator.validate, translator.parse")
