"""snncc: a deployment compiler for spiking neural networks (PyTorch / NIR -> Loihi 2 via Lava)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import SnnccError

if TYPE_CHECKING:
    from torch import nn

    from .bundle import Bundle
    from .compiler import Options
    from .ir import Graph
    from .passes import Pipeline

__all__ = ["Options", "SnnccError", "__version__", "compile", "load_bundle"]


def compile(  # noqa: A001 - snncc.compile is the name users expect
    source: str | Path | nn.Module | Graph,
    target: str | Path = "loihi2",
    out_dir: str | Path | None = None,
    options: Options | None = None,
    *,
    pipeline: str | Pipeline | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Compile ``source`` (a torch module, a .pt/.nir file, an IR graph) for ``target`` into a bundle (written to
    ``out_dir`` when given); ``options`` is an :class:`snncc.Options`, ``pipeline`` replaces the default pipeline.
    See :func:`snncc.compiler.compile_model`."""
    from .compiler import compile_model

    return compile_model(source, target, out_dir, options, pipeline=pipeline, progress=progress)


def load_bundle(path: str | Path) -> Bundle:
    """Load a compiled bundle folder; see :class:`snncc.bundle.Bundle`."""
    from .bundle import Bundle

    return Bundle.load(path)


def __getattr__(name: str) -> Any:
    if name == "Options":  # the compile options, without importing the compiler (and torch) on 'import snncc'
        from .compiler import Options

        return Options
    raise AttributeError(f"module 'snncc' has no attribute {name!r}")
