"""What a mapping algorithm needs to know of a layer: the synapses into it, its consumers, which of its neurons each
consumer core reads, and so how many cores each neuron's spikes reach (its output axons)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from ..conv import ConvGeometry
from ..errors import GraphError
from ..ir import Graph, IntegerNeuron, IntegerSynapse, QConv
from .axes import axes, in_channels
from .blocks import Block, Tile


def neuron_layers(graph: Graph) -> list[str]:
    """The integer neuron layers of ``graph``, in network order (what gets mapped onto cores)."""
    return [n for n in graph.topological_order() if isinstance(graph.nodes[n], IntegerNeuron)]


@dataclass(frozen=True)
class LayerInputs:
    """The synapses into one neuron layer: the convolutions that define its ``(C, H, W)`` map (``shape``), the
    per-neuron convolutions whose output is ``(n, 1, 1)`` while the map is not (``flat``, e.g. the identity relays
    of balance-latency: output neuron ``i`` is their channel ``i``), and the summed input size of its dense
    synapses. ``shape`` is None for a layer no convolution feeds."""

    convs: tuple[ConvGeometry, ...]
    dense_in: int
    shape: tuple[int, int, int] | None
    flat: tuple[ConvGeometry, ...] = ()


def is_flat(g: ConvGeometry) -> bool:
    return g.out_shape[1:] == (1, 1)


def layer_inputs(graph: Graph, layer: str) -> LayerInputs:
    """Collect the synapses into ``layer``; the convolutions with a spatial output must agree on its map."""
    convs, dense_in = [], 0
    for s in graph.predecessors(layer):
        node = graph.nodes[s]
        if isinstance(node, QConv):
            convs.append(node.geometry)
        else:
            dense_in += int(node.weight.shape[1])
    spatial = {g.out_shape for g in convs if not is_flat(g)} or {g.out_shape for g in convs}
    if len(spatial) > 1:
        raise GraphError(f"the convolutions into it disagree on its (C, H, W) map: {sorted(spatial)}", layer=layer)
    shape = spatial.pop() if spatial else None
    return LayerInputs(tuple(g for g in convs if g.out_shape == shape), dense_in, shape,
                       tuple(g for g in convs if g.out_shape != shape))


def fan_in(graph: Graph, layer: str) -> int:
    """Inputs of one neuron of ``layer``: dense input sizes plus each convolution's C_in/groups x kH x kW."""
    li = layer_inputs(graph, layer)
    return li.dense_in + sum(g.weight_shape[1] * g.kernel[0] * g.kernel[1] for g in li.convs + li.flat)


def consumer_layers(graph: Graph, layer: str) -> list[str]:
    """Neuron layers fed by ``layer``'s spikes (one entry per synapse, dense or convolutional)."""
    return [c for s in graph.successors(layer) if isinstance(graph.nodes[s], IntegerSynapse)
            for c in graph.successors(s)]


def field_index(g: ConvGeometry, t: Tile, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat CHW indices of the inputs that tile ``t`` of a layer with map ``shape`` reads through convolution ``g``
    (a per-neuron convolution: the groups of the tile's neurons, each over its whole spatial field)."""
    ay, ax = axes(g)
    _, h, w = g.in_shape
    if g.out_shape == shape:
        ci0, ci1 = in_channels(g, t.c0, t.c1)
        chans, rows, cols = np.arange(ci0, ci1), ay.reads(t.r0, t.r1), ax.reads(t.x0, t.x1)
    else:
        groups = np.unique(Block(tile=t, shape=shape).index() // (g.out_channels // g.groups))
        cg_in = g.weight_shape[1]
        chans, rows, cols = (groups[:, None] * cg_in + np.arange(cg_in)).ravel(), ay.reads(0, 1), ax.reads(0, 1)
    return (chans[:, None, None] * h * w + rows[None, :, None] * w + cols[None, None, :]).ravel()


def reads_from(graph: Graph, layer: str, consumer: str, blocks: list[Block]) -> list[np.ndarray | None]:
    """Per block of ``consumer``: the sorted neurons of ``layer`` it reads, or None when it reads all of them.

    A dense synapse reads every input; a convolution only the receptive field of the block's tile.
    """
    syns = [graph.nodes[s] for s in graph.successors(layer) if consumer in graph.successors(s)]
    if not all(b.tile is not None for b in blocks) or not all(isinstance(s, QConv) for s in syns):
        return [None] * len(blocks)
    shape = layer_inputs(graph, consumer).shape
    assert shape is not None
    out: list[np.ndarray | None] = []
    for b in blocks:
        fields = [field_index(s.geometry, b.tile, shape) for s in syns]
        out.append(fields[0] if len(fields) == 1 else np.unique(np.concatenate(fields)))
    return out


def reads_by_core(graph: Graph, layer: str, blocks: dict[str, list[Block]],
                  core_of: Callable[[str, int], Hashable]) -> dict[Hashable, tuple[np.ndarray | None, list[str]]]:
    """Per destination core of ``layer``'s spikes (``core_of(consumer, block index)`` names the core of a consumer
    block): the sorted neurons of ``layer`` it reads (None: all of them) and the consumer layers it holds. Consumer
    blocks that share a core read the union of what each reads: each spike reaches the core once. Consumers missing
    from ``blocks`` are left out."""
    out: dict[Hashable, tuple[np.ndarray | None, list[str]]] = {}
    for c in dict.fromkeys(consumer_layers(graph, layer)):
        if c not in blocks:
            continue
        for i, idx in enumerate(reads_from(graph, layer, c, blocks[c])):
            key = core_of(c, i)
            if key in out:
                prev, held = out[key]
                out[key] = (None if prev is None or idx is None else np.union1d(prev, idx), [*held, c])
            else:
                out[key] = (idx, [c])
    return out
