"""Mapping a quantized network onto cores: typed blocks and placements, one per-core cost model, and the
partitioning and placement algorithms, each one module found here by name (the ``algorithm`` option of the
partition and place passes; see docs/architecture.md, "How to add a mapping algorithm")."""

from __future__ import annotations

from .base import Partitioner, Placer
from .blocks import Block, Core, LayerMapping, Mapping, Tile
from .greedy import GreedyPartitioner
from .greedy_chips import GreedyChipsPlacer
from .serpentine import SerpentinePlacer
from .traffic import TrafficPlacer

PARTITIONERS: dict[str, type[Partitioner]] = {p.name: p for p in (GreedyPartitioner,)}
PLACERS: dict[str, type[Placer]] = {p.name: p for p in (SerpentinePlacer, GreedyChipsPlacer, TrafficPlacer)}

__all__ = ["PARTITIONERS", "PLACERS", "Block", "Core", "LayerMapping", "Mapping", "Partitioner", "Placer", "Tile"]
