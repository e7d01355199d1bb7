"""Core sharing: blocks of different layers packed onto one core, up to the target's neuron groups per core.

A partitioner gives each layer the largest blocks the limits allow, so a small layer leaves most of its core empty
(the digits MLP's 10-neuron output layer took a core of its own). Packing is first-fit decreasing over the blocks:
each block, largest first (by its fullest limit), goes onto the first core that still has room for it in every
limit and in neuron groups, and holds no block of the same layer (among the last :data:`WINDOW` cores opened, which
keeps a ResNet's 8,000 blocks linear in time). A core's use is the sum of its groups' uses
(:func:`snncc.mapping.cost.core_uses`). Output axons are checked against each block's count before packing (every
destination block a core of its own): packing puts consumer blocks together, and the entries of blocks on one core
never exceed the sum of their own (:mod:`snncc.mapping.axons` keeps the counts subadditive), so the exact count,
checked after packing, never exceeds the one used here.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..target import Target
from .axons import block_entries
from .blocks import Block
from .cost import Limits, block_use, weight_sharing
from .layers import layer_inputs

FIELDS = ("neurons", "memory", "input_axons", "output_axons")
WINDOW = 1024  # cores searched per block: the most recently opened (older ones, filled by larger blocks, rarely fit)


def block_demands(graph: Graph, target: Target, blocks: dict[str, list[Block]]) -> tuple[list[tuple[str, int]],
                                                                                          np.ndarray]:
    """Every (layer, block index) and its use of each limit in :data:`FIELDS` (rows in the same order)."""
    sharing = weight_sharing(target)
    items, rows = [], []
    for name, layer_blocks in blocks.items():
        li, out_axons = layer_inputs(graph, name), block_entries(graph, target, name, blocks)
        for i, block in enumerate(layer_blocks):
            use = block_use(target, li, block, sharing)
            items.append((name, i))
            rows.append((use.neurons, use.memory, use.input_axons, out_axons[i]))
    return items, np.asarray(rows, np.int64).reshape(-1, len(FIELDS))


def pack(graph: Graph, target: Target, blocks: dict[str, list[Block]]) -> dict[str, list[int]]:
    """Per layer, the core (slot) of each of its blocks: slots numbered in network order of their first block."""
    lim = Limits.of(target)
    items, need = block_demands(graph, target, blocks)
    cap = np.array([getattr(lim, f) for f in FIELDS], np.int64)
    layer_id = {name: k for k, name in enumerate(blocks)}
    order = sorted(range(len(items)), key=lambda j: (-float((need[j] / cap).max()), j))
    free = np.tile(cap, (len(items), 1))  # per core (at most one per block): what is left of each limit
    groups = np.zeros(len(items), np.int64)
    holds = np.zeros((len(items), len(blocks)), bool)  # per core: which layers it holds a block of
    slot_of = np.empty(len(items), np.int64)
    opened = 0
    for j in order:
        layer = layer_id[items[j][0]]
        lo = max(0, opened - WINDOW)
        fits = ((free[lo:opened] >= need[j]).all(axis=1) & (groups[lo:opened] < lim.neuron_groups)
                & ~holds[lo:opened, layer])
        hit = np.flatnonzero(fits)
        core = lo + int(hit[0]) if hit.size else opened
        opened += not hit.size
        free[core] -= need[j]
        groups[core] += 1
        holds[core, layer] = True
        slot_of[j] = core
    renumber: dict[int, int] = {}
    for j in range(len(items)):  # items are in network order: number slots by their first block
        renumber.setdefault(int(slot_of[j]), len(renumber))
    out: dict[str, list[int]] = {name: [] for name in blocks}
    for (name, _), slot in zip(items, slot_of, strict=True):
        out[name].append(renumber[int(slot)])
    return out
