"""The two mapping algorithm interfaces: a partitioner cuts layers into core-sized blocks, a placer gives each block
a core. Each algorithm is one module, registered by name in :mod:`snncc.mapping` and chosen by the ``algorithm``
option of the partition and place passes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..ir import Graph
from ..target import Target
from .blocks import Block, Core, Mapping


class Partitioner(ABC):
    """Cuts every neuron layer of a quantized graph into blocks that each fit one core under every per-core limit
    (:mod:`snncc.mapping.cost`)."""

    name: ClassVar[str]

    @abstractmethod
    def partition(self, graph: Graph, target: Target) -> tuple[dict[str, list[Block]], dict[str, dict[str, Any]]]:
        """Per layer (network order) its blocks, and per layer the figures the notes report; ResourceError naming
        the layer and the binding limit when no block of it fits."""


class Placer(ABC):
    """Gives every block of a partitioned graph a distinct core of the target."""

    name: ClassVar[str]

    @abstractmethod
    def place(self, graph: Graph, target: Target, mapping: Mapping) -> dict[str, list[Core]]:
        """Per layer the core of each of its blocks (in block order)."""
