"""Axon entries: how many input and output axon entries a core spends, discrete or population.

A **discrete** axon carries one neuron's spike to one destination core: one output entry per (neuron, destination
core), one input entry per input neuron read. A **population** axon carries a whole pixel of a convolution's input
map, the channel travelling in the message: one output entry (``memory_model.population_axon_slots`` slots) per
(pixel, destination core), one input entry per pixel of the receptive field. Intel's Loihi 2 compiler counts a
convolution this way (a 3,584-neuron Conv(8, 7, 64) tile takes 56 = 8 x 7 output entries); nengo-loihi builds a
convolution's synapse with one input axon per input pixel and pop32 output axons of 2 slots each.

Which kind a (producer, consumer) pair uses is fixed by its synapses: population when the target has population
axons and every synapse between them is a spatial convolution (a per-neuron ``(n, 1, 1)`` relay convolution and a
dense synapse are discrete). Fixing the kind per pair keeps the counts subadditive: consumer blocks packed onto one
core never need more entries than they did apart, which packing relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from ..conv import ConvGeometry
from ..ir import Graph, QConv, layer_size
from ..target import Target
from .blocks import Block
from .layers import consumer_layers, is_flat, reads_from


def population_slots(target: Target) -> int:
    """Output-axon slots of one population axon (0: the target has none, every axon is discrete)."""
    fig = target.figures["memory_model"].get("population_axon_slots")
    return int(fig.value) if fig is not None else 0


def is_population(g: ConvGeometry, slots: int) -> bool:
    """Whether convolution ``g`` reads its input through population axons (one per pixel, channels packed)."""
    return slots > 0 and not is_flat(g)


def pair_pixels(graph: Graph, layer: str, consumer: str, slots: int) -> int:
    """Pixels of ``layer``'s map as ``consumer`` reads it through population axons (its convolutions' input
    H x W), or 0 when the pair uses discrete axons."""
    syns = [graph.nodes[s] for s in graph.successors(layer) if consumer in graph.successors(s)]
    if not syns or not all(isinstance(s, QConv) and is_population(s.geometry, slots) for s in syns):
        return 0
    sizes = {s.geometry.in_shape[1] * s.geometry.in_shape[2] for s in syns}
    return sizes.pop() if len(sizes) == 1 else 0


@dataclass(frozen=True)
class Destination:
    """One destination of a layer's spikes: the sorted neurons it reads (None: all), through population axons of
    ``pixels`` pixels per channel (0: discrete axons)."""

    reads: np.ndarray | None
    pixels: int


def destination_list(graph: Graph, layer: str, blocks: dict[str, list[Block]], slots: int,
                     core_of: Callable[[str, int], Hashable] | None = None) -> list[Destination]:
    """Every (destination core, axon kind) of ``layer``'s spikes. Consumer blocks on one core (``core_of``; None:
    every block its own core) that read with the same kind share the entries of what they read in common.
    Consumers missing from ``blocks`` are left out."""
    merged: dict[Hashable, Destination] = {}
    for c in dict.fromkeys(consumer_layers(graph, layer)):
        if c not in blocks:
            continue
        pixels = pair_pixels(graph, layer, c, slots)
        for i, idx in enumerate(reads_from(graph, layer, c, blocks[c])):
            key = ((c, i) if core_of is None else core_of(c, i), pixels)
            prev = merged.get(key)
            if prev is not None:
                idx = None if prev.reads is None or idx is None else np.union1d(prev.reads, idx)
            merged[key] = Destination(idx, pixels)
    return list(merged.values())


def _mask(d: Destination, n: int) -> np.ndarray:
    m = np.zeros(n, bool)
    m[d.reads] = True
    return m


def block_entries(graph: Graph, target: Target, layer: str, blocks: dict[str, list[Block]],
                  core_of: Callable[[str, int], Hashable] | None = None) -> list[int]:
    """Per block of ``layer``: its output-axon entries, given the consumers' blocks and cores (``core_of``; None:
    every consumer block its own core, an upper bound of any packing of them)."""
    slots = population_slots(target)
    dests = destination_list(graph, layer, blocks, slots, core_of)
    n = layer_size(graph.nodes[layer])
    masks = [None if d.reads is None else _mask(d, n) for d in dests]
    out = []
    for block in blocks[layer]:
        idx, total = block.index(), 0
        for d, m in zip(dests, masks, strict=True):
            sent = idx if m is None else idx[m[idx]]
            total += len(sent) if not d.pixels else slots * len(np.unique(sent % d.pixels))
        out.append(total)
    return out


@dataclass(frozen=True)
class Demand:
    """What the blocks of a layer being planned spend in output axons, as sums over its neurons: ``per_neuron``
    (n,) discrete entries, and for a ``(C, H, W)`` layer read through population axons ``per_pixel`` (H, W) the
    destinations each pixel reaches (``slots`` entries each). Exact for discrete axons, an upper bound for
    population ones (a tile may hold none of a pixel's channels that a destination reads)."""

    per_neuron: np.ndarray
    per_pixel: np.ndarray | None
    slots: int


def demand(graph: Graph, target: Target, layer: str, blocks: dict[str, list[Block]],
           shape: tuple[int, int, int] | None) -> Demand:
    """The output-axon :class:`Demand` of ``layer`` (map ``shape``, None: not a map) towards the consumer blocks
    planned so far (each its own core). Population reads whose pixels are not ``shape``'s are charged per neuron
    at ``slots`` entries (a pixel never holds fewer neurons than one)."""
    slots = population_slots(target)
    n = layer_size(graph.nodes[layer])
    per_neuron = np.zeros(n, np.int64)
    per_pixel = np.zeros(shape[1:], np.int64) if shape is not None else None
    for d in destination_list(graph, layer, blocks, slots):
        hit = np.ones(n, bool) if d.reads is None else _mask(d, n)
        if d.pixels and per_pixel is not None and d.pixels == per_pixel.size:
            per_pixel += hit.reshape(shape).any(axis=0)
        else:
            per_neuron += hit * (slots if d.pixels else 1)
    return Demand(per_neuron, per_pixel, slots)


class RangeEntries:
    """Output entries of any range ``[a, b)`` of a layer's neurons, bounded in O(destinations): per destination
    the neurons of the range it reads (prefix sums), at most the pixels it reads for a population one. Consumer
    blocks each count as a core of their own (an upper bound of any packing of them)."""

    def __init__(self, graph: Graph, target: Target, layer: str, blocks: dict[str, list[Block]]):
        self.slots = population_slots(target)
        n = layer_size(graph.nodes[layer])
        dests = destination_list(graph, layer, blocks, self.slots)
        reads = [np.ones(n, bool) if d.reads is None else _mask(d, n) for d in dests]
        self.counts = np.zeros((len(dests), n + 1), np.int64)
        for row, hit in zip(self.counts, reads, strict=True):
            np.cumsum(hit, out=row[1:])
        self.pixels = np.array([len(np.unique(np.flatnonzero(hit) % d.pixels)) if d.pixels else 0
                                for d, hit in zip(dests, reads, strict=True)], np.int64)

    def __call__(self, a: int, b: int) -> int:
        read = self.counts[:, b] - self.counts[:, a]
        return int(np.where(self.pixels > 0, self.slots * np.minimum(read, self.pixels), read).sum())
