"""The greedy partitioner: each layer on its own cores, the largest blocks the limits allow, consumers first.

Layers are visited consumers-first so that each layer knows which cores its spikes must reach (its output axon
entries, :mod:`snncc.mapping.axons`); feedback synapses reach layers planned later, so the whole graph is swept until
the assumed and the planned blocks agree.

* A layer fed only by dense synapses is cut into contiguous ranges of neurons, sized by its busiest neuron; every
  core needs all its inputs.
* A layer fed by a convolution (its neurons are a ``(C, H, W)`` map in CHW order) is cut into **tiles**: a range of
  output channels x a rectangle of output rows and columns (:mod:`snncc.mapping.cost` counts its receptive field).
  Tiles are as large as the limits allow; at equal core counts whole channel maps are preferred, then whole rows
  (both keep a tile's neurons in few contiguous ranges). Tile sizes come from closed-form worst-case bounds, so large
  layers are partitioned without building any (out, in) matrix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..conv import ConvGeometry
from ..errors import GraphError, ResourceError
from ..ir import Graph, QConv, layer_size
from ..target import Target
from .axes import axes
from .axons import Demand, demand, is_population, population_slots
from .base import Partitioner
from .blocks import Block, split, tiling
from .cost import Limits, binding, dense_use, explain_unfit, fits, tile_bound, weight_sharing
from .layers import LayerInputs, consumer_layers, fan_in, layer_inputs, neuron_layers

MAX_SWEEPS = 10


class OutAxons:
    """Output axons of the tiles of a (C, H, W) map, from the layer's :class:`~.axons.Demand`: its per-neuron
    (discrete) and per-pixel (population) destination counts summed over a tile in O(1) through summed-volume
    tables, so each candidate tiling is checked exactly, plus a bound of the layer's own cores its lateral synapses
    reach (which depends on the candidate tiling itself)."""

    def __init__(self, need: Demand, shape: tuple[int, int, int], own: Callable[[tuple[int, ...]], int]):
        self.any = bool(need.per_neuron.any()) or (need.per_pixel is not None and bool(need.per_pixel.any()))
        self.table = np.zeros(tuple(n + 1 for n in shape), np.int64)
        self.table[1:, 1:, 1:] = need.per_neuron.reshape(shape).cumsum(0).cumsum(1).cumsum(2)
        self.pixels = np.zeros(tuple(n + 1 for n in shape[1:]), np.int64)
        if need.per_pixel is not None:
            self.pixels[1:, 1:] = need.slots * need.per_pixel.cumsum(0).cumsum(1)
        self.shape, self.own = shape, own

    def worst(self, dims: tuple[int, int, int]) -> int:
        """The largest output-axon count of any tile when the map is cut into tiles of at most ``dims``."""
        pieces = tuple(-(-n // d) for n, d in zip(self.shape, dims, strict=True))
        lateral = dims[0] * dims[1] * dims[2] * self.own(pieces)
        if not self.any:
            return lateral
        edges = [_edges(n, k) for n, k in zip(self.shape, pieces, strict=True)]
        per_neuron = np.diff(np.diff(np.diff(self.table[np.ix_(*edges)], axis=0), axis=1), axis=2)
        per_pixel = np.diff(np.diff(self.pixels[np.ix_(*edges[1:])], axis=0), axis=1)
        return int((per_neuron + per_pixel[None]).max()) + lateral


def own_destinations(graph: Graph, layer: str, shape: tuple[int, int, int],
                     slots: int) -> Callable[[tuple[int, ...]], int]:
    """Bound of the output entries one neuron spends on the layer's own tiles through lateral synapses, given the
    tile counts per axis: all of them for a dense lateral synapse, only those whose receptive field holds it for a
    convolution (``slots`` each through population axons: a pixel never holds fewer neurons than one)."""
    syns = [graph.nodes[s] for s in graph.successors(layer) if layer in graph.successors(s)]

    def own(pieces: tuple[int, ...]) -> int:
        if not syns:
            return 0
        if not all(isinstance(s, QConv) and s.geometry.in_shape == shape for s in syns):
            return pieces[0] * pieces[1] * pieces[2]
        return sum(_conv_readers(s.geometry, pieces) * (slots if is_population(s.geometry, slots) else 1)
                   for s in syns)

    return own


def _conv_readers(g: ConvGeometry, pieces: tuple[int, ...]) -> int:
    """Bound of the tiles of a convolution's output (cut into ``pieces`` per axis) that read one input neuron."""

    def spanned(m: int, n: int, k: int) -> int:  # pieces of an n-axis cut in k that m consecutive indices touch
        return min(k, -(-(m - 1) // max(1, n // k)) + 1)

    c, h, w = g.out_shape
    cg_out = g.out_channels // g.groups
    channels = pieces[0] if g.groups == 1 else spanned(cg_out, c, pieces[0])
    ay, ax = axes(g)
    return channels * spanned((ay.k - 1) * ay.d // ay.s + 1, h, pieces[1]) * spanned(
        (ax.k - 1) * ax.d // ax.s + 1, w, pieces[2])


@functools.lru_cache(maxsize=4096)
def _edges(n: int, pieces: int) -> np.ndarray:
    """The pieces+1 cut positions of :func:`split`."""
    return np.array([0] + [b for _, b in split(n, pieces)])


def _sizes(n: int) -> list[int]:
    """Piece sizes worth trying along an axis of ``n``: ceil(n / k) for every piece count k, ascending."""
    return sorted({-(-n // k) for k in range(1, n + 1)})


def _largest_fitting(sizes: list[int], fits: Callable[[int], bool]) -> int | None:
    """The largest size in ascending ``sizes`` for which ``fits`` holds (bisection: ``fits`` is near-monotone,
    and whatever size is returned was checked)."""
    lo, hi, best = 0, len(sizes) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(sizes[mid]):
            best, lo = sizes[mid], mid + 1
        else:
            hi = mid - 1
    return best


def choose_tile(target: Target, layer: str, li: LayerInputs, out: OutAxons, lim: Limits,
                sharing: bool) -> tuple[tuple[int, int, int], str]:
    """Tile dims (channels, rows, cols) giving the fewest cores, and the limit binding at those dims.

    At equal core counts whole channel maps are preferred, then whole rows, then the smaller receptive field.
    Neurons, memory and input axons come from monotone closed-form bounds; output axons are summed exactly over
    the tiles. For each (channels, rows) the widest fitting column count is found by bisection over the O(sqrt(n))
    sizes that give distinct piece counts.
    """
    shape = li.shape
    assert shape is not None

    def ok(dims: tuple[int, int, int]) -> bool:
        bound = tile_bound(target, li, dims, sharing)
        return fits(bound, 0, lim) and out.worst(dims) <= lim.output_axons

    if not ok((1, 1, 1)):
        raise explain_unfit(layer, tile_bound(target, li, (1, 1, 1), sharing), out.worst((1, 1, 1)), lim)
    c, h, w = shape
    rows, cols = _sizes(h)[::-1], _sizes(w)
    best: tuple[int, int, int] = (1, 1, 1)
    best_key: tuple | None = None
    for cc in reversed(_sizes(c)):
        if not ok((cc, 1, 1)):
            continue
        for th in rows:
            tw = _largest_fitting(cols, lambda x, cc=cc, th=th: ok((cc, th, x)))
            if tw is None:
                continue
            dims = (cc, th, tw)
            key = (-(-c // cc) * -(-h // th) * -(-w // tw), tw < w, th < h,
                   tile_bound(target, li, dims, sharing).input_axons)
            if best_key is None or key < best_key:
                best, best_key = dims, key
    return best, binding(tile_bound(target, li, best, sharing), out.worst(best), lim)


def _dense_per_core(target: Target, layer: str, li: LayerInputs, out_per_neuron: int,
                    lim: Limits) -> tuple[int, str]:
    """Neurons per core of a dense-fed layer and the limit that sets it (neurons, memory or output axons)."""
    one = dense_use(target, li, 1)
    if li.dense_in > lim.input_axons:
        raise ResourceError(f"fan-in {li.dense_in} exceeds the {lim.input_axons} input axons of a core "
                            "(core_limits.input_axons)", layer=layer,
                            hint="a core cannot split a neuron's inputs; reduce the fan-in, or let split-fan-in cut it "
                                 "into partial sums (--fan-in-split on, the default; needs graded spikes)")
    if not fits(one, out_per_neuron, lim):
        raise explain_unfit(layer, one, out_per_neuron, lim)
    fixed = dense_use(target, li, 0).memory
    per = {"neurons": lim.neurons,
           "memory": (lim.memory - fixed) // (one.memory - fixed) if one.memory > fixed else lim.neurons,
           "output_axons": lim.output_axons // out_per_neuron if out_per_neuron else lim.neurons}
    limit = min(per, key=lambda k: per[k])
    return per[limit], limit


@dataclass(frozen=True)
class LayerPlan:
    """A layer's blocks and the figures the notes report."""

    blocks: list[Block]
    notes: dict[str, Any]


def plan_layer(target: Target, graph: Graph, layer: str, need: Demand, lim: Limits, sharing: bool,
               own_cores: int = 0) -> LayerPlan:
    """Blocks of one layer, given the output entries its neurons spend on the other layers' cores (``need``). A
    dense-fed layer's ranges are sized by its busiest neuron, counting ``own_cores`` for a lateral synapse;
    tiles by the exact sum over each tile, with their own lateral destinations bounded per candidate tiling.
    """
    li = layer_inputs(graph, layer)
    n = layer_size(graph.nodes[layer])
    if li.shape is None:
        per_core, limit = _dense_per_core(target, layer, li, int(need.per_neuron.max(initial=0)) + own_cores, lim)
        blocks = [Block.span(a, b) for a, b in split(n, -(-n // per_core))]
        return LayerPlan(blocks, {"neurons": n, "fan_in": li.dense_in, "blocks": len(blocks),
                                  "max_neurons_per_core": per_core, "binding_limit": limit})
    if int(np.prod(li.shape)) != n:
        raise GraphError(f"{n} neurons cannot hold the convolution's {li.shape} output map", layer=layer)
    out = OutAxons(need, li.shape, own_destinations(graph, layer, li.shape, population_slots(target)))
    dims, limit = choose_tile(target, layer, li, out, lim, sharing)
    blocks = [Block(tile=t, shape=li.shape) for t in tiling(li.shape, dims)]
    bound = tile_bound(target, li, dims, sharing)
    pieces = [-(-s // d) for s, d in zip(li.shape, dims, strict=True)]
    return LayerPlan(blocks, {
        "neurons": n, "fan_in": fan_in(graph, layer), "blocks": len(blocks), "max_neurons_per_core": bound.neurons,
        "binding_limit": limit, "map": list(li.shape), "tile": list(dims),
        "pieces": pieces, "weight_sharing": sharing, "input_axons_max": bound.input_axons,
        "memory_max": bound.memory})


class GreedyPartitioner(Partitioner):
    """See the module docstring."""

    name = "greedy"

    def partition(self, graph: Graph, target: Target) -> tuple[dict[str, list[Block]], dict[str, dict[str, Any]]]:
        lim, sharing = Limits.of(target), weight_sharing(target)
        layers = neuron_layers(graph)
        previous: dict[str, list[Block]] = {}
        for _ in range(MAX_SWEEPS):  # feedback synapses reach layers planned later: sweep until they agree
            plans, assumed = self._sweep(graph, target, layers, previous, lim, sharing)
            done = {k: p.blocks for k, p in plans.items()}
            if all(done[c] == v for c, v in assumed.items()):
                break
            previous = done
        else:
            raise GraphError(f"partition did not settle after {MAX_SWEEPS} sweeps (feedback between layers)")
        ordered = dict(reversed(plans.items()))  # network order
        notes = {k: {**p.notes, "binding_limit": p.notes["binding_limit"] if len(p.blocks) > 1 else None}
                 for k, p in ordered.items()}
        return {k: p.blocks for k, p in ordered.items()}, notes

    def _sweep(self, g: Graph, target: Target, layers: list[str], previous: dict[str, list[Block]], lim: Limits,
               sharing: bool) -> tuple[dict[str, LayerPlan], dict[str, list[Block]]]:
        """Plan every layer consumers-first. A consumer not planned yet (fed back to) is taken from ``previous``
        (or as one core reading everything); what was assumed is returned so the caller can check it held."""
        plans: dict[str, LayerPlan] = {}
        done: dict[str, list[Block]] = {}
        assumed: dict[str, list[Block]] = {}
        for name in reversed(layers):
            known = {}
            for c in consumer_layers(g, name):
                if c in done:
                    known[c] = done[c]
                elif c != name:
                    known[c] = assumed[c] = previous.get(c, [Block.span(0, layer_size(g.nodes[c]))])
            plans[name] = self._fixed_point(g, target, name, known, lim, sharing)
            done[name] = plans[name].blocks
        return plans, assumed

    @staticmethod
    def _fixed_point(g: Graph, target: Target, name: str, known: dict[str, list[Block]], lim: Limits,
                     sharing: bool) -> LayerPlan:
        """Plan a layer; a dense-fed layer that feeds itself reaches all its own cores too, so iterate its block
        count (tiles bound their own lateral destinations while choosing)."""
        li = layer_inputs(g, name)
        others = demand(g, target, name, known, li.shape)
        feeds_itself = name in consumer_layers(g, name) and li.shape is None
        count = 1
        while True:
            plan = plan_layer(target, g, name, others, lim, sharing, count if feeds_itself else 0)
            if len(plan.blocks) <= count:
                return plan
            count = len(plan.blocks)


def replan(graph: Graph, target: Target, blocks: dict[str, list[Block]], layers: list[str],
           memory: int) -> dict[str, LayerPlan]:
    """``layers`` (conv-fed, none feeding itself) planned again, consumers first, with ``memory`` bytes per core
    instead of the target's: room left on their cores for relays to fill (:mod:`.fill`). The other layers keep
    ``blocks``; ResourceError when a layer no longer fits."""
    lim, sharing = replace(Limits.of(target), memory=memory), weight_sharing(target)
    current = dict(blocks)
    plans: dict[str, LayerPlan] = {}
    for name in reversed([n for n in blocks if n in layers]):
        li = layer_inputs(graph, name)
        consumers = {c: current[c] for c in consumer_layers(graph, name) if c in current and c != name}
        plans[name] = plan_layer(target, graph, name, demand(graph, target, name, consumers, li.shape), lim, sharing)
        current[name] = plans[name].blocks
    return plans
