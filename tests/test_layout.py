"""The layout's rules, read from the imports (every import, also those inside functions):

- the data flows one way: bot → handlers, webapp → services → exchanges;
- the stand-ins (sandbox/) are imported only by the demo entry point, the tests and the benchmarks;
- nothing imports bot/ but bot/ itself, and no module imports itself through a circle.

Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "webapp", "services", "exchanges", "sandbox")

# What each top-level package may import of ours, besides itself.
MAY_IMPORT = {
    "bot": {"handlers", "webapp", "services", "exchanges", "sandbox", "migrations"},
    "handlers": {"services"},
    "webapp": {"services"},
    "services": {"exchanges"},
    "exchanges": set(),
    # The simulator speaks the product's formats (UID lengths, the CSV columns).
    "sandbox": {"exchanges"},
}
# The one product module that may compose the stand-ins: the demo.
SANDBOX_USERS = {"bot.demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    return parse_imports(path.read_text(), module_name(path), modules,
                         is_package=path.name == "__init__.py")


def parse_imports(source: str, name: str, modules: set[str], *, is_package: bool) -> set[str]:
    """Those of ``modules`` that a module imports (relative imports resolved). ``from pkg
    import a, b`` counts as importing pkg only where a or b is not a module of pkg's own."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found.update(submodules & modules)
            if not submodules <= modules:
                found.add(base)
    return (found & modules) - {name}


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    nodes: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
            else:
                pending.append(child)
    return nodes


def product_graph() -> dict[str, set[str]]:
    files = [p for top in PRODUCT for p in (ROOT / top).rglob("*.py")]
    modules = {module_name(p): p for p in files}
    return {name: imported_modules(path, set(modules)) for name, path in modules.items()}


def test_the_data_flows_one_way() -> None:
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in product_graph().items()
        for target in targets
        if (top := source.split(".")[0]) != (other := target.split(".")[0])
        and other not in MAY_IMPORT[top]
    )
    assert wrong == []


def test_only_the_demo_imports_the_stand_ins() -> None:
    users = {source for source, targets in product_graph().items()
             if not source.startswith("sandbox")
             and any(t.startswith("sandbox") for t in targets)}
    assert users <= SANDBOX_USERS


def test_nothing_outside_bot_imports_bot() -> None:
    importers = {source for source, targets in product_graph().items()
                 if not source.startswith("bot") and any(t.startswith("bot") for t in targets)}
    assert importers == set()


def test_no_import_circles() -> None:
    graph = product_graph()
    circles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
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
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []


def test_the_reader_sees_relative_and_function_level_imports() -> None:
    source = ("from typing import TYPE_CHECKING\nfrom . import jobs\nfrom ..bot import app\n"
              "if TYPE_CHECKING:\n    from services import models\n"
              "def f():\n    import sandbox.telegram\n")
    modules = {"services", "services.jobs", "services.models", "bot", "bot.app", "sandbox",
               "sandbox.telegram"}
    assert parse_imports(source, "services.probe", modules, is_package=False) == {
        "services.jobs", "bot.app", "sandbox.telegram"}
