"""place: assign each block a (chip, core) and mesh coordinates.

Blocks are laid out in dependency order along a serpentine walk of each chip's core mesh, so consecutive layers
sit on neighbouring cores and spike traffic travels few hops. (A traffic-driven placer can replace this; the
report measures the hop-weighted traffic of whatever placement is chosen.)
"""

from __future__ import annotations

from ..errors import GraphError
from ..ir import INT_NEURONS, Graph
from .base import Pass, PassContext
from .partition import BLOCKS_KEY

PLACEMENT_KEY = "snncc.placement"


def serpentine(index: int, rows: int, cols: int) -> tuple[int, int]:
    """Mesh (row, col) of the ``index``-th core on a boustrophedon walk of a rows x cols mesh."""
    row, col = divmod(index, cols)
    return row, col if row % 2 == 0 else cols - 1 - col


class Place(Pass):
    name = "place"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if isinstance(node, INT_NEURONS) and BLOCKS_KEY not in node.metadata:
                raise GraphError("layer has no blocks (run partition first)", layer=name)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        per_chip = int(ctx.target.value("system", "cores_per_chip"))
        rows, cols = ctx.target.value("system", "mesh_shape")
        core = 0
        for name in g.topological_order():
            node = g.nodes[name]
            if not isinstance(node, INT_NEURONS):
                continue
            placed = []
            for _ in node.metadata[BLOCKS_KEY]:
                chip, local = divmod(core, per_chip)
                r, c = serpentine(local, rows, cols)
                placed.append([chip, local, r, c])
                core += 1
            node.metadata[PLACEMENT_KEY] = placed
        g.metadata["cores_used"] = core
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        seen = set()
        for node in graph.nodes.values():
            for chip, local, _, _ in node.metadata.get(PLACEMENT_KEY, []) if isinstance(node, INT_NEURONS) else []:
                if (chip, local) in seen:
                    raise GraphError(f"core {chip}:{local} assigned twice")
                seen.add((chip, local))
