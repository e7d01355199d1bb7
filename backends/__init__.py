"""Backends: the integer reference simulator, the float model, Lava and lava-dl netx (installed as
``snncc.backends``), found by name in :mod:`snncc.backends.registry`."""

from .registry import BACKENDS, backend, exporters

__all__ = ["BACKENDS", "backend", "exporters"]
