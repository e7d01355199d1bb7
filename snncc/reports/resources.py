"""Resource report: cores used against a true lower bound, per-core use of every limit, the binding limit.

A core may hold blocks of several layers (one neuron group each): ``cores`` has one entry per core with the groups'
use summed, ``blocks`` one per block with its own share.

Conv-fed layers are reported per tile (output channels x rows x columns) with their receptive-field input axons and
their synaptic memory under the target's ``memory_model.conv_weight_sharing`` (and, for comparison, without it).
"""

from __future__ import annotations

import math
from typing import Any

from ..conv import fan_out
from ..ir import Graph, IntegerNeuron, QConv, layer_size
from ..mapping import Block, Core, Mapping
from ..mapping.axes import axes
from ..mapping.axons import block_entries, is_population, pair_pixels, population_slots
from ..mapping.cost import LIMITS, Use, block_use, memory_bytes, tile_use, weight_sharing, whole_layer_use
from ..mapping.layers import LayerInputs, consumer_layers, fan_in, layer_inputs
from ..target import Target


def _nonzero_synapses(graph: Graph, layer: str) -> int:
    """Connections with a non-zero weight into ``layer`` (conv: counted per output, padding excluded)."""
    total = 0
    for s in graph.predecessors(layer):
        node = graph.nodes[s]
        total += int(fan_out(node.weight, node.geometry).sum()) if isinstance(node, QConv) else int(
            (node.weight != 0).sum())
    return total


def _core_entry(name: str, block: Block, place: Core, use: Use, out_axons: int,
                limits: dict[str, int]) -> dict[str, Any]:
    used = {"neurons": use.neurons, "memory": use.memory, "input_axons": use.input_axons,
            "output_axons": out_axons}
    util = {k: used[k] / limits[k] for k in used}
    core = {"layer": name, "chip": place.chip, "core": place.core, "mesh": [place.row, place.col], "use": used,
            "utilisation": util, "synapses_stored": use.synapses, "binding_limit": max(util, key=lambda k: util[k])}
    if len(block.ranges) == 1:
        core["neurons"] = list(block.ranges[0])
    if block.tile is not None:
        core["tile"] = block.tile.to_data()
    return core


def _layer_entry(graph: Graph, target: Target, name: str, li: LayerInputs, cores: list[dict],
                 blocks: list[Block], sharing: bool) -> dict[str, Any]:
    n = layer_size(graph.nodes[name])
    peak = {k: max(c["utilisation"][k] for c in cores) for k in {c["binding_limit"] for c in cores}}
    entry = {"neurons": n, "fan_in": fan_in(graph, name), "synapses_nonzero": _nonzero_synapses(graph, name),
             "synapses_stored": sum(c["synapses_stored"] for c in cores), "cores": len(cores),
             "memory_bytes": sum(c["use"]["memory"] for c in cores),
             "binding_limit": max((c["binding_limit"] for c in cores), key=lambda k: peak[k])}
    if all(b.tile is not None for b in blocks):
        unshared = [tile_use(target, li, b.tile, False) for b in blocks]
        first = blocks[0].tile
        entry.update({
            "map": list(li.shape), "weight_sharing": sharing,
            "tile": [first.c1 - first.c0, first.r1 - first.r0, first.x1 - first.x0],
            "input_axons_max": max(c["use"]["input_axons"] for c in cores),
            "synapses_stored_unshared": sum(u.synapses for u in unshared),
            "memory_bytes_unshared": sum(u.memory for u in unshared)})
    return entry


def _inputs_read(node: Any, slots: int) -> int:
    """Input axons a synapse needs over its whole output: distinct inputs read (a convolution may skip some with its
    stride), pixels read for a convolution through population axons."""
    if not isinstance(node, QConv):
        return int(node.weight.shape[1])
    ay, ax = axes(node.geometry)
    channels = 1 if is_population(node.geometry, slots) else node.geometry.in_shape[0]
    return channels * len(ay.reads(0, ay.n_out)) * len(ax.reads(0, ax.n_out))


def _least_output_entries(graph: Graph, layer: str, slots: int) -> int:
    """Output-axon entries no mapping of ``layer`` goes below: each neuron read through a discrete axon needs one,
    each pixel read through population axons ``slots``."""
    consumers = list(dict.fromkeys(consumer_layers(graph, layer)))
    if any(not pair_pixels(graph, layer, c, slots) for c in consumers):
        return layer_size(graph.nodes[layer])
    return max((slots * _inputs_read(graph.nodes[s], slots) for s in graph.successors(layer)
                if isinstance(graph.nodes[s], QConv)), default=0)


def lower_bound(graph: Graph, target: Target, limits: dict[str, int]) -> dict[str, int]:
    """Cores no mapping can go below, per limit: every core filled, layers free to share cores.

    A layer needs at least its neurons and its synapses stored once (the kernel once with weight sharing); each
    source needs each neuron that some synapse reads as an input axon at least once (a core holding several of its
    consumers could share one; a pixel, through population axons); each neuron whose spikes go anywhere needs at
    least one output axon (a pixel read through population axons, its slots).
    """
    sharing, slots = weight_sharing(target), population_slots(target)
    need = dict.fromkeys(LIMITS, 0)
    reads: dict[str, int] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, IntegerNeuron):
            continue
        n = layer_size(node)
        whole = whole_layer_use(target, layer_inputs(graph, name), n, sharing)
        need["neurons"] += n
        need["memory"] += whole.memory - memory_bytes(target, 0, whole.input_axons, 0)  # synapses and state
        need["output_axons"] += _least_output_entries(graph, name, slots)
        for s in graph.predecessors(name):
            src = graph.predecessors(s)[0]
            reads[src] = max(reads.get(src, 0), _inputs_read(graph.nodes[s], slots))
    need["input_axons"] = sum(reads.values())
    need["memory"] += memory_bytes(target, 0, need["input_axons"], 0)
    return {k: math.ceil(need[k] / limits[k]) for k in LIMITS}


def resource_report(graph: Graph, target: Target) -> dict[str, Any]:
    """Per core (several layers' blocks when they share one) and per block the use of each limit, the per-layer
    summary (tiles for conv layers), and the cores lower bound."""
    lim = target.figures["core_limits"]
    limits = {k: lim[k].value for k in LIMITS}
    groups_limit = int(lim["neuron_groups"].value)
    sharing = weight_sharing(target)
    mapping = Mapping.of(graph)
    blocks = {name: m.blocks for name, m in mapping.layers.items()}
    slots = {name: m.slots for name, m in mapping.layers.items()}
    entries, layers = [], {}
    for name in graph.topological_order():
        if name not in mapping.layers:
            continue
        li = layer_inputs(graph, name)
        out_axons = block_entries(graph, target, name, blocks, lambda c, i: slots[c][i])
        layer_entries = []
        m = mapping.layers[name]
        for block, place, slot, axons in zip(m.blocks, m.cores, m.slots, out_axons, strict=True):
            use = block_use(target, li, block, sharing)
            layer_entries.append({**_core_entry(name, block, place, use, axons, limits), "slot": slot})
        entries += layer_entries
        layers[name] = _layer_entry(graph, target, name, li, layer_entries, m.blocks, sharing)
    cores = _cores(entries, limits, groups_limit)
    by_limit = lower_bound(graph, target, limits)
    by_limit["neuron_groups"] = math.ceil(len(mapping.layers) / groups_limit)
    return {"cores_used": len(cores), "cores_lower_bound": max(1, *by_limit.values()),
            "cores_lower_bound_by_limit": by_limit, "cores_available": target.total_cores,
            "limits": {**limits, "neuron_groups": groups_limit}, "weight_sharing": sharing, "layers": layers,
            "cores": cores, "blocks": entries,
            "totals": {"neurons": sum(c["use"]["neurons"] for c in cores),
                       "memory_bytes": sum(c["use"]["memory"] for c in cores)}}


def _cores(entries: list[dict[str, Any]], limits: dict[str, int], groups_limit: int) -> list[dict[str, Any]]:
    """One entry per core: the blocks it holds summed (a core shared by layers spends what each group spends)."""
    by_slot: dict[int, list[dict[str, Any]]] = {}
    for e in entries:
        by_slot.setdefault(e["slot"], []).append(e)
    cores = []
    for members in by_slot.values():
        used = {k: sum(e["use"][k] for e in members) for k in members[0]["use"]}
        util = {k: used[k] / limits[k] for k in used}
        util["neuron_groups"] = len(members) / groups_limit
        first = members[0]
        cores.append({"chip": first["chip"], "core": first["core"], "mesh": first["mesh"],
                      "layers": [e["layer"] for e in members], "groups": len(members), "use": used,
                      "utilisation": util, "synapses_stored": sum(e["synapses_stored"] for e in members),
                      "binding_limit": max(util, key=lambda k: util[k])})
    return sorted(cores, key=lambda c: (c["chip"], c["core"]))
