"""Resource report: cores used against a true lower bound, per-core use of every limit, the binding limit.

Conv-fed layers are reported per tile (output channels x rows x columns) with their receptive-field input axons and
their synaptic memory under the target's ``memory_model.conv_weight_sharing`` (and, for comparison, without it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..conv import fan_out
from ..ir import INT_NEURONS, Graph, QConv, layer_size
from ..passes.partition import (
    BLOCKS_KEY,
    LIMITS,
    TILES_KEY,
    LayerInputs,
    Tile,
    Use,
    axes,
    block_index,
    block_ranges,
    block_size,
    consumer_layers,
    dense_use,
    destinations,
    fan_in,
    layer_inputs,
    memory_bytes,
    tile_use,
    weight_sharing,
    whole_layer_use,
)
from ..passes.place import PLACEMENT_KEY
from ..target import Target


def _block_use(target: Target, li: LayerInputs, block: Any, tile: dict | None, sharing: bool) -> Use:
    """Exact use of the core holding one block."""
    if tile is None:
        return dense_use(target, li, block_size(block))
    return tile_use(target, li, Tile.from_meta(tile), sharing)


def _nonzero_synapses(graph: Graph, layer: str) -> int:
    """Connections with a non-zero weight into ``layer`` (conv: counted per output, padding excluded)."""
    total = 0
    for s in graph.predecessors(layer):
        node = graph.nodes[s]
        total += int(fan_out(node.weight, node.geometry).sum()) if isinstance(node, QConv) else int(
            (node.weight != 0).sum())
    return total


def _core_entry(name: str, block: Any, tile: dict | None, place: list, use: Use, out_axons: int,
                limits: dict[str, int]) -> dict[str, Any]:
    used = {"neurons": use.neurons, "memory": use.memory, "input_axons": use.input_axons,
            "output_axons": out_axons}
    util = {k: used[k] / limits[k] for k in used}
    chip, local, row, col = place
    core = {"layer": name, "chip": chip, "core": local, "mesh": [row, col], "use": used, "utilisation": util,
            "synapses_stored": use.synapses, "binding_limit": max(util, key=lambda k: util[k])}
    ranges = block_ranges(block)
    if len(ranges) == 1:
        core["neurons"] = list(ranges[0])
    if tile is not None:
        core["tile"] = tile
    return core


def _layer_entry(graph: Graph, target: Target, name: str, li: LayerInputs, cores: list[dict],
                 tiles: list[dict] | None, sharing: bool) -> dict[str, Any]:
    n = layer_size(graph.nodes[name])
    peak = {k: max(c["utilisation"][k] for c in cores) for k in {c["binding_limit"] for c in cores}}
    entry = {"neurons": n, "fan_in": fan_in(graph, name), "synapses_nonzero": _nonzero_synapses(graph, name),
             "synapses_stored": sum(c["synapses_stored"] for c in cores), "cores": len(cores),
             "memory_bytes": sum(c["use"]["memory"] for c in cores),
             "binding_limit": max((c["binding_limit"] for c in cores), key=lambda k: peak[k])}
    if tiles is not None:
        unshared = [tile_use(target, li, Tile.from_meta(t), False) for t in tiles]
        first = tiles[0]
        entry.update({
            "map": list(li.shape), "weight_sharing": sharing,
            "tile": [b - a for a, b in (first["channels"], first["rows"], first["cols"])],
            "input_axons_max": max(c["use"]["input_axons"] for c in cores),
            "synapses_stored_unshared": sum(u.synapses for u in unshared),
            "memory_bytes_unshared": sum(u.memory for u in unshared)})
    return entry


def _inputs_read(node: Any) -> int:
    """Distinct inputs a synapse reads over its whole output (a convolution may skip some with its stride)."""
    if not isinstance(node, QConv):
        return int(node.weight.shape[1])
    ay, ax = axes(node.geometry)
    return node.geometry.in_shape[0] * len(ay.reads(0, ay.n_out)) * len(ax.reads(0, ax.n_out))


def lower_bound(graph: Graph, target: Target, limits: dict[str, int]) -> dict[str, int]:
    """Cores no mapping can go below, per limit: every core filled, layers free to share cores.

    A layer needs at least its neurons and its synapses stored once (the kernel once with weight sharing); each
    source needs each neuron that some synapse reads as an input axon at least once (a core holding several of its
    consumers could share one); each neuron whose spikes go anywhere needs at least one output axon.
    """
    sharing = weight_sharing(target)
    need = dict.fromkeys(LIMITS, 0)
    reads: dict[str, int] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, INT_NEURONS):
            continue
        n = layer_size(node)
        whole = whole_layer_use(target, layer_inputs(graph, name), n, sharing)
        need["neurons"] += n
        need["memory"] += memory_bytes(target, n, 0, whole.synapses)
        need["output_axons"] += n if consumer_layers(graph, name) else 0
        for s in graph.predecessors(name):
            src = graph.predecessors(s)[0]
            reads[src] = max(reads.get(src, 0), _inputs_read(graph.nodes[s]))
    need["input_axons"] = sum(reads.values())
    need["memory"] += memory_bytes(target, 0, need["input_axons"], 0)
    return {k: math.ceil(need[k] / limits[k]) for k in LIMITS}


def resource_report(graph: Graph, target: Target) -> dict[str, Any]:
    """Per-core usage of each limit, per-layer summary (tiles for conv layers), and the cores lower bound."""
    lim = target.figures["core_limits"]
    limits = {k: lim[k].value for k in LIMITS}
    sharing = weight_sharing(target)
    partitioned = {n: (v.metadata[BLOCKS_KEY], v.metadata.get(TILES_KEY)) for n, v in graph.nodes.items()
                   if isinstance(v, INT_NEURONS)}
    cores, layers = [], {}
    for name in graph.topological_order():
        if name not in partitioned:
            continue
        li = layer_inputs(graph, name)
        blocks, tiles = partitioned[name]
        dest = destinations(graph, name, partitioned)
        layer_cores = []
        for i, (block, place) in enumerate(zip(blocks, graph.nodes[name].metadata[PLACEMENT_KEY], strict=True)):
            tile = tiles[i] if tiles is not None else None
            use = _block_use(target, li, block, tile, sharing)
            out_axons = int(np.sum(dest[block_index(block)]))
            layer_cores.append(_core_entry(name, block, tile, place, use, out_axons, limits))
        cores += layer_cores
        layers[name] = _layer_entry(graph, target, name, li, layer_cores, tiles, sharing)
    by_limit = lower_bound(graph, target, limits)
    return {"cores_used": len(cores), "cores_lower_bound": max(1, *by_limit.values()),
            "cores_lower_bound_by_limit": by_limit, "cores_available": target.total_cores, "limits": limits,
            "weight_sharing": sharing, "layers": layers, "cores": cores,
            "totals": {"neurons": sum(c["use"]["neurons"] for c in cores),
                       "memory_bytes": sum(c["use"]["memory"] for c in cores)}}
