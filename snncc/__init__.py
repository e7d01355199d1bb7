"""snncc: a deployment compiler for spiking neural networks (PyTorch / NIR -> Loihi 2 via Lava)."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import SnnccError  # noqa: E402

__all__ = ["SnnccError", "__version__", "compile", "load_bundle"]


def compile(*args, **kwargs):  # noqa: A001 - the public name the design asks for
    """Compile a model for a target; see :func:`snncc.compiler.compile_model`."""
    from .compiler import compile_model

    return compile_model(*args, **kwargs)


def load_bundle(path):
    """Load a compiled bundle folder; see :class:`snncc.bundle.Bundle`."""
    from .bundle import Bundle

    return Bundle.load(path)
