"""Compiler passes and the default pipeline (built from the target description)."""

from __future__ import annotations

from ..target import Target
from .base import Pass, PassContext, PassManager
from .canonicalize import Canonicalize, check_canonical
from .partition import Partition
from .place import Place
from .quantize import Quantize

__all__ = ["Canonicalize", "Pass", "PassContext", "PassManager", "Partition", "Place", "Quantize",
           "check_canonical", "default_pipeline", "PASSES"]

PASSES: dict[str, type[Pass]] = {p.name: p for p in (Canonicalize, Quantize, Partition, Place)}


def default_pipeline(target: Target) -> list[Pass]:
    """canonicalize -> quantize -> partition -> place. Every step reads the target's data, not its name."""
    return [Canonicalize(), Quantize(), Partition(), Place()]
