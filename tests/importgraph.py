"""The import graph of the installed package, read from its source files (every ``import``, inside functions too).

``python -m tests.importgraph`` prints the cycles and the layer violations; ``tests/test_layers.py`` fails on either.
Module names are the installed ones: pyproject's ``package-dir`` maps ``backends/`` to ``snncc.backends``. An edge
``a -> b`` means a statement in ``a`` imports ``b`` (``from p import m`` imports the module ``p.m`` when there is
one, else ``p``); the implicit import of a module's parent packages does not count, as in Python's own semantics
only what a statement names is imported by it.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Installed package name -> source folder, from pyproject's ``[tool.setuptools]``."""
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = tool.get("package-dir", {})
    out = {}
    for pkg in tool["packages"]:
        parts = pkg.split(".")
        for i in range(len(parts), 0, -1):  # the longest mapped prefix
            prefix = ".".join(parts[:i])
            if prefix in dirs:
                out[pkg] = root / dirs[prefix] / Path(*parts[i:])
                break
    return out


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package (``pkg`` for ``pkg/__init__.py``) -> its file."""
    out = {}
    for pkg, folder in package_dirs(root).items():
        for f in sorted(folder.glob("*.py")):
            out[pkg if f.stem == "__init__" else f"{pkg}.{f.stem}"] = f
    return out


def _resolve(target: str, mods: dict[str, Path]) -> str | None:
    """The deepest module of the package that ``target`` names (``a.b.attr`` -> ``a.b``), or None."""
    while target not in mods and "." in target:
        target = target.rsplit(".", 1)[0]
    return target if target in mods else None


def _imports(tree: ast.AST, name: str, is_package: bool, mods: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module of the package, line) for every import statement of module ``name``."""
    base = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolved = _resolve(alias.name, mods)
                if resolved:
                    yield resolved, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                module = ".".join(base[: len(base) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # 'from p import m' imports the module p.m if there is one, else p
                resolved = _resolve(f"{module}.{alias.name}", mods)
                if resolved:
                    yield resolved, node.lineno


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """module -> {imported module of the package: line of the first statement importing it}."""
    mods = modules(root)
    graph: dict[str, dict[str, int]] = {m: {} for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        for target, line in _imports(tree, name, path.stem == "__init__", mods):
            if target != name:
                graph[name].setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    g = import_graph()
    found = cycles(g)
    print(f"{len(g)} modules, {sum(len(v) for v in g.values())} import edges, {len(found)} cycles")
    for comp in found:
        print(f"  cycle through {len(comp)} modules: {', '.join(comp)}")
