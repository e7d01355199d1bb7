"""partition: split every neuron layer into blocks that each fit one core under every per-core limit.

Per core the target limits neurons, memory (stored synapses at ``synapse_bits`` + neuron state + one table entry
per input axon), input axons and output axons (one per (neuron, destination core) pair). Layers are visited
consumers-first so that each layer knows which cores its spikes must reach.

* A layer fed only by dense synapses is cut into contiguous ranges of neurons; every core needs all its inputs.
* A layer fed by a convolution (:class:`QConv`; its neurons are a ``(C, H, W)`` map in CHW order) is cut into
  **tiles**: a range of output channels x a rectangle of output rows and columns. A tile's input axons are only its
  receptive field (the input positions it reads, times the input channels of its groups), and with
  ``memory_model.conv_weight_sharing`` a core stores each kernel weight its channels use once instead of one
  synapse per connection. Tiles are as large as the limits allow; at equal core counts whole channel maps are
  preferred, then whole rows (both keep a tile's neurons in few contiguous ranges). Tile sizes come from closed-form
  worst-case bounds, so large layers are partitioned without building any (out, in) matrix.

A layer no block size can fit raises :class:`ResourceError` naming the layer and the binding limit. Each layer's
blocks go to ``node.metadata['snncc.blocks']``: a block is ``[start, stop]`` (a contiguous range of the layer's
flat neuron indices) or, for a tile that is not contiguous, a list of such ranges (see :func:`block_ranges`,
:func:`block_index`). Conv-fed layers also get ``node.metadata['snncc.tiles']``, one
``{"channels", "rows", "cols"}`` dict of ``[start, stop)`` pairs per block. Per-layer figures and the binding limit
go to ``ctx.notes['partition']``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..conv import ConvGeometry
from ..errors import GraphError, ResourceError
from ..ir import INT_NEURONS, Graph, QConv, QDense, layer_size
from ..target import Target
from .base import Pass, PassContext

BLOCKS_KEY = "snncc.blocks"
TILES_KEY = "snncc.tiles"
LIMITS = ("neurons", "memory", "input_axons", "output_axons")

Block = Any  # [start, stop] or [[start, stop], ...]


# ---- blocks as flat index sets ---------------------------------------------------------------------------------
def block_ranges(block: Block) -> list[tuple[int, int]]:
    """The ``[start, stop)`` ranges of a block, whichever of its two forms it is stored in."""
    if len(block) == 2 and isinstance(block[0], (int, np.integer)):
        return [(int(block[0]), int(block[1]))]
    return [(int(a), int(b)) for a, b in block]


def block_size(block: Block) -> int:
    """Number of neurons in a block."""
    return sum(b - a for a, b in block_ranges(block))


def block_index(block: Block) -> np.ndarray:
    """The block's flat neuron indices, sorted (index a per-neuron array with it, e.g. spike counts)."""
    ranges = block_ranges(block)
    return np.concatenate([np.arange(a, b) for a, b in ranges]) if ranges else np.zeros(0, np.int64)


def _compact(ranges: list[list[int]]) -> Block:
    """Store a single range as ``[start, stop]`` so contiguous blocks keep the dense-layer form."""
    return ranges[0] if len(ranges) == 1 else ranges


# ---- what feeds a layer ----------------------------------------------------------------------------------------
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


def _is_flat(g: ConvGeometry) -> bool:
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
    spatial = {g.out_shape for g in convs if not _is_flat(g)} or {g.out_shape for g in convs}
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
    return [c for s in graph.successors(layer) if isinstance(graph.nodes[s], (QDense, QConv))
            for c in graph.successors(s)]


def weight_sharing(target: Target) -> bool:
    """Whether the target stores a convolution's kernel once per core instead of one synapse per connection."""
    fig = target.figures["memory_model"].get("conv_weight_sharing")
    return bool(fig.value) if fig is not None else False


def memory_bytes(target: Target, neurons: int, input_axons: int, synapses: int) -> int:
    """Bytes of one core: stored synapses, neuron state and the input-axon table (``memory_model``)."""
    mm = target.figures["memory_model"]
    return (math.ceil(synapses * mm["synapse_bits"].value / 8) + neurons * mm["neuron_state_bytes"].value
            + input_axons * mm["input_axon_bytes"].value)


# ---- convolution arithmetic along one axis ---------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One spatial axis of a convolution: input length, kernel, stride, padding, dilation, output length."""

    n_in: int
    k: int
    s: int
    p: int
    d: int
    n_out: int

    def _taps(self, o0: int, o1: int) -> np.ndarray:
        """(outputs, taps) input position each tap of outputs ``o0..o1`` reads; -1 where it reads padding."""
        pos = np.arange(o0, o1)[:, None] * self.s - self.p + np.arange(self.k)[None, :] * self.d
        return np.where((pos >= 0) & (pos < self.n_in), pos, -1)

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - axes are few, small, immutable and reused
    def reads(self, o0: int, o1: int) -> np.ndarray:
        """Sorted input positions that outputs ``o0..o1`` read (the receptive field along this axis; read-only,
        shared by every caller)."""
        pos = self._taps(o0, o1)
        out = np.unique(pos[pos >= 0])
        out.flags.writeable = False
        return out

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - axes are few, small, immutable and reused
    def taps_used(self, o0: int, o1: int) -> int:
        """Kernel taps that read a real input for at least one of the outputs."""
        return int((self._taps(o0, o1) >= 0).any(axis=0).sum())

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - axes are few, small, immutable and reused
    def connections(self, o0: int, o1: int) -> int:
        """(output, tap) pairs that read a real input (padding reads are no synapse)."""
        return int((self._taps(o0, o1) >= 0).sum())

    def max_reads(self, t: int) -> int:
        """Upper bound of :meth:`reads` over all ranges of ``t`` outputs (exact for the whole axis)."""
        if t >= self.n_out:
            return len(self.reads(0, self.n_out))
        return min(self.n_in, t * self.k, (t - 1) * self.s + (self.k - 1) * self.d + 1)

    def max_taps(self, t: int) -> int:
        """Upper bound of :meth:`taps_used` over all ranges of ``t`` outputs."""
        return self.taps_used(0, self.n_out) if t >= self.n_out else self.k

    def max_connections(self, t: int) -> int:
        """Upper bound of :meth:`connections` over all ranges of ``t`` outputs."""
        return self.connections(0, self.n_out) if t >= self.n_out else t * min(self.k, self.n_in)


def axes(geom: ConvGeometry) -> tuple[Axis, Axis]:
    """The (y, x) axes of a convolution."""
    _, h_out, w_out = geom.out_shape
    return tuple(Axis(geom.in_shape[1 + i], geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i],
                      (h_out, w_out)[i]) for i in range(2))  # type: ignore[return-value]


def in_channels(geom: ConvGeometry, c0: int, c1: int) -> tuple[int, int]:
    """Input channels ``[start, stop)`` read by output channels ``c0..c1``: those of the groups they belong to."""
    cg_out, cg_in = geom.out_channels // geom.groups, geom.in_shape[0] // geom.groups
    return (c0 // cg_out) * cg_in, ((c1 - 1) // cg_out + 1) * cg_in


def max_in_channels(geom: ConvGeometry, cc: int) -> int:
    """Upper bound of the input channels any ``cc`` consecutive output channels read."""
    cg_out, cg_in = geom.out_channels // geom.groups, geom.in_shape[0] // geom.groups
    return min(geom.groups, -(-(cc - 1) // cg_out) + 1) * cg_in


# ---- tiles -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    """Output channels ``c0..c1`` x rows ``r0..r1`` x columns ``x0..x1`` of a conv-fed layer (half-open)."""

    c0: int
    c1: int
    r0: int
    r1: int
    x0: int
    x1: int

    @property
    def size(self) -> int:
        return (self.c1 - self.c0) * (self.r1 - self.r0) * (self.x1 - self.x0)

    def to_meta(self) -> dict[str, list[int]]:
        return {"channels": [self.c0, self.c1], "rows": [self.r0, self.r1], "cols": [self.x0, self.x1]}

    @classmethod
    def from_meta(cls, meta: dict[str, Sequence[int]]) -> Tile:
        return cls(*meta["channels"], *meta["rows"], *meta["cols"])


def split(n: int, pieces: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into ``pieces`` contiguous parts whose sizes differ by at most one."""
    base, extra = divmod(n, pieces)
    bounds, start = [], 0
    for i in range(pieces):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def tiling(shape: tuple[int, int, int], dims: tuple[int, int, int]) -> list[Tile]:
    """Tiles of at most ``dims`` = (channels, rows, cols) covering a (C, H, W) map, channel-major."""
    cuts = [split(n, -(-n // t)) for n, t in zip(shape, dims, strict=True)]
    return [Tile(c0, c1, r0, r1, x0, x1) for c0, c1 in cuts[0] for r0, r1 in cuts[1] for x0, x1 in cuts[2]]


def tile_ranges(shape: tuple[int, int, int], t: Tile) -> list[list[int]]:
    """The tile's flat CHW indices as merged ``[start, stop)`` ranges (one range for whole channel maps)."""
    _, h, w = shape
    if t.x0 == 0 and t.x1 == w:
        if t.r0 == 0 and t.r1 == h:
            return [[t.c0 * h * w, t.c1 * h * w]]
        return [[c * h * w + t.r0 * w, c * h * w + t.r1 * w] for c in range(t.c0, t.c1)]
    starts = (np.arange(t.c0, t.c1)[:, None] * h * w + np.arange(t.r0, t.r1)[None, :] * w + t.x0).ravel()
    return np.stack([starts, starts + (t.x1 - t.x0)], axis=1).tolist()


# ---- per-core use ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Use:
    """What one core spends: neurons, input axons, stored synapse entries and bytes of memory."""

    neurons: int
    input_axons: int
    synapses: int
    memory: int


def tile_use(target: Target, li: LayerInputs, t: Tile, sharing: bool) -> Use:
    """Exact use of a core holding tile ``t`` (its receptive field; its kernel once, or every connection)."""
    axons, synapses = li.dense_in, t.size * li.dense_in
    for g in li.convs:
        ay, ax = axes(g)
        ci0, ci1 = in_channels(g, t.c0, t.c1)
        axons += (ci1 - ci0) * len(ay.reads(t.r0, t.r1)) * len(ax.reads(t.x0, t.x1))
        per_pair = (ay.taps_used(t.r0, t.r1) * ax.taps_used(t.x0, t.x1) if sharing
                    else ay.connections(t.r0, t.r1) * ax.connections(t.x0, t.x1))
        synapses += (t.c1 - t.c0) * g.weight_shape[1] * per_pair
    if li.flat:
        idx = block_index(tile_ranges(li.shape, t))
        for g in li.flat:
            groups = len(np.unique(idx // (g.out_channels // g.groups)))
            axons += groups * _flat_field_size(g)
            synapses += len(idx) * _flat_connections(g)
    return Use(t.size, axons, synapses, memory_bytes(target, t.size, axons, synapses))


def tile_bound(target: Target, li: LayerInputs, dims: tuple[int, int, int], sharing: bool) -> Use:
    """Upper bound of :func:`tile_use` over every tile of at most ``dims``: sizes tiles without enumerating them."""
    cc, th, tw = dims
    n = cc * th * tw
    axons, synapses = li.dense_in, n * li.dense_in
    for g in li.convs:
        ay, ax = axes(g)
        axons += max_in_channels(g, cc) * ay.max_reads(th) * ax.max_reads(tw)
        per_pair = (ay.max_taps(th) * ax.max_taps(tw) if sharing
                    else ay.max_connections(th) * ax.max_connections(tw))
        synapses += cc * g.weight_shape[1] * per_pair
    for g in li.flat:  # each neuron belongs to one group of a per-neuron convolution
        axons += min(g.groups, n) * _flat_field_size(g)
        synapses += n * _flat_connections(g)
    return Use(n, axons, synapses, memory_bytes(target, n, axons, synapses))


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


# ---- where a layer's spikes go ---------------------------------------------------------------------------------
def _field_index(g: ConvGeometry, t: Tile, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat CHW indices of the inputs that tile ``t`` of a layer with map ``shape`` reads through convolution ``g``
    (a per-neuron convolution: the groups of the tile's neurons, each over its whole spatial field)."""
    ay, ax = axes(g)
    _, h, w = g.in_shape
    if g.out_shape == shape:
        ci0, ci1 = in_channels(g, t.c0, t.c1)
        chans, rows, cols = np.arange(ci0, ci1), ay.reads(t.r0, t.r1), ax.reads(t.x0, t.x1)
    else:
        groups = np.unique(block_index(tile_ranges(shape, t)) // (g.out_channels // g.groups))
        cg_in = g.weight_shape[1]
        chans, rows, cols = (groups[:, None] * cg_in + np.arange(cg_in)).ravel(), ay.reads(0, 1), ax.reads(0, 1)
    return (chans[:, None, None] * h * w + rows[None, :, None] * w + cols[None, None, :]).ravel()


def reads_from(graph: Graph, layer: str, consumer: str, tiles: list[dict] | None,
               n_blocks: int) -> list[np.ndarray | None]:
    """Per block of ``consumer``: the sorted neurons of ``layer`` it reads, or None when it reads all of them.

    A dense synapse reads every input; a convolution only the receptive field of the block's tile.
    """
    syns = [graph.nodes[s] for s in graph.successors(layer) if consumer in graph.successors(s)]
    if tiles is None or not all(isinstance(s, QConv) for s in syns):
        return [None] * n_blocks
    shape = layer_inputs(graph, consumer).shape
    assert shape is not None
    out: list[np.ndarray | None] = []
    for meta in tiles:
        t = Tile.from_meta(meta)
        fields = [_field_index(s.geometry, t, shape) for s in syns]
        out.append(fields[0] if len(fields) == 1 else np.unique(np.concatenate(fields)))
    return out


def destinations(graph: Graph, layer: str, partitioned: dict[str, tuple[list, list | None]]) -> np.ndarray:
    """Per neuron of ``layer``: the consumer cores its spikes must reach (each one output axon).

    ``partitioned`` maps a layer to its (blocks, tiles or None); consumers missing from it are left out (during
    partitioning, the layer itself, which the caller accounts for).
    """
    dest = np.zeros(layer_size(graph.nodes[layer]), np.int64)
    for c in dict.fromkeys(consumer_layers(graph, layer)):
        if c not in partitioned:
            continue
        blocks, tiles = partitioned[c]
        for idx in reads_from(graph, layer, c, tiles, len(blocks)):
            if idx is None:
                dest += 1
            else:
                dest[idx] += 1
    return dest


# ---- choosing block sizes --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """The target's per-core limits as plain integers (read once per pass, compared many times)."""

    neurons: int
    memory: int
    input_axons: int
    output_axons: int

    @classmethod
    def of(cls, target: Target) -> Limits:
        lim = target.figures["core_limits"]
        return cls(*(int(lim[k].value) for k in LIMITS))


class OutAxons:
    """Output axons of the tiles of a (C, H, W) map: per-neuron destination counts (other layers' cores) summed
    over a tile in O(1) through a summed-volume table, so each candidate tiling is checked exactly, plus a bound of
    the layer's own cores its lateral synapses reach (which depends on the candidate tiling itself)."""

    def __init__(self, dest: np.ndarray, shape: tuple[int, int, int], own: Callable[[tuple[int, ...]], int]):
        self.any = bool(dest.any())
        self.table = np.zeros(tuple(n + 1 for n in shape), np.int64)
        self.table[1:, 1:, 1:] = dest.reshape(shape).cumsum(0).cumsum(1).cumsum(2)
        self.shape, self.own = shape, own

    def worst(self, dims: tuple[int, int, int]) -> int:
        """The largest output-axon count of any tile when the map is cut into tiles of at most ``dims``."""
        pieces = tuple(-(-n // d) for n, d in zip(self.shape, dims, strict=True))
        lateral = dims[0] * dims[1] * dims[2] * self.own(pieces)
        if not self.any:
            return lateral
        corners = self.table[np.ix_(*(_edges(n, k) for n, k in zip(self.shape, pieces, strict=True)))]
        return int(np.diff(np.diff(np.diff(corners, axis=0), axis=1), axis=2).max()) + lateral


def own_destinations(graph: Graph, layer: str, shape: tuple[int, int, int]) -> Callable[[tuple[int, ...]], int]:
    """Bound of the layer's own tiles one neuron reaches through lateral synapses, given the tile counts per axis:
    all of them for a dense lateral synapse, only those whose receptive field holds it for a convolution."""
    syns = [graph.nodes[s] for s in graph.successors(layer) if layer in graph.successors(s)]

    def own(pieces: tuple[int, ...]) -> int:
        if not syns:
            return 0
        if not all(isinstance(s, QConv) and s.geometry.in_shape == shape for s in syns):
            return pieces[0] * pieces[1] * pieces[2]
        return sum(_conv_readers(s.geometry, pieces) for s in syns)

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


def _usage(use: Use, out_axons: int) -> dict[str, int]:
    return {"neurons": use.neurons, "memory": use.memory, "input_axons": use.input_axons, "output_axons": out_axons}


def _fits(use: Use, out_axons: int, lim: Limits) -> bool:
    return all(v <= getattr(lim, k) for k, v in _usage(use, out_axons).items())


def _binding(use: Use, out_axons: int, lim: Limits) -> str:
    """The limit closest to full (the one that stops a block from growing)."""
    u = _usage(use, out_axons)
    return max(u, key=lambda k: u[k] / getattr(lim, k))


def _explain_unfit(layer: str, use: Use, out_per_neuron: int, lim: Limits) -> ResourceError:
    """The error for a layer of which not even one neuron fits a core, naming the limit it breaks."""
    if use.input_axons > lim.input_axons:
        return ResourceError(f"one neuron reads {use.input_axons} inputs, more than the {lim.input_axons} input "
                             "axons of a core (core_limits.input_axons)", layer=layer,
                             hint="a core cannot split a neuron's inputs; reduce the fan-in (input channels, kernel)")
    if use.memory > lim.memory:
        return ResourceError(f"one neuron needs {use.memory} bytes, more than the {lim.memory} bytes of a core "
                             "(core_limits.memory)", layer=layer)
    return ResourceError(f"its spikes reach {out_per_neuron} cores, more than the {lim.output_axons} output axons "
                         "of a core (core_limits.output_axons)", layer=layer)


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
        return _fits(bound, 0, lim) and out.worst(dims) <= lim.output_axons

    if not ok((1, 1, 1)):
        raise _explain_unfit(layer, tile_bound(target, li, (1, 1, 1), sharing), out.worst((1, 1, 1)), lim)
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
    return best, _binding(tile_bound(target, li, best, sharing), out.worst(best), lim)


def _dense_per_core(target: Target, layer: str, li: LayerInputs, out_per_neuron: int,
                    lim: Limits) -> tuple[int, str]:
    """Neurons per core of a dense-fed layer and the limit that sets it (neurons, memory or output axons)."""
    one = dense_use(target, li, 1)
    if li.dense_in > lim.input_axons:
        raise ResourceError(f"fan-in {li.dense_in} exceeds the {lim.input_axons} input axons of a core "
                            "(core_limits.input_axons)", layer=layer,
                            hint="a core cannot split a neuron's inputs; reduce the fan-in")
    if not _fits(one, out_per_neuron, lim):
        raise _explain_unfit(layer, one, out_per_neuron, lim)
    fixed = dense_use(target, li, 0).memory
    per = {"neurons": lim.neurons,
           "memory": (lim.memory - fixed) // (one.memory - fixed) if one.memory > fixed else lim.neurons,
           "output_axons": lim.output_axons // out_per_neuron if out_per_neuron else lim.neurons}
    binding = min(per, key=lambda k: per[k])
    return per[binding], binding


@dataclass(frozen=True)
class LayerPlan:
    """A layer's blocks (flat ranges), tiles (conv-fed layers) and the figures the notes report."""

    blocks: list[Block]
    tiles: list[Tile] | None
    notes: dict[str, Any]


Partitioned = tuple[list[Block], list[dict] | None]  # a layer's blocks and tiles as stored in its metadata
MAX_SWEEPS = 10


def _partitioned(plan: LayerPlan) -> Partitioned:
    return plan.blocks, None if plan.tiles is None else [t.to_meta() for t in plan.tiles]


def plan_layer(target: Target, graph: Graph, layer: str, dest: np.ndarray, lim: Limits, sharing: bool,
               own_cores: int = 0) -> LayerPlan:
    """Blocks of one layer, given the other layers' cores each of its neurons sends to (``dest``, one output axon
    each). A dense-fed layer's ranges are sized by its busiest neuron, counting ``own_cores`` for a lateral synapse;
    tiles by the exact sum over each tile, with their own lateral destinations bounded per candidate tiling.
    """
    li = layer_inputs(graph, layer)
    n = layer_size(graph.nodes[layer])
    if li.shape is None:
        per_core, binding = _dense_per_core(target, layer, li, int(dest.max(initial=0)) + own_cores, lim)
        blocks = [[a, b] for a, b in split(n, -(-n // per_core))]
        return LayerPlan(blocks, None, {"neurons": n, "fan_in": li.dense_in, "blocks": len(blocks),
                                        "max_neurons_per_core": per_core, "binding_limit": binding})
    if int(np.prod(li.shape)) != n:
        raise GraphError(f"{n} neurons cannot hold the convolution's {li.shape} output map", layer=layer)
    out = OutAxons(dest, li.shape, own_destinations(graph, layer, li.shape))
    dims, binding = choose_tile(target, layer, li, out, lim, sharing)
    tiles = tiling(li.shape, dims)
    blocks = [_compact(tile_ranges(li.shape, t)) for t in tiles]
    bound = tile_bound(target, li, dims, sharing)
    pieces = [-(-s // d) for s, d in zip(li.shape, dims, strict=True)]
    return LayerPlan(blocks, tiles, {
        "neurons": n, "fan_in": fan_in(graph, layer), "blocks": len(blocks), "max_neurons_per_core": bound.neurons,
        "binding_limit": binding, "map": list(li.shape), "tile": list(dims),
        "pieces": pieces, "weight_sharing": sharing, "input_axons_max": bound.input_axons,
        "memory_max": bound.memory})


class Partition(Pass):
    name = "partition"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if not graph.metadata.get("quantized"):
            raise GraphError("partition needs a quantized graph (run quantize first)")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        lim, sharing = Limits.of(ctx.target), weight_sharing(ctx.target)
        layers = [n for n in g.topological_order() if isinstance(g.nodes[n], INT_NEURONS)]
        previous: dict[str, Partitioned] = {}
        for _ in range(MAX_SWEEPS):  # feedback synapses reach layers planned later: sweep until they agree
            plans, assumed = self._sweep(g, ctx.target, layers, previous, lim, sharing)
            done = {k: _partitioned(p) for k, p in plans.items()}
            if all(done[c] == v for c, v in assumed.items()):
                break
            previous = done
        else:
            raise GraphError(f"partition did not settle after {MAX_SWEEPS} sweeps (feedback between layers)")
        for name, plan in plans.items():
            g.nodes[name].metadata[BLOCKS_KEY] = plan.blocks
            g.nodes[name].metadata.pop(TILES_KEY, None)
            if plan.tiles is not None:
                g.nodes[name].metadata[TILES_KEY] = [t.to_meta() for t in plan.tiles]
        self._check_total(ctx.target, {k: len(p.blocks) for k, p in plans.items()})
        notes = {k: {**p.notes, "binding_limit": p.notes["binding_limit"] if len(p.blocks) > 1 else None}
                 for k, p in reversed(plans.items())}
        ctx.notes["partition"] = {"layers": notes, "cores": sum(len(p.blocks) for p in plans.values())}
        return g

    def _sweep(self, g: Graph, target: Target, layers: list[str], previous: dict[str, Partitioned], lim: Limits,
               sharing: bool) -> tuple[dict[str, LayerPlan], dict[str, Partitioned]]:
        """Plan every layer consumers-first. A consumer not planned yet (fed back to) is taken from ``previous``
        (or as one core reading everything); what was assumed is returned so the caller can check it held."""
        plans: dict[str, LayerPlan] = {}
        done: dict[str, Partitioned] = {}
        assumed: dict[str, Partitioned] = {}
        for name in reversed(layers):
            known = {}
            for c in consumer_layers(g, name):
                if c in done:
                    known[c] = done[c]
                elif c != name:
                    n_c = layer_size(g.nodes[c])
                    known[c] = assumed[c] = previous.get(c, ([[0, n_c]], None))
            plans[name] = self._fixed_point(g, target, name, known, lim, sharing)
            done[name] = _partitioned(plans[name])
        return plans, assumed

    @staticmethod
    def _fixed_point(g: Graph, target: Target, name: str, known: dict[str, Partitioned], lim: Limits,
                     sharing: bool) -> LayerPlan:
        """Plan a layer; a dense-fed layer that feeds itself reaches all its own cores too, so iterate its block
        count (tiles bound their own lateral destinations while choosing)."""
        others = destinations(g, name, known)
        feeds_itself = name in consumer_layers(g, name) and layer_inputs(g, name).shape is None
        count = 1
        while True:
            plan = plan_layer(target, g, name, others, lim, sharing, count if feeds_itself else 0)
            if len(plan.blocks) <= count:
                return plan
            count = len(plan.blocks)

    @staticmethod
    def _check_total(target: Target, n_blocks: dict[str, int]) -> None:
        total = sum(n_blocks.values())
        if total > target.total_cores:
            worst = max(n_blocks, key=lambda k: n_blocks[k])
            raise ResourceError(f"the model needs {total} cores but the target has {target.total_cores} "
                                f"(system.chips x system.cores_per_chip); layer '{worst}' alone takes "
                                f"{n_blocks[worst]}", hint="use a target file with more chips")

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if not isinstance(node, INT_NEURONS):
                continue
            blocks = node.metadata.get(BLOCKS_KEY)
            tiles = node.metadata.get(TILES_KEY)
            if not blocks or (tiles is not None and len(tiles) != len(blocks)):
                raise ResourceError("blocks do not cover the layer", layer=name)
            ranges = sorted(r for b in blocks for r in block_ranges(b))
            stops = [0] + [b for _, b in ranges]
            if any(a != prev for (a, _), prev in zip(ranges, stops, strict=False)) or stops[-1] != layer_size(node):
                raise ResourceError("blocks do not cover the layer exactly once", layer=name)
