"""What a library preset is: the library's answers to what NIR leaves open, and repairs of its known export bugs.

A preset never hides a choice: each answer carries the reason (the library's own rule, as its code runs), and the
frontend records the preset, every choice and who made it (a flag, the preset, the file) in the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...ir import Graph


@dataclass(frozen=True)
class Repair:
    """A known bug of a library's NIR export and its repair. ``apply(graph, dt)`` rewrites the graph in place and
    returns what it changed (empty when the file does not show the bug); it raises when it cannot tell."""

    name: str
    bug: str
    apply: Callable[[Graph, float], list[str]]


@dataclass(frozen=True)
class Preset:
    """A library's semantics for NIR graphs it exported; a field set to None is left to the user (a flag)."""

    name: str
    library: str  # the library and the version its conventions were read from
    dt: float | None
    reset: str | None
    fire_at_threshold: bool | None
    discretization: str | None
    max_spikes: int | None
    why: dict[str, str]  # field -> the library's rule behind the choice
    repairs: tuple[Repair, ...] = field(default=())

    def choice(self, field_name: str) -> Any:
        return getattr(self, field_name)
