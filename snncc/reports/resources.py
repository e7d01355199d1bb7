"""Resource report: cores used against the lower bound, per-core use of every limit, the binding limit."""

from __future__ import annotations

import math
from typing import Any

from ..ir import INT_NEURONS, Graph, layer_size
from ..passes.base import PassContext
from ..passes.partition import BLOCKS_KEY, block_memory, consumer_layers, fan_in
from ..passes.place import PLACEMENT_KEY
from ..target import Target


def resource_report(graph: Graph, target: Target) -> dict[str, Any]:
    """Per-core usage of each limit, per-layer summary, and the cores-used lower bound."""
    lim = target.figures["core_limits"]
    limits = {k: lim[k].value for k in ("neurons", "memory", "input_axons", "output_axons")}
    ctx = PassContext(target=target)
    cores, layers = [], {}
    blocks_of = {n: len(v.metadata[BLOCKS_KEY]) for n, v in graph.nodes.items() if isinstance(v, INT_NEURONS)}
    total_neurons = total_memory = 0
    for name in graph.topological_order():
        node = graph.nodes[name]
        if not isinstance(node, INT_NEURONS):
            continue
        fi = fan_in(graph, name)
        dest = sum(blocks_of[c] for c in consumer_layers(graph, name))
        synapses = sum(int((graph.nodes[s].weight != 0).sum()) for s in graph.predecessors(name))
        layer_cores = []
        blocks, places = node.metadata[BLOCKS_KEY], node.metadata[PLACEMENT_KEY]
        for (start, stop), (chip, local, row, col) in zip(blocks, places, strict=True):
            n = stop - start
            use = {"neurons": n, "memory": block_memory(ctx, n, fi), "input_axons": fi, "output_axons": n * dest}
            util = {k: use[k] / limits[k] for k in use}
            binding = max(util, key=lambda k: util[k])
            core = {"layer": name, "chip": chip, "core": local, "mesh": [row, col], "neurons": [start, stop],
                    "use": use, "utilisation": util, "binding_limit": binding}
            cores.append(core)
            layer_cores.append(core)
            total_neurons += n
            total_memory += use["memory"]
        layers[name] = {
            "neurons": layer_size(node), "fan_in": fi, "synapses_nonzero": synapses,
            "synapses_stored": fi * layer_size(node), "cores": len(layer_cores),
            "binding_limit": max((c["binding_limit"] for c in layer_cores),
                                 key=lambda k: max(c["utilisation"][k] for c in layer_cores)),
        }
    # a true lower bound: every core filled to its neuron and memory limits, layers free to share cores
    # (snncc's mapper gives each layer cores of its own, so it can exceed this for many small layers)
    lower = max(1, math.ceil(total_neurons / limits["neurons"]), math.ceil(total_memory / limits["memory"]))
    return {"cores_used": len(cores), "cores_lower_bound": lower, "cores_available": target.total_cores,
            "limits": limits, "layers": layers, "cores": cores,
            "totals": {"neurons": total_neurons, "memory_bytes": total_memory}}
