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

from typing import Any

import numpy as np

from ..errors import ResourceError
from ..ir import Graph, layer_size
from ..target import Target
from .axons import block_entries
from .blocks import Block, LayerMapping, Mapping
from .cost import Limits, block_use, overfull, weight_sharing
from .fill import FIELDS, Cores, fill, fillable
from .greedy import replan
from .layers import consumer_layers, layer_inputs

RESERVES = (0.1, 0.2, 0.3)  # shares of a memory-bound core's memory tried as room for relays

WINDOW = 1024  # cores searched per block: the most recently opened (older ones, filled by larger blocks, rarely fit)


def block_demands(graph: Graph, target: Target, blocks: dict[str, list[Block]],
                  consumers: dict[str, list[Block]]) -> tuple[list[tuple[str, int]], np.ndarray]:
    """Every (layer, block index) of ``blocks`` and its use of each limit in :data:`FIELDS` (rows in the same
    order), output axons counted towards every layer's blocks in ``consumers``."""
    sharing = weight_sharing(target)
    items, rows = [], []
    for name, layer_blocks in blocks.items():
        li, out_axons = layer_inputs(graph, name), block_entries(graph, target, name, consumers)
        for i, block in enumerate(layer_blocks):
            use = block_use(target, li, block, sharing)
            items.append((name, i))
            rows.append((use.neurons, use.memory, use.input_axons, out_axons[i]))
    return items, np.asarray(rows, np.int64).reshape(-1, len(FIELDS))


def pack_best(graph: Graph, target: Target, blocks: dict[str, list[Block]],
              notes: dict[str, dict[str, Any]]) -> tuple[dict[str, list[Block]], dict[str, list[int]], float]:
    """:func:`pack`, and where layers bound by memory leave neurons idle while relays could fill them, the same with
    those layers re-planned to leave :data:`RESERVES` of each core's memory free: the fewest cores that pass the
    exact per-core check win. Returns blocks, slots and the memory share kept free (0: none). ``notes`` (the
    partitioner's, per layer) are updated for the layers re-planned."""
    best_blocks, best_slots = pack(graph, target, blocks)
    chosen, best_notes = 0.0, {}
    heavy = [n for n, note in notes.items() if note.get("binding_limit") == "memory" and note.get("tile")
             and n not in consumer_layers(graph, n)]
    if not heavy or not any(fillable(graph, n) for n in blocks):
        return best_blocks, best_slots, chosen
    memory = Limits.of(target).memory
    for reserve in RESERVES:
        try:
            plans = replan(graph, target, blocks, heavy, int(memory * (1 - reserve)))
        except ResourceError:
            continue
        trial, slots = pack(graph, target, {n: plans[n].blocks if n in plans else b for n, b in blocks.items()})
        fewer = len(set().union(*slots.values())) < len(set().union(*best_slots.values()))
        if not fewer:  # more room reserved only costs more cores from here on
            break
        if overfull(graph, target, Mapping({n: LayerMapping(b, slots=slots[n])
                                                     for n, b in trial.items()})) is None:
            best_blocks, best_slots, chosen, best_notes = trial, slots, reserve, plans
    for name, plan in best_notes.items():
        notes[name] = {**plan.notes, "binding_limit": "memory"}
    return best_blocks, best_slots, chosen


def pack(graph: Graph, target: Target, blocks: dict[str, list[Block]]) -> tuple[dict[str, list[Block]],
                                                                                  dict[str, list[int]]]:
    """Per layer its blocks and the core (slot) of each: slots numbered in network order of their first block.
    Relay layers (:func:`snncc.mapping.fill.fillable`) are cut anew into the room the other blocks leave."""
    lim = Limits.of(target)
    refill = [name for name in blocks if fillable(graph, name)]
    fixed = {name: b for name, b in blocks.items() if name not in refill}
    items, need = block_demands(graph, target, fixed, blocks)  # a relay reads each neuron once, however cut
    cap = np.array([getattr(lim, f) for f in FIELDS], np.int64)
    layer_id = {name: k for k, name in enumerate(blocks)}
    order = sorted(range(len(items)), key=lambda j: (-float((need[j] / cap).max()), j))
    cores = Cores(cap, len(items), len(blocks))
    where: dict[tuple[str, int], int] = {}
    for j in order:
        layer = layer_id[items[j][0]]
        lo = max(0, cores.opened - WINDOW)
        free, groups, holds = cores.free[lo:cores.opened], cores.groups[lo:cores.opened], cores.holds[lo:cores.opened]
        hit = np.flatnonzero((free >= need[j]).all(axis=1) & (groups < lim.neuron_groups) & ~holds[:, layer])
        core = lo + int(hit[0]) if hit.size else cores.open()
        cores.add(core, need[j], layer)
        where[items[j]] = core
    out_blocks = dict(blocks)
    for name in sorted(refill, key=lambda k: -layer_size(graph.nodes[k])):
        out_blocks[name], placed = fill(graph, target, name, blocks, cores, layer_id[name], lim)
        where.update({(name, i): core for i, core in enumerate(placed)})
    renumber: dict[int, int] = {}
    slots: dict[str, list[int]] = {}
    for name, layer_blocks in out_blocks.items():  # network order: number slots by their first block
        slots[name] = [renumber.setdefault(where[name, i], len(renumber)) for i in range(len(layer_blocks))]
    return out_blocks, slots
