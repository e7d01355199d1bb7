"""The import graph of the installed package, read from its source files (every ``import``, inside functions too).

``python -m tests.importgraph`` prints the cycles and the layer violations; ``tests/test_layers.py`` fails on either.
Module names are the installed ones: pyproject's ``package-dir`` maps ``backends/`` to ``snncc.backends``. An edge
``a -> b`` means a statement in ``a`` imports ``b`` (``from p import m`` imports the module ``p.m`` when there is
one, else ``p``); the implicit import of a module's parent packages does not count, as in Python's own semantics
only what a statement names is imported by it. Plug-ins named by a string (a family's ``graph_runners``, the
Lava process classes in a target's YAML) are imported by the registry that reads the string, not by the module
that names it, so they are no edge of the module naming them.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The layer contract, top to bottom: a module may import its own layer and the layers below it, never one above.
# Data flows frontend -> IR -> passes -> backends -> reports; the driver (compiler, bundle, verify) calls them in
# that order, so none of them imports the one after it. Passes sit above backends because calibration runs the
# float graph on the reference simulator; reports sit above backends because the fidelity report runs both
# simulators. A family's own backend runners (``families/<f>/runners.py``) plug into the backends and so sit at
# their layer, while the rest of the family sits below every consumer. A module's layer is the one of its longest
# matching pattern (``fnmatch`` patterns; ``p`` matches the module ``p`` and everything under it, ``=p`` only ``p``).
# Export reads compiled bundles (the driver's Bundle) and writes other tools' formats, so it sits above the driver;
# only the command line uses it.
LAYERS: list[tuple[str, list[str]]] = [
    ("cli", ["snncc.cli"]),
    ("api", ["=snncc", "snncc.neurons"]),
    ("training", ["snncc.training"]),
    ("export", ["snncc.export"]),
    ("driver", ["snncc.compiler", "snncc.bundle", "snncc.verify", "snncc.testing", "snncc.dataset",
                "snncc.distributed"]),
    ("reports", ["snncc.reports", "snncc.fidelity"]),
    ("frontend", ["snncc.frontend"]),
    ("passes", ["snncc.passes"]),
    ("mapping", ["snncc.mapping"]),
    ("backends", ["snncc.backends", "snncc.families.*.runners"]),
    ("families", ["snncc.families", "snncc.nn"]),
    ("ir", ["snncc.ir", "snncc.inputs"]),
    ("base", ["snncc.fixedpoint", "snncc.kernels", "snncc.conv", "snncc.target", "snncc.targets", "snncc.errors",
              "snncc.compat", "snncc.values", "snncc.outputs"]),
    ("version", ["snncc._version"]),
]


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


def _matches(module: str, pattern: str) -> bool:
    if pattern.startswith("="):
        return module == pattern[1:]
    return fnmatchcase(module, pattern) or fnmatchcase(module, pattern + ".*")


def layer_of(module: str, layers: list[tuple[str, list[str]]] = LAYERS) -> int | None:
    """Index in ``layers`` (0 = top) of the longest pattern matching ``module``, or None when none does."""
    best: tuple[int, int] | None = None  # (pattern length, layer index)
    for i, (_, patterns) in enumerate(layers):
        for pattern in patterns:
            if _matches(module, pattern) and (best is None or len(pattern) > best[0]):
                best = (len(pattern), i)
    return None if best is None else best[1]


def upward_imports(
    graph: dict[str, dict[str, int]], layers: list[tuple[str, list[str]]] = LAYERS
) -> list[str]:
    """One line per import that runs from a layer to a layer above it (``module:line imports target``)."""
    out = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module, layers)
        for target, line in sorted(targets.items()):
            there = layer_of(target, layers)
            if here is not None and there is not None and there < here:
                out.append(
                    f"{module}:{line} ({layers[here][0]}) imports {target} ({layers[there][0]}), a layer above it"
                )
    return out


def unplaced(graph: dict[str, dict[str, int]], layers: list[tuple[str, list[str]]] = LAYERS) -> list[str]:
    """Modules that no layer pattern matches: a new package must be given its place in ``LAYERS``."""
    return sorted(m for m in graph if layer_of(m, layers) is None)


if __name__ == "__main__":
    g = import_graph()
    found = cycles(g)
    up = upward_imports(g)
    lost = unplaced(g)
    print(
        f"{len(g)} modules, {sum(len(v) for v in g.values())} import edges, {len(found)} cycles, "
        f"{len(up)} upward imports, {len(lost)} modules without a layer"
    )
    for comp in found:
        print(f"  cycle through {len(comp)} modules: {', '.join(comp)}")
    for line in up:
        print(f"  {line}")
    for m in lost:
        print(f"  no layer: {m}")
