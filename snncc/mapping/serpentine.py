"""The serpentine placer: cores (slots) in network order along a boustrophedon walk of each chip's core mesh, so
consecutive layers sit on neighbouring cores and spike traffic travels few hops. (The report measures the
hop-weighted traffic of whatever placement is chosen.)"""

from __future__ import annotations

from ..ir import Graph
from ..target import Target
from .base import Placer
from .blocks import Core, Mapping


def serpentine(index: int, rows: int, cols: int) -> tuple[int, int]:
    """Mesh (row, col) of the ``index``-th core on a boustrophedon walk of a rows x cols mesh."""
    row, col = divmod(index, cols)
    return row, col if row % 2 == 0 else cols - 1 - col


class SerpentinePlacer(Placer):
    name = "serpentine"

    def place(self, graph: Graph, target: Target, mapping: Mapping) -> dict[str, list[Core]]:
        per_chip = int(target.value("system", "cores_per_chip"))
        rows, cols = target.value("system", "mesh_shape")
        where: dict[int, Core] = {}
        for index, slot in enumerate(mapping.slot_members()):  # slots in network order of their first block
            chip, local = divmod(index, per_chip)
            where[slot] = Core(chip, local, *serpentine(local, rows, cols))
        return {name: [where[s] for s in m.slots] for name, m in mapping.layers.items()}
