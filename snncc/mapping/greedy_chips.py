"""The greedy inter-chip placer, a baseline (the idea of nengo-loihi's ``GreedyInterchip``): fill one chip at a
time, each time with the unplaced core that exchanges the most spikes with the cores already on the chip; a new
chip starts with the first unplaced core that receives nothing, else the first unplaced one. Within a chip cores
follow the serpentine walk in the order they were chosen. (nengo-loihi picks by the single heaviest connection to
the chip; this one by the sum over the chip's cores.)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..ir import Graph
from ..target import Target
from .base import Placer
from .blocks import Core, Mapping
from .coregraph import core_traffic
from .traffic import chip_cells, cores_of


def greedy_fill(w: sp.csr_matrix, per_chip: int, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node its chip and its core index on the chip (the order it was chosen in)."""
    n = w.shape[0]
    chip = np.full(n, -1, np.int64)
    core = np.full(n, -1, np.int64)
    link = np.zeros(n)  # each unplaced node's traffic to the current chip
    c, filled = -1, per_chip
    for _ in range(n):
        if filled == per_chip:
            c, filled = c + 1, 0
            link[:] = 0.0
            free_sources = sources[chip[sources] < 0]
            pick = int(free_sources[0]) if free_sources.size else int(np.flatnonzero(chip < 0)[0])
        else:
            masked = np.where(chip < 0, link, -np.inf)
            pick = int(np.argmax(masked))
        chip[pick], core[pick] = c, filled
        filled += 1
        row = w.getrow(pick)
        link[row.indices] += row.data
    return chip, core


class GreedyChipsPlacer(Placer):
    name = "greedy"

    def place(self, graph: Graph, target: Target, mapping: Mapping) -> dict[str, list[Core]]:
        per_chip = int(target.value("system", "cores_per_chip"))
        w = core_traffic(graph, mapping)
        received = np.asarray(core_traffic(graph, mapping, directed=True).sum(axis=0)).ravel()
        chip, core = greedy_fill(w, per_chip, np.flatnonzero(received == 0))
        return cores_of(mapping, chip, core, chip_cells(target))
