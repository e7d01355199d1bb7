"""canonicalize: bring any imported graph to one normal form the later passes can rely on.

After it, the graph holds only ``nir.Input``, ``nir.Linear`` and ``nir.Conv2d`` (no bias), float neuron nodes and
``nir.Output``; the input feeds synapses, every synapse has one source and feeds exactly one neuron layer, and
neurons feed synapses or outputs. On the way it

* turns average/sum pooling into a depthwise convolution, and fuses a pooling whose stride is its kernel into the
  convolution or Linear it feeds (a pooled conv is one conv with an upsampled kernel, so pooling costs no extra
  synapse layer, step or neuron); where the fused layer's fan-in would exceed a core's input axons (a global
  pooling before a classifier) and the target has graded spikes, a pooling of binary spikes becomes a sum into
  graded relay neurons instead (exact);
* splits a synapse fed by several spike sources (SEW-style spike addition, ``conv(s1 + s2)``) into one copy per
  source, and gives a neuron output added straight to a current (an identity shortcut) an identity synapse;

* discretises NIR's continuous neurons with the graph's ``dt`` (forward Euler, the convention snnTorch,
  SpikingJelly and the NIR paper graphs follow) and records their input gain,
* removes ``Flatten`` (fully connected graphs are 1-D), merges chains of synapses into one,
* moves synapse biases into the neuron bias (exact only without current decay, else an error) and folds the
  input gains, multi-level output scales and the graded input's scale into the weights.
"""

from __future__ import annotations

import copy

import nir
import numpy as np

from ..conv import nir_geometry, pair
from ..errors import GraphError, UnsupportedLayerError
from ..ir import FLOAT_NEURONS, Graph, InputEncoding, LIFNeuron, MultiLevelNeuron
from .base import Pass, PassContext

SYNAPSES = (nir.Affine, nir.Linear)  # dense synapses (chains of them merge into one)
ALL_SYNAPSES = (*SYNAPSES, nir.Conv2d)
POOLS = (nir.AvgPool2d, nir.SumPool2d)
POOL_KEY = "snncc.pool"  # {"kernel": [ky, kx], "weight": w}: a pooling turned into a depthwise convolution
CONTINUOUS = (nir.LIF, nir.IF, nir.CubaLIF)
ACCEPTED = (nir.Input, nir.Output, nir.Flatten, *ALL_SYNAPSES, *POOLS, *CONTINUOUS, *FLOAT_NEURONS)
BIAS_INTO_VOLTAGE = (LIFNeuron, MultiLevelNeuron)  # add the bias to v, so a decaying current cannot carry it
GAIN_KEY = "snncc.input_gain"


class Canonicalize(Pass):
    name = "canonicalize"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if not isinstance(node, ACCEPTED):
                raise UnsupportedLayerError(f"node type {type(node).__name__} cannot be compiled yet", layer=name)
            if isinstance(node, nir.Conv2d):
                try:
                    nir_geometry(node)
                except ValueError as exc:
                    raise UnsupportedLayerError(f"convolution geometry: {exc}", layer=name) from None
            if isinstance(node, CONTINUOUS) and "dt" not in graph.metadata:
                raise GraphError("continuous-time NIR neuron but the graph states no dt", layer=name,
                                 hint="pass --dt")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        _remove_flatten(g)
        _discretize(g)
        _pools_to_conv(g)
        _split_shared_synapses(g, pools_only=True)  # a pooling read by two synapses is fused into each
        axons = ctx.target.figures.get("core_limits", {}).get("input_axons")
        graded = "multilevel_graded" in ctx.target.primitives  # the relays send counts as graded spikes
        relays = _fuse_pools(g, int(axons.value) if axons is not None and graded else None)
        ctx.notes["canonicalize"] = {"pool_relays": relays}
        _merge_synapse_chains(g)
        _identity_synapses(g)
        _split_multi_source_synapses(g)
        _split_shared_synapses(g)
        _fold_biases_and_gains(g)
        _fold_out_scales(g)
        _fold_input_scale(g)
        g.metadata["canonical"] = True
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph, balanced=False)  # paths of unequal depth are the balance-latency pass's job


def check_canonical(g: Graph, balanced: bool = True) -> None:
    """Raise UnsupportedLayerError/GraphError unless ``g`` is in canonical form (see module docstring) and, with
    ``balanced``, every neuron layer's inputs arrive through paths of equal synaptic depth."""
    depth = g.synapse_depth()
    for name, node in g.nodes.items():
        preds, succs = g.predecessors(name), g.successors(name)
        if isinstance(node, (nir.Linear, nir.Conv2d)):
            if len(preds) != 1:
                raise GraphError("a synapse with several sources left after canonicalize", layer=name)
            if isinstance(g.nodes[preds[0]], (nir.Linear, nir.Conv2d)):
                raise UnsupportedLayerError("two synapse layers in a row (e.g. a pooling that is not fused into the "
                                            "next layer) cannot be deployed", layer=name,
                                            hint="use pooling with stride == kernel and no padding before a conv or "
                                                 "Linear, or put a neuron layer in between")
            if len(succs) != 1 or not isinstance(g.nodes[succs[0]], FLOAT_NEURONS):
                raise UnsupportedLayerError("a synapse layer must feed exactly one neuron layer; end the model "
                                            "with an snncc LIF/IF (non-spiking readouts are not supported yet)",
                                            layer=name)
        elif isinstance(node, FLOAT_NEURONS):
            if not preds or not all(isinstance(g.nodes[p], (nir.Linear, nir.Conv2d)) for p in preds):
                raise UnsupportedLayerError("a neuron layer must be fed by synapse layers (nn.Linear, nn.Conv2d)",
                                            layer=name)
            depths = {depth[p] for p in preds}
            if balanced and len(depths) > 1:
                raise UnsupportedLayerError(
                    f"paths of different synaptic depth ({sorted(depths)}) meet here; on the chip each synapse "
                    "layer adds one step, so the float model and the deployed network would disagree",
                    layer=name, hint="run the balance-latency pass (the default pipeline does)")
        elif isinstance(node, nir.Input):
            if not all(isinstance(g.nodes[s], (nir.Linear, nir.Conv2d)) for s in succs):
                raise UnsupportedLayerError("the input must feed synapse layers (nn.Linear, nn.Conv2d)", layer=name)
        elif isinstance(node, nir.Output):
            if not isinstance(g.nodes[preds[0]], FLOAT_NEURONS):
                raise UnsupportedLayerError("the output must come from a spiking neuron layer", layer=name)
        else:
            raise GraphError(f"node type {type(node).__name__} left after canonicalize", layer=name)


def _rewire_out(g: Graph, name: str) -> None:
    """Remove ``name`` and connect each of its sources to each of its consumers."""
    preds, succs = g.predecessors(name), g.successors(name)
    g.edges = [e for e in g.edges if name not in e]
    for p in preds:
        for s in succs:
            if (p, s) not in g.edges:
                g.edges.append((p, s))
    del g.nodes[name]


def _remove_flatten(g: Graph) -> None:
    for name in [n for n, v in g.nodes.items() if isinstance(v, nir.Flatten)]:
        for p in g.predecessors(name):
            node = g.nodes[p]
            if isinstance(node, nir.Input):
                flat = int(np.prod(node.input_type["input"]))
                g.nodes[p] = nir.Input(input_type={"input": np.array([flat])}, metadata=node.metadata)
        _rewire_out(g, name)


def _discretize(g: Graph) -> None:
    dt = float(g.metadata.get("dt", 1.0))
    reset = g.metadata.get("reset", "zero")
    for name, node in list(g.nodes.items()):
        if not isinstance(node, CONTINUOUS):
            continue
        thr = np.asarray(node.v_threshold, np.float64).reshape(-1)
        v_reset = np.asarray(node.v_reset if node.v_reset is not None else 0.0, np.float64)
        if np.any(v_reset != 0):
            raise UnsupportedLayerError("reset to a non-zero v_reset is not supported", layer=name)
        r = np.broadcast_to(np.asarray(node.r, np.float64).reshape(-1), thr.shape)
        if isinstance(node, nir.IF):
            decay_v, decay_i, gain, bias = np.ones_like(thr), np.zeros_like(thr), dt * r, np.zeros_like(thr)
        else:
            tau = np.asarray(node.tau if isinstance(node, nir.LIF) else node.tau_mem, np.float64).reshape(-1)
            decay_v = 1.0 - dt / tau
            gain = dt * r / tau
            bias = dt * np.asarray(node.v_leak, np.float64).reshape(-1) / tau
            decay_i = np.zeros_like(thr)
            if isinstance(node, nir.CubaLIF):
                tau_syn = np.asarray(node.tau_syn, np.float64).reshape(-1)
                decay_i = 1.0 - dt / tau_syn
                gain = gain * np.asarray(node.w_in, np.float64).reshape(-1) * dt / tau_syn
        for what, val in (("decay_v", decay_v), ("decay_i", decay_i)):
            if np.any(val < 0) or np.any(val > 1):
                raise GraphError(f"dt={dt} gives {what} outside [0, 1] (dt larger than a time constant?)", layer=name)
        meta = dict(node.metadata)
        meta[GAIN_KEY] = np.broadcast_to(gain, thr.shape).astype(np.float64)
        meta.setdefault("snncc.source", f"{name} (nir.{type(node).__name__})")
        g.nodes[name] = LIFNeuron(decay_v=decay_v, decay_i=decay_i, threshold=thr, bias=bias, reset=reset,
                                  metadata=meta)


def _as_affine(node: object) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) of a synapse; a convolution's bias is per output channel."""
    w = np.asarray(node.weight, np.float64)
    has_bias = isinstance(node, (nir.Affine, nir.Conv2d)) and node.bias is not None
    b = np.asarray(node.bias, np.float64) * np.ones(w.shape[0]) if has_bias else np.zeros(w.shape[0])
    return w, b


def _with_weight(node: object, w: np.ndarray, **geometry: object) -> object:
    """The same synapse without bias and with kernel/matrix ``w`` (a convolution keeps its geometry unless
    ``geometry`` overrides fields)."""
    if isinstance(node, nir.Conv2d):
        fields = {"input_shape": node.input_shape, "stride": node.stride, "padding": node.padding,
                  "dilation": node.dilation, "groups": node.groups, **geometry}
        return nir.Conv2d(weight=w, bias=np.zeros(w.shape[0]), metadata=dict(node.metadata), **fields)
    return nir.Linear(weight=w, metadata=dict(node.metadata))


def _pools_to_conv(g: Graph) -> None:
    """Average (sum) pooling of kernel k -> a depthwise convolution with weights 1/(ky kx) (1)."""
    from ..frontend.torch_trace import INPUT_SHAPE_KEY

    for name, node in list(g.nodes.items()):
        if not isinstance(node, POOLS):
            continue
        shape = node.metadata.get(INPUT_SHAPE_KEY)
        if shape is None:
            raise UnsupportedLayerError("a pooling node without its input shape (metadata 'snncc.input_shape')",
                                        layer=name)
        c, h, w = (int(v) for v in shape)
        ky, kx = pair(node.kernel_size)
        weight = 1.0 / (ky * kx) if isinstance(node, nir.AvgPool2d) else 1.0
        meta = {**node.metadata, POOL_KEY: {"kernel": [ky, kx], "weight": weight}}
        g.nodes[name] = nir.Conv2d(input_shape=(h, w), weight=np.full((c, 1, ky, kx), weight), stride=pair(node.stride),
                                   padding=pair(node.padding), dilation=(1, 1), groups=c, bias=np.zeros(c),
                                   metadata=meta)


def _fuse_pools(g: Graph, max_fan_in: int | None = None) -> dict[str, dict]:
    """Fold a pooling (stride == kernel, no padding) into the one synapse it feeds, unless the fused synapse's
    fan-in would exceed ``max_fan_in`` (a core's input axons) while the unfused one fits: such a pooling of binary
    spikes feeds graded relay neurons instead (see :func:`_pool_relay`). Returns the relays inserted."""
    relays = {}
    for name, node in list(g.nodes.items()):
        pool = node.metadata.get(POOL_KEY) if isinstance(node, nir.Conv2d) else None
        succs = g.successors(name)
        if pool is None or len(succs) != 1 or len(g.predecessors(succs[0])) != 1:
            continue
        geom = nir_geometry(node)
        k = geom.kernel
        nxt = g.nodes[succs[0]]
        if geom.stride != k or geom.padding != (0, 0) or not isinstance(nxt, ALL_SYNAPSES):
            continue
        c, h, w = geom.in_shape
        _, hp, wp = geom.out_shape
        fused, unfused = _pool_fan_in(nxt, k)
        if max_fan_in is not None and fused > max_fan_in >= max(unfused, k[0] * k[1]) and _binary_source(g, name):
            relays[name] = _pool_relay(g, name, succs[0], pool)
            relays[name].update(fused_fan_in=fused, input_axons=max_fan_in)
            continue
        if isinstance(nxt, nir.Conv2d):
            ng = nir_geometry(nxt)
            if ng.dilation != (1, 1) or (ng.padding != (0, 0) and (h % k[0] or w % k[1])):
                continue
            kernel = np.repeat(np.repeat(np.asarray(nxt.weight, np.float64), k[0], axis=2), k[1], axis=3)
            fused = _with_weight(nxt, kernel * pool["weight"], input_shape=(h, w),
                                 stride=(ng.stride[0] * k[0], ng.stride[1] * k[1]),
                                 padding=(ng.padding[0] * k[0], ng.padding[1] * k[1]))
            fused.bias = np.asarray(nxt.bias, np.float64) * np.ones(ng.out_channels)
        else:
            wt = np.asarray(nxt.weight, np.float64).reshape(-1, c, hp, wp)
            up = np.zeros((wt.shape[0], c, h, w))
            up[:, :, :hp * k[0], :wp * k[1]] = np.repeat(np.repeat(wt, k[0], axis=2), k[1], axis=3) * pool["weight"]
            fused = nir.Affine(weight=up.reshape(wt.shape[0], -1), metadata=dict(nxt.metadata),
                               bias=_as_affine(nxt)[1])
        fused.metadata["snncc.fused_pool"] = name
        g.nodes[succs[0]] = fused
        _rewire_out(g, name)
    return relays


def _pool_fan_in(nxt: object, k: tuple[int, int]) -> tuple[int, int]:
    """(fused, unfused) inputs of one neuron behind synapse ``nxt`` when a ``k`` pooling is / is not fused into it."""
    if isinstance(nxt, nir.Conv2d):
        ng = nir_geometry(nxt)
        per_pixel = ng.weight_shape[1] * ng.kernel[0] * ng.kernel[1]
        return per_pixel * k[0] * k[1], per_pixel
    n_in = int(np.asarray(nxt.weight).shape[-1])
    return n_in * k[0] * k[1], n_in


def _binary_source(g: Graph, pool: str) -> bool:
    """Whether the pooling reads binary spikes (a neuron layer that is not multi-level), so that a window's count
    is at most its size."""
    (src,) = g.predecessors(pool)
    node = g.nodes[src]
    return isinstance(node, FLOAT_NEURONS) and not isinstance(node, MultiLevelNeuron)


def _pool_relay(g: Graph, pool: str, consumer: str, meta: dict) -> dict:
    """Keep pooling ``pool`` as a layer of its own: a sum over each window into graded relay neurons that send the
    count (a multi-level neuron without memory: threshold 1, ``levels`` = window size), the average's ``1/(ky kx)``
    as their output scale (folded into ``consumer``). Exact: the counts are small integers. It costs one step of
    latency and the pooled map's neurons, and divides the consumer's fan-in by the window size."""
    node = g.nodes[pool]
    geom = nir_geometry(node)
    n, window = geom.out_size, int(np.prod(meta["kernel"]))
    g.nodes[pool] = _with_weight(node, np.ones_like(np.asarray(node.weight, np.float64)))
    relay = f"{pool}_relay"
    g.nodes[relay] = graded_relay(n, window, {"snncc.source": f"graded relay of pooling {pool} (not fused into "
                                                             f"{consumer}: fan-in)", "snncc.pool_relay": pool},
                                  out_scale=float(meta["weight"]))
    g.edges = [e for e in g.edges if e != (pool, consumer)] + [(pool, relay), (relay, consumer)]
    return {"relay": relay, "neurons": n, "levels": window}


def graded_relay(n: int, levels: int, metadata: dict, out_scale: float = 1.0) -> MultiLevelNeuron:
    """``n`` memoryless multi-level neurons of threshold 1 that re-emit an integer input ``z`` in ``0..levels``
    (``floor(z / 1) = z``, nothing left in ``v``), each level worth ``out_scale``."""
    return MultiLevelNeuron(decay_v=np.zeros(n), decay_i=np.zeros(n), threshold=np.ones(n), bias=np.zeros(n),
                            offset=np.zeros(n), out_scale=np.full(n, out_scale), levels=levels, metadata=metadata)


def identity_synapse(n: int, metadata: dict) -> nir.Conv2d:
    """A synapse that passes ``n`` spikes through unchanged: a depthwise 1x1 convolution of weight 1 (no dense
    n x n matrix, whatever the layer's size)."""
    return nir.Conv2d(input_shape=(1, 1), weight=np.ones((n, 1, 1, 1)), stride=1, padding=0, dilation=1, groups=n,
                      bias=np.zeros(n), metadata=metadata)


def _identity_synapses(g: Graph) -> None:
    """A neuron output added straight to a neuron's input current (an identity shortcut) gets an identity synapse."""
    for name, node in list(g.nodes.items()):
        if not isinstance(node, FLOAT_NEURONS):
            continue
        for p in g.predecessors(name):
            if not isinstance(g.nodes[p], FLOAT_NEURONS):
                continue
            ident = f"{p}__to__{name}"
            g.nodes[ident] = identity_synapse(g.nodes[p].threshold.shape[0],
                                              {"snncc.source": f"identity shortcut {p} -> {name}"})
            g.edges = [e for e in g.edges if e != (p, name)] + [(p, ident), (ident, name)]


def _split_multi_source_synapses(g: Graph) -> None:
    """``W (s1 + s2) = W s1 + W s2``: one copy of the synapse per source (SEW spike addition), same consumer."""
    for name, node in list(g.nodes.items()):
        preds = g.predecessors(name)
        if not isinstance(node, ALL_SYNAPSES) or len(preds) <= 1:
            continue
        succs = g.successors(name)
        for p in preds[1:]:
            copy_name = f"{name}__from__{p}"
            g.nodes[copy_name] = copy.deepcopy(node)
            g.edges = [e for e in g.edges if e != (p, name)]
            g.edges += [(p, copy_name)] + [(copy_name, s) for s in succs]


def _merge_synapse_chains(g: Graph) -> None:
    changed = True
    while changed:
        changed = False
        for name, node in list(g.nodes.items()):
            succs = g.successors(name)
            if not isinstance(node, SYNAPSES) or len(succs) != 1:
                continue
            nxt = succs[0]
            if not isinstance(g.nodes[nxt], SYNAPSES) or len(g.predecessors(nxt)) != 1:
                continue
            w1, b1 = _as_affine(node)
            w2, b2 = _as_affine(g.nodes[nxt])
            merged = nir.Affine(weight=w2 @ w1, bias=w2 @ b1 + b2, metadata=dict(g.nodes[nxt].metadata))
            merged.metadata["snncc.merged"] = f"{name} + {nxt}"
            g.nodes[nxt] = merged
            _rewire_out(g, name)
            changed = True
            break


def _split_shared_synapses(g: Graph, pools_only: bool = False) -> None:
    """Give every synapse (or, with ``pools_only``, every pooling) exactly one consumer: each neuron layer quantizes
    its inputs at its own scale, and each synapse after a pooling can absorb its own copy of it."""
    for name, node in list(g.nodes.items()):
        succs = g.successors(name)
        if not isinstance(node, ALL_SYNAPSES) or len(succs) <= 1:
            continue
        if pools_only and not (isinstance(node, nir.Conv2d) and POOL_KEY in node.metadata):
            continue
        preds = g.predecessors(name)
        for s in succs[1:]:
            copy_name = f"{name}__{s}"
            g.nodes[copy_name] = copy.deepcopy(node)
            g.edges = [e for e in g.edges if e != (name, s)]
            g.edges += [(p, copy_name) for p in preds] + [(copy_name, s)]


def _fold_biases_and_gains(g: Graph) -> None:
    for name, node in list(g.nodes.items()):
        if not isinstance(node, ALL_SYNAPSES):
            continue
        (consumer,) = g.successors(name) or [None]
        target = g.nodes.get(consumer)
        w, b = _as_affine(node)
        if isinstance(target, FLOAT_NEURONS):
            gain = np.asarray(target.metadata.get(GAIN_KEY, np.ones(target.threshold.shape[0])), np.float64)
            if isinstance(node, nir.Conv2d):  # per channel: the kernel can only carry a per-channel gain
                positions = gain.size // w.shape[0]
                per_channel = gain.reshape(w.shape[0], positions)
                if np.any(per_channel != per_channel[:, :1]):
                    raise UnsupportedLayerError("a convolution must feed neurons with one input gain per channel",
                                                layer=name)
                w = w * per_channel[:, 0].reshape(-1, 1, 1, 1)
                b = np.repeat(b * per_channel[:, 0], positions)
            else:
                w = w * gain[:, None]
                b = b * gain
            if np.any(b != 0):
                if isinstance(target, BIAS_INTO_VOLTAGE) and np.any(target.decay_i != 0):
                    raise UnsupportedLayerError(
                        "a synapse bias into a neuron with current decay cannot be deployed exactly (the chip adds "
                        "the bias to the voltage, not to the decaying current)", layer=name,
                        hint="use bias=False or current_decay=0")
                target.bias = target.bias + b
        elif np.any(b != 0):
            raise UnsupportedLayerError("a synapse bias must feed a neuron layer", layer=name)
        g.nodes[name] = _with_weight(node, w)
    for node in g.nodes.values():
        if isinstance(node, FLOAT_NEURONS):
            node.metadata.pop(GAIN_KEY, None)


def _fold_out_scales(g: Graph) -> None:
    """A multi-level layer emits ``z * out_scale``; scale the columns of the synapses it feeds instead, so that the
    deployed payload is the integer ``z`` (a layer feeding the output keeps its scale: argmax ignores it)."""
    for name, node in g.nodes.items():
        if not isinstance(node, MultiLevelNeuron) or np.all(node.out_scale == 1.0):
            continue
        succs = g.successors(name)
        if not all(isinstance(g.nodes[s], (nir.Linear, nir.Conv2d)) for s in succs):
            continue
        if any(isinstance(g.nodes[s], nir.Conv2d) for s in succs) and np.unique(node.out_scale).size != 1:
            continue  # a kernel cannot carry per-position scales
        for s in succs:
            syn = g.nodes[s]
            w = np.asarray(syn.weight, np.float64)
            scaled = w * node.out_scale[0] if isinstance(syn, nir.Conv2d) else w * node.out_scale[None, :]
            g.nodes[s] = _with_weight(syn, scaled)
        node.out_scale = np.ones_like(node.out_scale)


def _fold_input_scale(g: Graph) -> None:
    enc = InputEncoding.from_metadata(g.metadata)
    if enc.scale == 1.0 or g.metadata.get("input", {}).get("scale_folded"):
        return
    for s in g.successors(g.input_names[0]):
        node = g.nodes[s]
        g.nodes[s] = _with_weight(node, np.asarray(node.weight, np.float64) * enc.scale)
    g.metadata["input"] = {**enc.to_dict(), "scale_folded": True}
