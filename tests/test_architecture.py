"""The shape of the code, checked: what a newcomer is promised by docs/architecture.md stays true."""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard"
# The root of dashboard/ holds wiring only; each concept lives in a package of its own.
WIRING = {
    "__init__.py",
    "admin.py",
    "apps.py",
    "celery.py",
    "celigo.py",
    "embedded.py",
    "env.py",
    "middleware.py",
    "settings.py",
    "tasks.py",
    "urls.py",
    "wsgi.py",
}
MAX_CLASS_LINES = 250


def python_files(under: Path) -> Iterator[Path]:
    for path in sorted(under.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(tree: ast.Module, module: str, modules: set[str]) -> set[str]:
    """Dashboard modules imported at the top level (``from x import y`` counts x.y when y is a module)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in python_files(DASHBOARD)}
    modules = set(paths)
    graph = {}
    for module, path in paths.items():
        edges = imported_modules(ast.parse(path.read_text()), module, modules)
        # Importing dashboard.a.b runs dashboard/a/__init__.py first.
        for name in list(edges):
            parts = name.split(".")
            edges |= {".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) in modules}
        graph[module] = {name for name in edges if not module.startswith(name + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_dashboard_modules():
    assert cycles(import_graph()) == []


def test_it_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_function_level_import_of_a_dashboard_module():
    """Imports inside functions hide cycles; the only ones allowed are Django's app-loading hooks."""
    allowed = {("dashboard.apps", "ready")}
    offenders = []
    for path in python_files(DASHBOARD):
        module = module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                names = []
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    names = [inner.module]
                elif isinstance(inner, ast.Import):
                    names = [alias.name for alias in inner.names]
                if any(name.startswith("dashboard") for name in names) and (module, node.name) not in allowed:
                    offenders.append(f"{module}.{node.name}: {names}")
    assert offenders == []


def test_the_root_of_the_dashboard_package_holds_wiring_only():
    root_modules = {path.name for path in DASHBOARD.glob("*.py")}
    assert root_modules <= WIRING, root_modules - WIRING


def test_no_class_is_longer_than_a_newcomer_can_read():
    long_classes = []
    for path in python_files(DASHBOARD):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long_classes.append(f"{module_name(path)}.{node.name}: {lines} lines")
    assert long_classes == []


def test_nothing_in_the_repository_cites_a_document_outside_it():
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    outside = re.compile(r"\.\./shared|shared/|PRODUCT\.md|STYLE\.md|(?<![\w/])celigo-api\.md")
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".html", ".js", ".css", ".toml", ".yml", ".yaml", ".sql", ""}:
            continue
        if not path.is_file() or name == "tests/test_architecture.py":
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside.search(line.replace("](celigo-api.md)", "")):  # a link between docs/ neighbours
                offenders.append(f"{name}:{number}: {line.strip()[:100]}")
    assert offenders == []
