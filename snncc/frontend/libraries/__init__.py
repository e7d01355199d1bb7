"""Library presets for NIR files (``snncc compile model.nir --from <name>``), one module per library.

A new library is a module with a ``PRESET`` (:class:`~snncc.frontend.libraries.base.Preset`) and one name here.
"""

from __future__ import annotations

from importlib import import_module

from ...errors import OptionError
from .base import Preset, Repair

NAMES = ("nir", "snntorch", "norse", "sinabs", "spikingjelly", "rockpool")


def preset(name: str) -> Preset:
    """The preset called ``name`` (OptionError naming ``--from`` for an unknown one)."""
    if name not in NAMES:
        raise OptionError(f"--from {name!r}: no such library preset", hint="one of " + ", ".join(NAMES))
    return import_module(f"{__name__}.{name}").PRESET


__all__ = ["NAMES", "Preset", "Repair", "preset"]
