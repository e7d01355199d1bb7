"""A corpus of malformed and careless inputs, one builder per case, grouped by the boundary they cross.

Every case builds its bad input in a fresh folder and returns the ``snncc`` command line that feeds it in; the test
(`tests/test_malformed.py`) runs each in-process and requires exit status 2, one ``snncc: error:`` line naming what
is wrong, no traceback, and nothing left behind. The categories mirror the boundaries of the compiler: model values,
model files, NIR files, target files, payloads, bundles, output paths and command-line values.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tests.models import mlp


@dataclass
class Workspace:
    """A case's own folder, with the valid ingredients it corrupts (a model file, a bundle, a NIR file)."""

    root: Path
    bundle_source: Path  # a valid compiled bundle (shared, never modified: cases corrupt a copy)

    @property
    def out(self) -> Path:
        return self.root / "out"

    def model(self, module: nn.Module | None = None, name: str = "model.pt") -> Path:
        """``module`` (default: a small valid MLP) saved whole, as users save models."""
        path = self.root / name
        torch.save(module if module is not None else mlp(sizes=(6, 5, 3)), path)
        return path

    def bundle(self) -> Path:
        """A private copy of the valid bundle, to corrupt."""
        dest = self.root / "bundle"
        shutil.copytree(self.bundle_source, dest)
        return dest

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
        return path


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    build: Callable[[Workspace], list[str]]
    expect: tuple[str, ...]  # fragments the error line must contain (case-insensitive)

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


CASES: list[Case] = []


def case(category: str, name: str, *expect: str) -> Callable[[Callable[[Workspace], list[str]]], Callable]:
    """Register a builder as a case of ``category`` whose error line must contain every fragment of ``expect``."""

    def register(build: Callable[[Workspace], list[str]]) -> Callable:
        if any(c.category == category and c.name == name for c in CASES):
            raise ValueError(f"duplicate corpus case {category}/{name}")
        CASES.append(Case(category, name, build, tuple(expect)))
        return build

    return register


def all_cases() -> list[Case]:
    """Every case of every category (importing the category modules registers them)."""
    from . import bundles, cli_values, model_files, model_values, nir_files, outputs, payloads, targets  # noqa: F401

    return list(CASES)
