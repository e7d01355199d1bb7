"""The traffic placer: cores (slots) onto chips and mesh positions so that the spike traffic between them travels
few hops, and as little of it as possible between chips.

1. **Chips.** The core graph (:mod:`.coregraph`: nodes are slots, an edge weighs the spikes per step between two
   cores) is cut by METIS (:mod:`.graphcut`) into the fewest chips that hold it, each at most
   ``system.cores_per_chip`` cores. Chips are then numbered so that heavy chip-to-chip traffic crosses few chip
   hops (every order tried up to 8 chips, pairwise swaps beyond).
2. **Mesh.** Each chip's cores go onto its mesh by recursive bisection: the mesh region (the chip's first
   ``cores_per_chip`` cells along the serpentine walk, so core numbers stay the serpentine's) is halved across
   its longer side and the cores are cut by METIS into two parts of matching sizes, down to one core per cell.
3. **Swaps.** Pairwise exchanges of two cells of a chip (a core and an empty cell too) while one lowers the
   hop-weighted traffic of the chip (best exchange per cell, at most :data:`SWEEPS` sweeps; chips of at most
   :data:`SWAP_MAX_CELLS` cores).

Deterministic: METIS runs seeded, every tie is broken by index.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from ..ir import Graph
from ..target import Target
from .base import Placer
from .blocks import Core, Mapping
from .coregraph import core_traffic, slot_order
from .graphcut import cut
from .serpentine import serpentine

SWEEPS = 8
SWAP_MAX_CELLS = 256  # swaps cost cells**3 a sweep: chips with more cells keep the bisection's placement
BRUTE_FORCE_CHIPS = 8  # chip orders tried exhaustively up to this many chips (8! = 40,320)
SWAP_MAX_CHIPS = 128  # beyond, the spectral chip order is kept as it is


def chip_cells(target: Target) -> np.ndarray:
    """(row, col) of each core of a chip: core ``i`` at the ``i``-th cell of the serpentine walk."""
    per_chip = int(target.value("system", "cores_per_chip"))
    rows, cols = target.value("system", "mesh_shape")
    return np.asarray([serpentine(i, rows, cols) for i in range(per_chip)], np.int64).reshape(-1, 2)


def hop_distance(cells: np.ndarray) -> np.ndarray:
    """Manhattan distance between every two cells."""
    return np.abs(cells[:, None, :] - cells[None, :, :]).sum(axis=2)


def order_chips(w: sp.csr_matrix, chip: np.ndarray, k: int) -> np.ndarray:
    """New number of each chip so that chip-to-chip traffic times chip distance is least: every order up to
    :data:`BRUTE_FORCE_CHIPS` chips; beyond, the better of the given and the spectral order (the Fiedler vector of
    the chip graph), then pairwise swaps while one helps."""
    onehot = sp.csr_matrix((np.ones(chip.size), (np.arange(chip.size), chip)), shape=(chip.size, k))
    c = np.asarray((onehot.T @ w @ onehot).todense())
    np.fill_diagonal(c, 0)
    if k <= 2:
        return np.arange(k)
    if k <= BRUTE_FORCE_CHIPS:
        perms = np.asarray(list(itertools.permutations(range(k))))
        dist = np.abs(perms[:, :, None] - perms[:, None, :])
        return perms[int(np.argmin((dist * c[None]).sum(axis=(1, 2))))]

    def cost(pos: np.ndarray) -> float:
        return float((c * np.abs(pos[:, None] - pos[None, :])).sum())

    laplacian = np.diag(c.sum(axis=1)) - c
    fiedler = np.linalg.eigh(laplacian)[1][:, 1]
    fiedler = fiedler * (1.0 if fiedler[np.flatnonzero(np.abs(fiedler) > 1e-12)[0]] > 0 else -1.0)
    spectral = np.empty(k, np.int64)
    spectral[np.lexsort((np.arange(k), np.round(fiedler, 12)))] = np.arange(k)
    pos = min((np.arange(k), spectral), key=cost)
    improved = k <= SWAP_MAX_CHIPS
    while improved:
        improved = False
        for a, b in itertools.combinations(range(k), 2):
            trial = pos.copy()
            trial[[a, b]] = trial[[b, a]]
            if cost(trial) < cost(pos) - 1e-9:
                pos, improved = trial, True
    return pos


def bisect(w: sp.csr_matrix, nodes: np.ndarray, cells: np.ndarray, region: np.ndarray, out: np.ndarray) -> None:
    """Put ``nodes`` (indices into ``w``) onto distinct cells of ``region`` (indices into ``cells``), writing each
    node's cell into ``out``: halve the region across its longer side, cut the nodes to match, recurse."""
    if nodes.size == 0:
        return
    if nodes.size == 1 or region.size == 1:
        out[nodes] = region[: nodes.size]
        return
    rc = cells[region]
    span = rc.max(axis=0) - rc.min(axis=0)
    key = (rc[:, 0], rc[:, 1]) if span[0] >= span[1] else (rc[:, 1], rc[:, 0])
    region = region[np.lexsort(key[::-1])]
    half = region.size // 2
    first, second = region[:half], region[half:]
    n1 = int(np.clip(round(nodes.size * half / region.size), nodes.size - second.size, first.size))
    if n1 == 0 or n1 == nodes.size:
        parts = np.full(nodes.size, 0 if n1 else 1)
    else:
        parts = cut(w[nodes][:, nodes], [n1, nodes.size - n1])
    bisect(w, nodes[parts == 0], cells, first, out)
    bisect(w, nodes[parts == 1], cells, second, out)


def swap_refine(m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Cell permutation improving ``sum(m * d) / 2``: ``m`` is the traffic between the occupants of every two cells
    (zero rows for empty cells), ``d`` the hop distance between cells. Returns ``perm``: the occupant of cell
    ``i`` moves to cell ``perm[i]``."""
    m = m.copy()
    n = m.shape[0]
    where = np.arange(n)  # where[i]: the cell now holding what started in cell i
    at = np.arange(n)  # at[c]: the starting cell of what cell c now holds
    for _ in range(SWEEPS):
        improved = False
        for p in range(n):
            if not m[p].any():
                continue
            delta = ((m[p][None, :] - m) * (d - d[p][None, :])).sum(axis=1) + 2 * m[p] * d[p]
            delta[p] = 0.0
            q = int(np.argmin(delta))
            if delta[q] < -1e-9:
                m[[p, q]] = m[[q, p]]
                m[:, [p, q]] = m[:, [q, p]]
                at[[p, q]] = at[[q, p]]
                improved = True
        if not improved:
            break
    where[at] = np.arange(n)
    return where


def place_on_chips(w: sp.csr_matrix, chip: np.ndarray, target: Target) -> np.ndarray:
    """Per node its core index on its chip: recursive bisection onto the chip's mesh, then swaps."""
    cells = chip_cells(target)
    d = hop_distance(cells) if len(cells) <= SWAP_MAX_CELLS else None
    core = np.empty(chip.size, np.int64)
    for c in np.unique(chip):
        nodes = np.flatnonzero(chip == c)
        local = np.empty(w.shape[0], np.int64)
        bisect(w, nodes, cells, np.arange(len(cells)), local)
        start = local[nodes]
        if len(cells) > SWAP_MAX_CELLS:
            core[nodes] = start
            continue
        m = np.zeros((len(cells), len(cells)))
        m[np.ix_(start, start)] = np.asarray(w[nodes][:, nodes].todense())
        core[nodes] = swap_refine(m, d)[start]
    return core


def cores_of(mapping: Mapping, chip: np.ndarray, core: np.ndarray, cells: np.ndarray) -> dict[str, list[Core]]:
    """Per layer the :class:`Core` of each block, from each core-graph node's chip and core."""
    node = {s: i for i, s in enumerate(slot_order(mapping))}
    return {name: [Core(int(chip[node[s]]), int(core[node[s]]), *(int(v) for v in cells[core[node[s]]]))
                   for s in m.slots] for name, m in mapping.layers.items()}


class TrafficPlacer(Placer):
    name = "traffic"

    def place(self, graph: Graph, target: Target, mapping: Mapping) -> dict[str, list[Core]]:
        per_chip = int(target.value("system", "cores_per_chip"))
        w = core_traffic(graph, mapping)
        k = max(1, -(-w.shape[0] // per_chip))
        chip = cut(w, [per_chip] * k)
        chip = order_chips(w, chip, k)[chip]
        return cores_of(mapping, chip, place_on_chips(w, chip, target), chip_cells(target))
