"""partition: split every neuron layer into blocks that each fit one core under every per-core limit.

A block holds a contiguous range of a layer's neurons plus all their incoming synapses (dense storage). Per core
the target limits neurons, memory (synapses at ``synapse_bits`` + neuron state + one table entry per input axon),
input axons (the layer's fan-in) and output axons (a block's neurons times the cores that consume them). Layers are
visited consumers-first so that each layer knows how many cores its spikes must reach. A layer no block size can
fit raises :class:`ResourceError` naming the layer and the binding limit. Blocks and the binding limit of each
layer go to ``node.metadata['snncc.blocks']`` and ``ctx.notes['partition']``.
"""

from __future__ import annotations

import math

from ..errors import GraphError, ResourceError
from ..ir import INT_NEURONS, Graph, QDense, layer_size
from .base import Pass, PassContext

BLOCKS_KEY = "snncc.blocks"


def fan_in(graph: Graph, layer: str) -> int:
    """Input axons a core of ``layer`` needs: the sum of its synapses' input sizes."""
    return sum(graph.nodes[s].weight.shape[1] for s in graph.predecessors(layer))


def consumer_layers(graph: Graph, layer: str) -> list[str]:
    """Neuron layers fed by ``layer``'s spikes (through one synapse each)."""
    return [c for s in graph.successors(layer) if isinstance(graph.nodes[s], QDense) for c in graph.successors(s)]


def block_memory(ctx: PassContext, n_neurons: int, fanin: int) -> int:
    """Bytes one core spends on a block of ``n_neurons`` with the given fan-in."""
    mm = ctx.target.figures["memory_model"]
    syn_bytes = math.ceil(n_neurons * fanin * mm["synapse_bits"].value / 8)
    return syn_bytes + n_neurons * mm["neuron_state_bytes"].value + fanin * mm["input_axon_bytes"].value


class Partition(Pass):
    name = "partition"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if not graph.metadata.get("quantized"):
            raise GraphError("partition needs a quantized graph (run quantize first)")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        lim = ctx.target.figures["core_limits"]
        max_neurons, memory = lim["neurons"].value, lim["memory"].value
        max_in, max_out = lim["input_axons"].value, lim["output_axons"].value
        layers = [n for n in g.topological_order() if isinstance(g.nodes[n], INT_NEURONS)]
        n_blocks: dict[str, int] = {}
        notes = {}
        for name in reversed(layers):
            n = layer_size(g.nodes[name])
            fi = fan_in(g, name)
            if fi > max_in:
                raise ResourceError(f"fan-in {fi} exceeds the {max_in} input axons of a core (core_limits.input_axons)",
                                    layer=name, hint="a core cannot split a neuron's inputs; reduce the fan-in")
            fixed = block_memory(ctx, 0, fi)
            per_neuron = block_memory(ctx, 1, fi) - fixed
            by_memory = (memory - fixed) // per_neuron if memory > fixed else 0
            if by_memory < 1:
                raise ResourceError(f"one neuron with fan-in {fi} needs {fixed + per_neuron} bytes, more than the "
                                    f"{memory} bytes of a core (core_limits.memory)", layer=name)
            consumers = consumer_layers(g, name)
            others = sum(n_blocks[c] for c in consumers if c != name)
            feeds_itself = name in consumers  # a lateral (recurrent) synapse: its spikes also go to its own cores
            count = 1
            while True:  # the own block count enters the output-axon limit: iterate to the fixed point
                dest_cores = others + (count if feeds_itself else 0)
                by_axons = max_out // dest_cores if dest_cores else max_neurons
                if by_axons < 1:
                    raise ResourceError(f"its spikes reach {dest_cores} cores, more than the {max_out} output axons "
                                        "of a core (core_limits.output_axons)", layer=name)
                limits = {"neurons": max_neurons, "memory": by_memory, "output_axons": by_axons}
                binding = min(limits, key=lambda k: limits[k])
                per_core = limits[binding]
                new_count = math.ceil(n / per_core)
                if new_count <= count:
                    break
                count = new_count
            base, extra = divmod(n, count)
            bounds, start = [], 0
            for i in range(count):
                stop = start + base + (1 if i < extra else 0)
                bounds.append([start, stop])
                start = stop
            n_blocks[name] = count
            g.nodes[name].metadata[BLOCKS_KEY] = bounds
            notes[name] = {"neurons": n, "fan_in": fi, "blocks": count, "max_neurons_per_core": per_core,
                           "binding_limit": binding if count > 1 else None}
        total = sum(n_blocks.values())
        if total > ctx.target.total_cores:
            worst = max(n_blocks, key=lambda k: n_blocks[k])
            raise ResourceError(f"the model needs {total} cores but the target has {ctx.target.total_cores} "
                                f"(system.chips x system.cores_per_chip); layer '{worst}' alone takes "
                                f"{n_blocks[worst]}", hint="use a target file with more chips")
        ctx.notes["partition"] = {"layers": notes, "cores": total}
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if isinstance(node, INT_NEURONS):
                blocks = node.metadata.get(BLOCKS_KEY)
                if not blocks or blocks[0][0] != 0 or blocks[-1][1] != layer_size(node):
                    raise ResourceError("blocks do not cover the layer", layer=name)
