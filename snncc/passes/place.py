"""place: give each block of the mapping a (chip, core) and mesh coordinates.

The algorithm is the ``algorithm`` option (a placer of :mod:`snncc.mapping`; by default ``traffic``, which cut
the hop-weighted and inter-chip traffic the most on benchmarks/bench_allocators.py, docs/placement.md). Every
slot (a core shared by blocks of different layers) gets a distinct core within the target's chips and mesh, all
its blocks the same one (checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import GraphError
from ..ir import Graph, keys
from ..mapping import PLACERS, Mapping
from .base import Pass, PassContext
from .options import option

PlaceAlgorithm = Literal[tuple(PLACERS)]  # type: ignore[valid-type]


@dataclass
class Place(Pass):
    name = "place"
    algorithm: PlaceAlgorithm = option("traffic", help="the placement algorithm (snncc.mapping.PLACERS)")

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if keys.MAPPING not in graph.metadata:
            raise GraphError("the graph has no blocks (run partition first)")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        mapping = Mapping.of(g)
        for name, cores in PLACERS[self.algorithm]().place(g, ctx.target, mapping).items():
            mapping.layers[name].cores = cores
        mapping.store(g)
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        mapping = Mapping.of(graph)
        chips, per_chip = int(ctx.target.value("system", "chips")), int(ctx.target.value("system", "cores_per_chip"))
        rows, cols = ctx.target.value("system", "mesh_shape")
        slot_at: dict[tuple[int, int], int] = {}
        for name, layer in mapping.layers.items():
            if len(layer.cores) != len(layer.blocks):
                raise GraphError("blocks left unplaced", layer=name)
            for c, slot in zip(layer.cores, layer.slots, strict=True):
                if not (0 <= c.chip < chips and 0 <= c.core < per_chip and 0 <= c.row < rows and 0 <= c.col < cols):
                    raise GraphError(f"core {c.chip}:{c.core} at mesh ({c.row}, {c.col}) lies outside the target's "
                                     f"{chips} chip(s) of {per_chip} cores on a {rows}x{cols} mesh", layer=name)
                if slot_at.setdefault((c.chip, c.core), slot) != slot:
                    raise GraphError(f"core {c.chip}:{c.core} assigned to two slots", layer=name)
        if len(slot_at) != mapping.cores_used:
            raise GraphError("blocks of one slot placed on different cores")
