"""Filling cores with relays: relay layers cut anew into the room other layers' blocks leave on their cores.

A core full in memory (a deep convolution's kernel) holds few neurons, one full in neurons (a relay layer) little
memory; as whole blocks the two never fit together, so packing alone leaves both half empty. A relay layer (the
latency relays balance-latency adds: each neuron reads its own input neuron through a depthwise 1 x 1 convolution)
can be cut anywhere at no cost to its producers, whose every neuron still reaches exactly one relay core. So once
the other blocks are packed, each relay layer is carved into consecutive ranges, each as large as the room left on
a core (most free neurons first; every limit checked with the one cost model), and what remains onto new cores.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, layer_size
from ..target import Target
from .axons import RangeEntries
from .blocks import Block, Tile
from .cost import Limits, tile_use, weight_sharing
from .layers import consumer_layers, layer_inputs

FIELDS = ("neurons", "memory", "input_axons", "output_axons")
MIN_CHUNK = 256  # neurons: a smaller leftover is not worth a neuron group (and the traffic of one more core)


class Cores:
    """The cores opened so far: what is left of each limit, the neuron groups used, which layers each holds."""

    def __init__(self, cap: np.ndarray, hint: int, layers: int):
        self.cap = cap
        self.free = np.zeros((max(hint, 1), len(cap)), np.int64)
        self.groups = np.zeros(max(hint, 1), np.int64)
        self.holds = np.zeros((max(hint, 1), layers), bool)
        self.opened = 0

    def open(self) -> int:
        """A new empty core's index."""
        if self.opened == len(self.groups):
            grow = len(self.groups)
            self.free = np.vstack([self.free, np.zeros((grow, len(self.cap)), np.int64)])
            self.groups = np.concatenate([self.groups, np.zeros(grow, np.int64)])
            self.holds = np.vstack([self.holds, np.zeros((grow, self.holds.shape[1]), bool)])
        self.free[self.opened] = self.cap
        self.opened += 1
        return self.opened - 1

    def add(self, core: int, need: np.ndarray, layer: int) -> None:
        self.free[core] -= need
        self.groups[core] += 1
        self.holds[core, layer] = True


def fillable(graph: Graph, name: str) -> bool:
    """Whether every neuron of layer ``name`` reads only its own input neuron (depthwise 1 x 1 convolutions over an
    ``(n, 1, 1)`` map, nothing else, no synapse onto itself): any range of it is a block costing its producers
    nothing more."""
    li = layer_inputs(graph, name)
    if li.shape is None or li.shape[1:] != (1, 1) or li.dense_in or li.flat or not li.convs:
        return False
    if name in consumer_layers(graph, name):
        return False
    return all(g.kernel == (1, 1) and g.in_shape == li.shape and g.groups == g.out_channels == li.shape[0]
               for g in li.convs)


def fill(graph: Graph, target: Target, name: str, blocks: dict[str, list[Block]], cores: Cores, column: int,
         lim: Limits) -> tuple[list[Block], list[int]]:
    """Cut relay layer ``name`` into ranges fitting the room left on ``cores`` (then new ones); returns its blocks
    and the core of each. Output axons are bounded with every consumer block on a core of its own
    (:class:`~.axons.RangeEntries`); the partition pass checks every core exactly afterwards."""
    li, sharing = layer_inputs(graph, name), weight_sharing(target)
    n = layer_size(graph.nodes[name])
    shape = (n, 1, 1)
    entries = RangeEntries(graph, target, name, blocks)

    def need(a: int, b: int) -> np.ndarray:
        use = tile_use(target, li, Tile(a, b, 0, 1, 0, 1), sharing)
        return np.array([use.neurons, use.memory, use.input_axons, entries(a, b)], np.int64)

    one = need(0, 1)  # a relay's use grows linearly with its neurons (memory rounded up per neuron: a bound)

    def largest(core: int, a: int, least: int) -> int:
        """The most neurons from ``a`` on that fit ``core`` (0 when fewer than ``least``)."""
        free = cores.free[core]
        lo, hi, best = least, min(n - a, *(int(f // u) for f, u in zip(free[:3], one[:3], strict=True) if u)), 0
        while lo <= hi:
            mid = (lo + hi) // 2
            if entries(a, a + mid) <= free[3]:
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        return best

    out: list[Block] = []
    placed: list[int] = []

    def put(core: int, a: int, k: int) -> int:
        cores.add(core, need(a, a + k), column)
        out.append(Block(tile=Tile(a, a + k, 0, 1, 0, 1), shape=shape))
        placed.append(core)
        return a + k

    pos = 0
    open_cores = np.flatnonzero((cores.groups[:cores.opened] < lim.neuron_groups) & ~cores.holds[:cores.opened, column])
    for core in sorted(open_cores, key=lambda c: -cores.free[c, 0]):
        if pos == n:
            break
        k = largest(int(core), pos, min(MIN_CHUNK, n - pos))
        if k:
            pos = put(int(core), pos, k)
    while pos < n:
        core = cores.open()
        k = largest(core, pos, 1)
        if not k:  # not even one neuron fits an empty core: the partitioner would have refused the layer
            raise AssertionError(f"relay layer {name!r}: neuron {pos} fits no empty core")
        pos = put(core, pos, k)
    return out, placed
