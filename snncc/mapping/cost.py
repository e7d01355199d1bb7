"""The per-core cost model, written once: what a core spends to hold a block (neurons, memory, input and output
axons), against the target's per-core limits. Partitioning sizes blocks with it, and the resource report measures
every core with it.

Per core the target limits neurons, memory (stored synapses at ``memory_model.synapse_bits`` + neuron state + one
table entry per input axon), input axons and output axons (discrete or population entries, :mod:`.axons`). A
dense-fed block needs every input and every synapse; a conv-fed tile only its receptive field, and with
``memory_model.conv_weight_sharing`` stores each kernel weight its channels use once instead of one synapse per
connection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..conv import ConvGeometry
from ..errors import ResourceError
from ..ir import Graph
from ..target import Target
from .axes import axes, in_channels, max_in_channels
from .axons import block_entries, is_population, population_slots
from .blocks import Block, Mapping, Tile
from .layers import LayerInputs, layer_inputs

LIMITS = ("neurons", "memory", "input_axons", "output_axons")


@dataclass(frozen=True)
class Limits:
    """The target's per-core limits as plain integers (read once per pass, compared many times)."""

    neurons: int
    memory: int
    input_axons: int
    output_axons: int
    neuron_groups: int = 1  # blocks (of different layers) one core may hold

    @classmethod
    def of(cls, target: Target) -> Limits:
        lim = target.figures["core_limits"]
        return cls(*(int(lim[k].value) for k in LIMITS), int(lim["neuron_groups"].value))


def weight_sharing(target: Target) -> bool:
    """Whether the target stores a convolution's kernel once per core instead of one synapse per connection."""
    fig = target.figures["memory_model"].get("conv_weight_sharing")
    return bool(fig.value) if fig is not None else False


def memory_bytes(target: Target, neurons: int, input_axons: int, synapses: int, kernel: int = 0) -> int:
    """Bytes of one core: ``synapses`` stored synapses of which ``kernel`` are shared convolution kernel weights
    (``memory_model.kernel_weight_bits`` each, the others ``synapse_bits``), neuron state and the input-axon table
    (``memory_model``)."""
    mm = target.figures["memory_model"]
    bits = (synapses - kernel) * mm["synapse_bits"].value + kernel * mm["kernel_weight_bits"].value
    return (math.ceil(bits / 8) + neurons * mm["neuron_state_bytes"].value
            + input_axons * mm["input_axon_bytes"].value)


@dataclass(frozen=True)
class Use:
    """What one core spends: neurons, input axons, stored synapse entries and bytes of memory."""

    neurons: int
    input_axons: int
    synapses: int
    memory: int


def tile_use(target: Target, li: LayerInputs, t: Tile, sharing: bool) -> Use:
    """Exact use of a core holding tile ``t`` (its receptive field; its kernel once, or every connection)."""
    axons, synapses, slots = li.dense_in, t.size * li.dense_in, population_slots(target)
    for g in li.convs:
        ay, ax = axes(g)
        ci0, ci1 = in_channels(g, t.c0, t.c1)
        channels = 1 if is_population(g, slots) else ci1 - ci0  # a population axon per pixel: channels packed
        axons += channels * len(ay.reads(t.r0, t.r1)) * len(ax.reads(t.x0, t.x1))
        per_pair = (ay.taps_used(t.r0, t.r1) * ax.taps_used(t.x0, t.x1) if sharing
                    else ay.connections(t.r0, t.r1) * ax.connections(t.x0, t.x1))
        synapses += (t.c1 - t.c0) * g.weight_shape[1] * per_pair
    kernel = synapses - t.size * li.dense_in if sharing else 0
    if li.flat:
        idx = Block(tile=t, shape=li.shape).index()
        for g in li.flat:
            groups = len(np.unique(idx // (g.out_channels // g.groups)))
            axons += groups * _flat_field_size(g)
            synapses += len(idx) * _flat_connections(g)
    return Use(t.size, axons, synapses, memory_bytes(target, t.size, axons, synapses, kernel))


def tile_bound(target: Target, li: LayerInputs, dims: tuple[int, int, int], sharing: bool) -> Use:
    """Upper bound of :func:`tile_use` over every tile of at most ``dims``: sizes tiles without enumerating them."""
    cc, th, tw = dims
    n = cc * th * tw
    axons, synapses, slots = li.dense_in, n * li.dense_in, population_slots(target)
    for g in li.convs:
        ay, ax = axes(g)
        axons += (1 if is_population(g, slots) else max_in_channels(g, cc)) * ay.max_reads(th) * ax.max_reads(tw)
        per_pair = (ay.max_taps(th) * ax.max_taps(tw) if sharing
                    else ay.max_connections(th) * ax.max_connections(tw))
        synapses += cc * g.weight_shape[1] * per_pair
    kernel = synapses - n * li.dense_in if sharing else 0
    for g in li.flat:  # each neuron belongs to one group of a per-neuron convolution
        axons += min(g.groups, n) * _flat_field_size(g)
        synapses += n * _flat_connections(g)
    return Use(n, axons, synapses, memory_bytes(target, n, axons, synapses, kernel))


def _flat_field_size(g: ConvGeometry) -> int:
    """Inputs one group of a per-neuron (1 x 1 output) convolution reads: its input channels x spatial field."""
    ay, ax = axes(g)
    return g.weight_shape[1] * len(ay.reads(0, 1)) * len(ax.reads(0, 1))


def _flat_connections(g: ConvGeometry) -> int:
    """Connections of one output neuron of a per-neuron convolution (padding excluded)."""
    ay, ax = axes(g)
    return g.weight_shape[1] * ay.connections(0, 1) * ax.connections(0, 1)


def dense_use(target: Target, li: LayerInputs, n: int) -> Use:
    """Use of a core holding ``n`` neurons of a dense-fed layer (every input, every synapse)."""
    return Use(n, li.dense_in, n * li.dense_in, memory_bytes(target, n, li.dense_in, n * li.dense_in))


def whole_layer_use(target: Target, li: LayerInputs, n: int, sharing: bool) -> Use:
    """Use of the whole layer on one core: the least any partition must store (for the cores lower bound)."""
    if li.shape is None:
        return dense_use(target, li, n)
    c, h, w = li.shape
    return tile_use(target, li, Tile(0, c, 0, h, 0, w), sharing)


def block_use(target: Target, li: LayerInputs, block: Block, sharing: bool) -> Use:
    """Exact use of the core holding ``block`` (a tile's receptive field, or every input of a dense-fed layer)."""
    if block.tile is None:
        return dense_use(target, li, block.size)
    return tile_use(target, li, block.tile, sharing)


def usage(use: Use, out_axons: int) -> dict[str, int]:
    """The four figures a core is limited in, by limit name."""
    return {"neurons": use.neurons, "memory": use.memory, "input_axons": use.input_axons, "output_axons": out_axons}


def fits(use: Use, out_axons: int, lim: Limits) -> bool:
    return all(v <= getattr(lim, k) for k, v in usage(use, out_axons).items())


def binding(use: Use, out_axons: int, lim: Limits) -> str:
    """The limit closest to full (the one that stops a block from growing)."""
    u = usage(use, out_axons)
    return max(u, key=lambda k: u[k] / getattr(lim, k))


def core_uses(graph: Graph, target: Target, mapping: Mapping) -> dict[int, tuple[list[tuple[str, int]], Use, int]]:
    """Per core (slot) of ``mapping``: its (layer, block) groups, their summed :class:`Use` and the core's output
    axon entries (:func:`.axons.block_entries`, consumer blocks sharing a core reached once). The one per-core cost
    function: every group's neurons, input axons, stored synapses and memory add up on the core they share."""
    sharing = weight_sharing(target)
    blocks = {name: m.blocks for name, m in mapping.layers.items()}
    out_axons = {name: block_entries(graph, target, name, blocks, lambda c, i: mapping.layers[c].slots[i])
                 for name in mapping.layers}
    out: dict[int, tuple[list[tuple[str, int]], Use, int]] = {}
    for slot, members in mapping.slot_members().items():
        uses = [block_use(target, layer_inputs(graph, name), blocks[name][i], sharing) for name, i in members]
        axons = sum(out_axons[name][i] for name, i in members)
        out[slot] = (members, add_uses(uses), axons)
    return out


def add_uses(uses: list[Use]) -> Use:
    """What a core holding several groups spends: the sum of theirs."""
    return Use(*(sum(getattr(u, f) for u in uses) for f in ("neurons", "input_axons", "synapses", "memory")))


def overfull(graph: Graph, target: Target, mapping: Mapping) -> tuple[str, str, int, int] | None:
    """``(where, limit, use, limit value)`` of the first core over a per-core limit, or None: the check every
    mapping passes (``where`` names the core's groups)."""
    lim = Limits.of(target)
    for members, use, out_axons in core_uses(graph, target, mapping).values():
        where = ", ".join(f"{name} block {i}" for name, i in members)
        if len(members) > lim.neuron_groups:
            return where, "neuron_groups", len(members), lim.neuron_groups
        for k, v in usage(use, out_axons).items():
            if v > getattr(lim, k):
                return where, k, v, getattr(lim, k)
    return None


def explain_unfit(layer: str, use: Use, out_per_neuron: int, lim: Limits) -> ResourceError:
    """The error for a layer of which not even one neuron fits a core, naming the limit it breaks."""
    if use.input_axons > lim.input_axons:
        return ResourceError(f"one neuron reads {use.input_axons} inputs, more than the {lim.input_axons} input "
                             "axons of a core (core_limits.input_axons)", layer=layer,
                             hint="a core cannot split a neuron's inputs; reduce the fan-in (input channels, kernel), "
                                  "or let split-fan-in cut it into partial sums (--fan-in-split on; graded spikes)")
    if use.memory > lim.memory:
        return ResourceError(f"one neuron needs {use.memory} bytes, more than the {lim.memory} bytes of a core "
                             "(core_limits.memory)", layer=layer)
    return ResourceError(f"its spikes reach {out_per_neuron} cores, more than the {lim.output_axons} output axons "
                         "of a core (core_limits.output_axons)", layer=layer)
