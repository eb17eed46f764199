"""The tree keeps the shape docs/architecture.md draws: entry points on top, a folder per stage, no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("streams", "models")


def modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports anywhere in it (a function-level import counts too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        out |= {name for name in names if name in known}
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (a list of modules, first = last), or [] when there is none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports; a package's ``__init__`` stands apart from its modules."""
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_find_cycle_finds_one_and_only_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) == []


def test_entry_points_only_directly_under_streams() -> None:
    top = sorted(p.name for p in (ROOT / "streams").glob("*.py"))
    assert len(top) <= 8, top


def test_models_never_import_the_pipeline_or_faust() -> None:
    for name, path in modules().items():
        if name.startswith("models"):
            nodes = list(ast.walk(ast.parse(path.read_text())))
            roots = {a.name.split(".")[0] for n in nodes if isinstance(n, ast.Import) for a in n.names}
            roots |= {n.module.split(".")[0] for n in nodes if isinstance(n, ast.ImportFrom) and n.module}
            assert not roots & {"streams", "faust", "aiokafka", "kafka"}, (name, roots)


def test_tools_sit_above_the_worker() -> None:
    """No stage of the worker imports a tool: a tool never sits between two stages."""
    graph = import_graph()
    for name, deps in graph.items():
        if not name.startswith("streams.tools") and name != "streams.cli":
            assert not {d for d in deps if d.startswith("streams.tools")}, name


def test_infra_takes_plain_arguments() -> None:
    """``infra/`` starts servers from plain values; it never reads the app's settings."""
    for path in sorted((ROOT / "infra").rglob("*.py")):
        nodes = ast.walk(ast.parse(path.read_text()))
        found = {n.module for n in nodes if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in found if m.split(".")[0] == "streams"}, path


def test_no_pickle_and_no_eval_in_the_pipeline_or_the_maths() -> None:
    """Nothing read from Kafka or Postgres can run code: no unpickler, no eval, anywhere in the code."""
    banned = {"pickle", "cloudpickle", "dill", "marshal", "shelve", "joblib"}
    for name, path in modules().items():
        nodes = list(ast.walk(ast.parse(path.read_text())))
        found = {a.name.split(".")[0] for n in nodes if isinstance(n, ast.Import) for a in n.names}
        found |= {n.module.split(".")[0] for n in nodes if isinstance(n, ast.ImportFrom) and n.module}
        calls = {n.func.id for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not found & banned and not calls & {"eval", "exec"}, name


def private_attributes(path: Path) -> set[str]:
    """Private attributes ``path`` reaches on objects other than ``self``/``cls`` (``x._y``, getattr)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and str(name.value).startswith("_"):
                found.add(str(name.value))
    return found


def test_private_library_attributes_are_reached_through_one_module() -> None:
    """Faust's and aiokafka's internals only in streams/runtime/faust_internals.py (``_mapping`` is
    SQLAlchemy's public Row API despite its name)."""
    door = ROOT / "streams" / "runtime" / "faust_internals.py"
    for name, path in modules().items():
        if path != door:
            assert private_attributes(path) <= {"_mapping"}, (name, private_attributes(path))


def test_no_function_in_the_pipeline_or_the_maths_is_over_60_lines() -> None:
    """Agents are wiring, processors small methods: closures are not a module system."""
    long = [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, path in modules().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno
        if node.end_lineno - node.lineno + 1 > 60
    ]
    assert long == []
