"""Each neuron family lives in its folder: outside the family folders, only its two registration points name it.

A family's names are its registry name, the node and torch module classes it declares and every top-level name of
its folder that contains the family's name (``QLIF``, ``multilevel_step``...). The code of each library file
outside the family folders (names, attributes, imports and strings, not docstrings or comments) is searched for
them; other families' folders may use a family (KLIF lowers onto LIF), generic code may not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from snncc.families import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ROOT / "snncc" / "families"
REGISTRATION = {"snncc/families/__init__.py", "snncc/neurons/__init__.py"}  # the family list, the public facade


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def code_words(source: str) -> set[str]:
    """The identifiers a module's code uses, and the words of its strings (not of its docstrings)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)

    def words() -> Iterator[str]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                yield node.id
            elif isinstance(node, ast.Attribute):
                yield node.attr
            elif isinstance(node, ast.alias):
                yield from node.name.split(".")
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield from node.module.split(".")
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                yield node.name
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                yield from re.findall(r"[A-Za-z_][A-Za-z0-9_]*", node.value)

    return set(words())


def family_names(fam) -> set[str]:
    names = {fam.name}
    for f in (FAMILIES / fam.name).rglob("*.py"):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                found = [node.name]
            elif isinstance(node, ast.Assign):
                found = [t.id for t in node.targets if isinstance(t, ast.Name)]
            else:
                found = []
            names |= {n for n in found if fam.name in n.lower().replace("_", "") or fam.name.upper() in n}
    return names | {t.__name__ for t in (*fam.float_nodes, *fam.integer_nodes, *fam.torch_modules())}


def generic_files() -> list[Path]:
    homes = [FAMILIES / fam.name for fam in REGISTRY]
    files = [*(ROOT / "snncc").rglob("*.py"), *(ROOT / "backends").rglob("*.py")]
    return sorted(f for f in files if not any(h in f.parents for h in homes))


def users(fam) -> dict[str, list[str]]:
    """Generic library file -> the family's names its code uses."""
    names = family_names(fam)
    out = {}
    for f in generic_files():
        used = sorted(code_words(f.read_text()) & names)
        if used:
            out[str(f.relative_to(ROOT))] = used
    return out


def test_every_family_has_a_folder_of_its_own() -> None:
    for fam in REGISTRY:
        assert (FAMILIES / fam.name / "__init__.py").is_file(), fam.name
        assert type(fam).__module__ == f"snncc.families.{fam.name}", fam.name


def test_generic_code_names_a_family_only_where_it_is_registered() -> None:
    for fam in REGISTRY:
        found = users(fam)
        assert set(found) <= REGISTRATION, f"{fam.name} is named outside its folder: {found}"
        assert len(found) <= 3


def test_the_search_sees_a_family_name_in_code_but_not_in_docstrings() -> None:
    lif = REGISTRY.family("lif")
    names = family_names(lif)
    assert {"lif", "QLIF", "LIFNeuron"} <= names
    source = '"""QLIF in a docstring."""\nfrom snncc.families.lif.nodes import QLIF\n'
    assert code_words(source) & names == {"lif", "QLIF"}
    assert not code_words('"""QLIF and LIFNeuron, only described."""\n# QLIF\nx = 1\n') & names
    assert "snncc/families/__init__.py" in users(lif)  # the registration point is seen
