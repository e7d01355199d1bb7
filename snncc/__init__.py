"""snncc: a deployment compiler for spiking neural networks (PyTorch / NIR -> Loihi 2 via Lava)."""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import SnnccError

__all__ = ["Options", "SnnccError", "__version__", "compile", "load_bundle"]


def compile(source: Any, target: Any = "loihi2", out_dir: Any = None, options: Any = None, *,  # noqa: A001
            pipeline: Any = None, progress: Any = None) -> Any:
    """Compile ``source`` (a torch module, a .pt/.nir file, an IR graph) for ``target`` into a bundle (written to
    ``out_dir`` when given); ``options`` is an :class:`snncc.Options`, ``pipeline`` replaces the default pipeline.
    See :func:`snncc.compiler.compile_model`."""
    from .compiler import compile_model

    return compile_model(source, target, out_dir, options, pipeline=pipeline, progress=progress)


def load_bundle(path: Any) -> Any:
    """Load a compiled bundle folder; see :class:`snncc.bundle.Bundle`."""
    from .bundle import Bundle

    return Bundle.load(path)


def __getattr__(name: str) -> Any:
    if name == "Options":  # the compile options, without importing the compiler (and torch) on 'import snncc'
        from .compiler import Options

        return Options
    raise AttributeError(f"module 'snncc' has no attribute {name!r}")
