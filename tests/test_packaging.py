"""Installs carry every package: pyproject's explicit package list must match the folders on disk."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    roots = {name: ROOT / folder for name, folder in cfg["package-dir"].items()}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((name, *rel)))
    assert found == listed, f"unlisted: {found - listed}, missing: {listed - found}"
    assert (ROOT / "targets" / "loihi2.yaml").is_file() and "*.yaml" in cfg["package-data"]["snncc.targets"]
