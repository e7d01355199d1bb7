"""Backends: the integer reference simulator, the float model, Lava and lava-dl netx (installed as
``snncc.backends``), found by name in :mod:`snncc.backends.registry`."""

from .registry import BACKENDS, backend, exporters, target_backends, target_exporters

__all__ = ["BACKENDS", "backend", "exporters", "target_backends", "target_exporters"]
