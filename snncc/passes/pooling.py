"""Average and sum pooling in canonical form: a depthwise convolution, fused into the synapse it feeds.

A pooling whose stride is its kernel is fused into the convolution or Linear it feeds (a pooled conv is one conv
with an upsampled kernel, so pooling costs no extra synapse layer, step or neuron). Where the fused layer's fan-in
would exceed a core's input axons (a global pooling before a classifier) and the target has graded spikes, a
pooling of binary spikes becomes a sum into graded relay neurons instead (exact). Part of canonicalize.
"""

from __future__ import annotations

import nir
import numpy as np

from ..conv import conv_matrix, nir_geometry, pair
from ..errors import UnsupportedLayerError
from ..families.relay import graded_relay
from ..ir import FloatNeuron, Graph, keys
from ..ir.synapses import FLOAT_SYNAPSES, as_affine, with_weight

POOLS = (nir.AvgPool2d, nir.SumPool2d)


def rewire_out(g: Graph, name: str) -> None:
    """Remove ``name`` and connect each of its sources to each of its consumers."""
    preds, succs = g.predecessors(name), g.successors(name)
    g.edges = [e for e in g.edges if name not in e]
    for p in preds:
        for s in succs:
            if (p, s) not in g.edges:
                g.edges.append((p, s))
    del g.nodes[name]


def pools_to_conv(g: Graph) -> None:
    """Average (sum) pooling of kernel k -> a depthwise convolution with weights 1/(ky kx) (1)."""
    for name, node in list(g.nodes.items()):
        if not isinstance(node, POOLS):
            continue
        shape = node.metadata.get(keys.INPUT_SHAPE)
        if shape is None:
            raise UnsupportedLayerError(f"a pooling node without its input shape (metadata '{keys.INPUT_SHAPE}')",
                                        layer=name)
        c, h, w = (int(v) for v in shape)
        ky, kx = pair(node.kernel_size)
        weight = 1.0 / (ky * kx) if isinstance(node, nir.AvgPool2d) else 1.0
        meta = {**node.metadata, keys.POOL: {"kernel": [ky, kx], "weight": weight}}
        g.nodes[name] = nir.Conv2d(input_shape=(h, w), weight=np.full((c, 1, ky, kx), weight), stride=pair(node.stride),
                                   padding=pair(node.padding), dilation=(1, 1), groups=c, bias=np.zeros(c),
                                   metadata=meta)


def is_pool(node: object) -> bool:
    """Whether ``node`` is a pooling turned into a depthwise convolution by :func:`pools_to_conv`."""
    return isinstance(node, nir.Conv2d) and keys.POOL in node.metadata


def fuse_pools(g: Graph, max_fan_in: int | None = None) -> dict[str, dict]:
    """Fold a pooling (stride == kernel, no padding) into the one synapse it feeds, unless the fused synapse's
    fan-in would exceed ``max_fan_in`` (a core's input axons) while the unfused one fits: such a pooling of binary
    spikes feeds graded relay neurons instead (see :func:`_pool_relay`). Returns the relays inserted."""
    relays = {}
    for name, node in list(g.nodes.items()):
        pool = node.metadata.get(keys.POOL) if isinstance(node, nir.Conv2d) else None
        succs = g.successors(name)
        if pool is None or len(succs) != 1 or len(g.predecessors(succs[0])) != 1:
            continue
        geom = nir_geometry(node)
        k = geom.kernel
        nxt = g.nodes[succs[0]]
        if geom.stride != k or geom.padding != (0, 0) or not isinstance(nxt, FLOAT_SYNAPSES):
            continue
        c, h, w = geom.in_shape
        _, hp, wp = geom.out_shape
        fused, unfused = _pool_fan_in(nxt, k)
        if max_fan_in is not None and fused > max_fan_in >= max(unfused, k[0] * k[1]) and _binary_source(g, name):
            relays[name] = _pool_relay(g, name, succs[0], pool)
            relays[name].update(fused_fan_in=fused, input_axons=max_fan_in)
            continue
        if isinstance(nxt, nir.Conv2d) and nir_geometry(nxt).padding != (0, 0) and (h % k[0] or w % k[1]):
            fused = _pooled_conv_matrix(name, node, nxt, pool["weight"])
        elif isinstance(nxt, nir.Conv2d):
            ng = nir_geometry(nxt)
            kernel = np.repeat(np.repeat(undilated(nxt.weight, ng.dilation), k[0], axis=2), k[1], axis=3)
            fused = with_weight(nxt, kernel * pool["weight"], input_shape=(h, w),
                                stride=(ng.stride[0] * k[0], ng.stride[1] * k[1]),
                                padding=(ng.padding[0] * k[0], ng.padding[1] * k[1]), dilation=(1, 1))
            fused.bias = np.asarray(nxt.bias, np.float64) * np.ones(ng.out_channels)
        else:
            wt = np.asarray(nxt.weight, np.float64).reshape(-1, c, hp, wp)
            up = np.zeros((wt.shape[0], c, h, w))
            up[:, :, :hp * k[0], :wp * k[1]] = np.repeat(np.repeat(wt, k[0], axis=2), k[1], axis=3) * pool["weight"]
            fused = nir.Affine(weight=up.reshape(wt.shape[0], -1), metadata=dict(nxt.metadata),
                               bias=as_affine(nxt)[1])
        fused.metadata[keys.FUSED_POOL] = name
        g.nodes[succs[0]] = fused
        rewire_out(g, name)
    return relays


DENSE_FUSION_ENTRIES = 1 << 25  # the largest dense matrix a pooling and a padded conv are fused into (256 MiB)


def _pooled_conv_matrix(pool_name: str, pool: nir.Conv2d, conv: nir.Conv2d, weight: float) -> nir.Affine:
    """A pooling that drops rows or columns (the map is not a multiple of its kernel) fused into a padded
    convolution, as one dense matrix: the conv's zero padding sits next to the *pooled* map, where the unpooled map
    still has the dropped rows, so no single convolution of the unpooled map computes it. Exact, at the cost of
    weight sharing: each column of the conv's matrix spread over the window it averages, zero on dropped rows."""
    pg, cg = nir_geometry(pool), nir_geometry(conv)
    (c, h, w), (_, hp, wp), (ky, kx) = pg.in_shape, pg.out_shape, pg.kernel
    entries = cg.in_size ** 2 + cg.out_size * pg.in_size
    if entries > DENSE_FUSION_ENTRIES:
        raise UnsupportedLayerError(
            f"pooling a {h}x{w} map by {ky}x{kx} drops rows or columns, and the padded convolution after it can "
            f"then only be fused as a dense matrix, here of {entries} entries (more than {DENSE_FUSION_ENTRIES})",
            layer=pool_name, hint="pool a map whose size is a multiple of the kernel, or drop the conv's padding")
    columns = conv_matrix(np.asarray(conv.weight, np.float64), cg).reshape(cg.out_size, c, hp, wp)
    up = np.zeros((cg.out_size, c, h, w))
    up[:, :, :hp * ky, :wp * kx] = np.repeat(np.repeat(columns, ky, axis=2), kx, axis=3) * weight
    bias = np.repeat(np.asarray(conv.bias, np.float64) * np.ones(cg.out_channels), cg.out_size // cg.out_channels)
    return nir.Affine(weight=up.reshape(cg.out_size, -1), bias=bias, metadata=dict(conv.metadata))


def undilated(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """A dilated kernel as the dilation-1 kernel it spans, zeros between its taps: after a ``k`` pooling is fused
    in, a tap reads a ``k x k`` block of the unpooled map ``d k`` apart, which no dilation of the input expresses."""
    w = np.asarray(weight, np.float64)
    (dy, dx), (ky, kx) = dilation, w.shape[2:]
    out = np.zeros((*w.shape[:2], (ky - 1) * dy + 1, (kx - 1) * dx + 1))
    out[:, :, ::dy, ::dx] = w
    return out


def _pool_fan_in(nxt: object, k: tuple[int, int]) -> tuple[int, int]:
    """(fused, unfused) inputs of one neuron behind synapse ``nxt`` when a ``k`` pooling is / is not fused into it
    (a fused dilated kernel spans its gaps, see :func:`undilated`)."""
    if isinstance(nxt, nir.Conv2d):
        ng = nir_geometry(nxt)
        span = [(n - 1) * d + 1 for n, d in zip(ng.kernel, ng.dilation, strict=True)]
        return ng.weight_shape[1] * span[0] * k[0] * span[1] * k[1], ng.weight_shape[1] * ng.kernel[0] * ng.kernel[1]
    n_in = int(np.asarray(nxt.weight).shape[-1])
    return n_in * k[0] * k[1], n_in


def _binary_source(g: Graph, pool: str) -> bool:
    """Whether the pooling reads binary spikes (a neuron layer with binary output), so that a window's count is at
    most its size."""
    (src,) = g.predecessors(pool)
    node = g.nodes[src]
    return isinstance(node, FloatNeuron) and node.payload_levels is None


def _pool_relay(g: Graph, pool: str, consumer: str, meta: dict) -> dict:
    """Keep pooling ``pool`` as a layer of its own: a sum over each window into graded relay neurons that send the
    count (``levels`` = window size; :mod:`snncc.families.relay`), the average's ``1/(ky kx)``
    as their output scale (folded into ``consumer``). Exact: the counts are small integers. It costs one step of
    latency and the pooled map's neurons, and divides the consumer's fan-in by the window size."""
    node = g.nodes[pool]
    geom = nir_geometry(node)
    n, window = geom.out_size, int(np.prod(meta["kernel"]))
    g.nodes[pool] = with_weight(node, np.ones_like(np.asarray(node.weight, np.float64)))
    relay = f"{pool}_relay"
    g.nodes[relay] = graded_relay(n, window, {keys.SOURCE: f"graded relay of pooling {pool} (not fused into "
                                                          f"{consumer}: fan-in)", keys.POOL_RELAY: pool},
                                  out_scale=float(meta["weight"]))
    g.edges = [e for e in g.edges if e != (pool, consumer)] + [(pool, relay), (relay, consumer)]
    return {"relay": relay, "neurons": n, "levels": window}
