"""The serpentine placer: blocks in network order along a boustrophedon walk of each chip's core mesh, so
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
        cores: dict[str, list[Core]] = {}
        index = 0
        for name in graph.topological_order():
            if name not in mapping.layers:
                continue
            cores[name] = []
            for _ in mapping.layers[name].blocks:
                chip, local = divmod(index, per_chip)
                cores[name].append(Core(chip, local, *serpentine(local, rows, cols)))
                index += 1
        return cores
