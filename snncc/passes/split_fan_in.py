"""split-fan-in: cut a neuron layer's fan-in that exceeds a core's input axons into exact partial sums.

A core holds every input axon its neurons read (``core_limits.input_axons``); a neuron reading more cannot be
placed, however its layer is cut. This pass (after quantize: it needs the integer weights and the target's limit)
rewrites every layer ``L`` whose fan-in exceeds the limit. Each synapse ``s`` into ``L`` (the recurrent ones stay)
becomes three nodes:

* a **partial synapse** (named ``s``) with the same mantissas and ``weight_exp = 0``, its inputs cut into ``K``
  equal chunks of at most the limit: a grouped convolution with ``K`` groups (a dense synapse over its source seen
  as a ``(m, 1, 1)`` map; a convolution over its input channels); relay ``k * n + i`` sums chunk ``k`` of neuron
  ``i``'s inputs;
* a layer of ``K * n`` **signed relays** (``s__sums``, :mod:`snncc.families.partial_sum`) re-emitting the raw partial
  sums one step later as signed graded payloads;
* one **summing synapse** (``s__total``) from all ``K`` relays into ``L``: a ``K x 1`` kernel of ones over the relays
  seen as a ``(1, K, n)`` map, graded, carrying the original exponent, so ``L`` receives
  ``shift_floor(sum_k p_k, e) = shift_floor(total, e)``, the unsplit input bit for bit (the exponent is applied
  once: a floor of a sum is not the sum of floors). Its fan-in is ``K`` per neuron.

Exactness needs every partial sum inside the graded payload range and no 24-bit convolution wrap
(:func:`snncc.fixedpoint.conv_accumulate`) in the split or the unsplit form; both are proven from the weights and
the source's payload range (1 for binary spikes), or the layer is refused with a ResourceError naming the layer,
the limit and by how much. ``L`` and everything after it fire one step later: the paths that meet them are
rebalanced with relay stages (:func:`snncc.passes.balance_latency.balance_paths`), and a loop through ``L`` that no
longer takes the trained model's time is refused, naming the loop. What was split goes to
``ctx.notes['split-fan-in']``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import fixedpoint as fx
from ..errors import GraphError, ResourceError, UnsupportedLayerError
from ..families.relay import signed_relay, signed_relays
from ..ir import Graph, IntegerNeuron, QConv, QDense, keys
from ..ir.timing import loop_latencies
from ..mapping.layers import fan_in, is_flat, neuron_layers
from ..target import Target
from .balance_latency import balance_paths, check_loops, payload_levels
from .base import Pass, PassContext
from .options import option

ACC_BITS = fx.STATE_BITS  # Lava's Conv wraps its sum to signed 24 bits


@dataclass
class SplitFanIn(Pass):
    name = "split-fan-in"
    option_error = ResourceError
    fan_in_split: Literal["on", "off"] = option(
        "on", cli="--fan-in-split",
        help="cut a fan-in beyond a core's input axons into exact partial sums carried by signed graded relays (one "
             "step more for the layer and what follows it), or refuse such a layer (off)")

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if not graph.metadata.get(keys.QUANTIZED):
            raise GraphError("split-fan-in needs a quantized graph (run quantize first)")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        limit = input_axons(ctx.target)
        notes: dict[str, Any] = {"enabled": self.fan_in_split == "on", "input_axons": limit, "layers": {},
                                 "delays": {}, "relay_neurons": 0}
        ctx.notes[self.name] = notes
        if self.fan_in_split == "off" or limit is None:
            return g
        wide = [(n, fan_in(g, n)) for n in neuron_layers(g)]
        wide = [(n, f) for n, f in wide if f > limit]
        if not wide:
            return g
        if not signed_relays(ctx.target):
            name, f = wide[0]
            raise ResourceError(
                f"fan-in {f} exceeds the {limit} input axons of a core (core_limits.input_axons), and splitting it "
                f"into partial sums needs signed graded relays, which target '{ctx.target.name}' does not run "
                f"(formats.graded_payload_bits = {ctx.target.value('formats', 'graded_payload_bits')}, primitive "
                "signed_relay)", layer=name, hint="reduce the fan-in, or compile for a target with graded spikes")
        payload_max = (1 << (int(ctx.target.value("formats", "graded_payload_bits")) - 1)) - 1
        loops = {(syn, target): deployed for syn, _src, target, _trained, deployed in loop_latencies(g)}
        for name, f in wide:
            notes["layers"][name] = split_layer(g, name, f, limit, min(payload_max, (1 << (ACC_BITS - 1)) - 1))
        notes["delays"] = balance_paths(g, IntegerNeuron, integer_stage, loops=False)
        # a loop through a split layer takes longer now: refused unless that is what the model waits (the others,
        # in an integer import even a loop the chip runs faster than its model, stay as they were)
        check_loops(g, {syn for syn, _src, target, _trained, deployed in loop_latencies(g)
                        if loops.get((syn, target)) != deployed})
        notes["relay_neurons"] = (sum(lay["relay_neurons"] for lay in notes["layers"].values())
                                  + sum(d["relay_neurons"] for d in notes["delays"].values()))
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        limit = input_axons(ctx.target)
        if self.fan_in_split == "on" and limit is not None and ctx.notes.get(self.name, {}).get("layers"):
            for name in neuron_layers(graph):
                if fan_in(graph, name) > limit:
                    raise GraphError(f"fan-in {fan_in(graph, name)} still exceeds {limit} after splitting",
                                     layer=name)


def input_axons(target: Target) -> int | None:
    """The target's input axons per core (None: no such limit)."""
    fig = target.figures.get("core_limits", {}).get("input_axons")
    return None if fig is None else int(fig.value)


def integer_stage(n: int, source: str, levels: int | None) -> tuple[QConv, Any]:
    """An integer relay stage (rebalancing after a split): a depthwise 1x1 identity convolution (exponent 0) into
    ``n`` signed relays, binary or graded like ``source``."""
    meta = {keys.RELAY: source}
    syn = QConv(weight=np.ones((n, 1, 1, 1), np.int64), input_shape=(n, 1, 1), groups=n, weight_exp=0,
                graded=levels is not None, metadata={**meta, keys.SOURCE: f"relay synapse of {source}"})
    return syn, signed_relay(n, levels, {**meta, keys.SOURCE: f"relay of {source}"})


def chunks(m: int, per_chunk: int, cap: int) -> int | None:
    """The fewest equal chunks ``K`` (a divisor of ``m``) of ``m`` input groups, each ``per_chunk`` inputs wide,
    with ``(m / K) * per_chunk <= cap`` (None: no such K)."""
    return next((k for k in range(1, m + 1) if m % k == 0 and (m // k) * per_chunk <= cap), None)


def split_layer(g: Graph, layer: str, fan: int, limit: int, payload_max: int) -> dict[str, Any]:
    """Split every non-recurrent synapse into ``layer`` (in place); returns the layer's note."""
    n = g.nodes[layer].size
    synapses = [s for s in g.predecessors(layer) if not g.is_recurrent(s)]
    kept = 0
    for s in g.predecessors(layer):
        node = g.nodes[s]
        if not g.is_recurrent(s):
            continue
        if isinstance(node, QConv) and not is_flat(node.geometry):
            raise UnsupportedLayerError(f"fan-in {fan} exceeds the {limit} input axons of a core, and its recurrent "
                                        f"convolution '{s}' keeps a feature map the split layer no longer has",
                                        layer=layer, hint="feed the layer back through a dense synapse")
        kept += fan_in_of(node)
    # chunks of half the limit where the layer's fan-in still fits: the partitioner bounds a tile of a grouped
    # convolution's output channels by two groups' inputs (mapping.axes.max_in_channels), so chunks up to the whole
    # limit would leave one relay channel per core; half lets a core hold many
    plans = {s: _plan(g, layer, fan, s, limit, payload_max, half=True) for s in synapses}
    if kept + sum(p["chunks"] for p in plans.values()) > limit:
        plans = {s: _plan(g, layer, fan, s, limit, payload_max) for s in synapses}
    total = kept + sum(p["chunks"] for p in plans.values())
    if total > limit:
        raise ResourceError(f"fan-in {fan} exceeds the {limit} input axons of a core, and split into partial sums "
                            f"it still reads {total} (recurrent inputs {kept}, one input per chunk): "
                            f"{total - limit} too many", layer=layer, hint="reduce the fan-in")
    for s, plan in plans.items():
        plan["relay"] = _rewrite(g, layer, s, n, plan)
    return {"fan_in": fan, "input_axons": limit, "fan_in_after": total, "synapses": {
        s: {k: plan[k] for k in ("chunks", "chunk_fan_in", "relay", "relay_neurons", "max_partial_sum")}
        for s, plan in plans.items()}, "relay_neurons": sum(p["relay_neurons"] for p in plans.values())}


def fan_in_of(node: QDense | QConv) -> int:
    """Inputs one neuron reads through synapse ``node``."""
    if isinstance(node, QConv):
        w = node.geometry.weight_shape
        return w[1] * w[2] * w[3]
    return int(node.weight.shape[1])


def _plan(g: Graph, layer: str, fan: int, s: str, limit: int, payload_max: int, half: bool = False) -> dict[str, Any]:
    """How synapse ``s`` is cut into ``chunks`` (of at most half the limit with ``half``, where it can be) and the
    proof that its partial sums and total fit; ResourceError naming the layer, the limit and the excess otherwise."""
    node = g.nodes[s]
    (src,) = g.predecessors(s)
    levels = payload_levels(g, src) if node.graded else None
    payload = 1 if levels is None else int(levels)
    if isinstance(node, QDense):
        w = node.weight
        m = w.shape[1]
        k = (half and chunks(m, 1, limit // 2)) or chunks(m, 1, limit)
        width = m // k if k else m
        abs_chunks = np.abs(w).reshape(w.shape[0], k or 1, -1).sum(axis=2) if k else None
    else:
        geom = node.geometry
        taps = geom.kernel[0] * geom.kernel[1]
        k = (((half and chunks(geom.in_shape[0], taps, limit // 2)) or chunks(geom.in_shape[0], taps, limit))
             if geom.groups == 1 else (1 if fan_in_of(node) <= limit else None))
        width = fan_in_of(node) // (k or 1)
        w = node.weight
        abs_chunks = (np.abs(w).reshape(w.shape[0], k, -1).sum(axis=2) if k else None)
    if k is None:
        why = ("a grouped convolution's groups are not cut" if isinstance(node, QConv) and node.groups > 1 else
               "its inputs do not cut into equal chunks within the limit")
        raise ResourceError(f"fan-in {fan} exceeds the {limit} input axons of a core and cannot be split: synapse "
                            f"'{s}' ({fan_in_of(node)} inputs): {why}", layer=layer, hint="reduce the fan-in")
    partial = int(abs_chunks.max(initial=0)) * payload
    if partial > payload_max:
        raise ResourceError(f"fan-in {fan} exceeds the {limit} input axons of a core and cannot be split exactly: a "
                            f"partial sum of synapse '{s}' can reach {partial}, beyond the {payload_max} a signed "
                            f"graded payload holds (formats.graded_payload_bits) by {partial - payload_max}",
                            layer=layer, hint="reduce the weights or the input range, or the fan-in")
    total = int(abs_chunks.sum(axis=1).max(initial=0)) * payload
    lo, hi = int(fx.shift_floor(-total, node.weight_exp)), int(fx.shift_floor(total, node.weight_exp))
    half = 1 << (ACC_BITS - 1)
    if hi > half - 1 or lo < -half:
        over = max(hi - (half - 1), -half - lo)
        raise ResourceError(f"fan-in {fan} exceeds the {limit} input axons of a core and cannot be split exactly: "
                            f"the input of synapse '{s}' can reach {max(hi, -lo)} (exponent {node.weight_exp}), "
                            f"beyond the 24-bit accumulator that sums its partial sums by {over}", layer=layer,
                            hint="reduce the weights, the exponent or the input range, or the fan-in")
    return {"chunks": k, "chunk_fan_in": width, "relay_neurons": k * node.weight.shape[0]
            if isinstance(node, QDense) else k * node.geometry.out_size, "max_partial_sum": partial}


def _rewrite(g: Graph, layer: str, s: str, n: int, plan: dict[str, Any]) -> str:
    """Replace synapse ``s -> layer`` by the partial synapse, its relays and the summing synapse (in place); returns
    the relay layer's name. The partial synapse takes the name ``s`` unless ``s`` also feeds other layers."""
    node = g.nodes[s]
    (src,) = g.predecessors(s)
    shared = len(g.successors(s)) > 1
    name = f"{s}__{layer}" if shared else s
    k, relay, total = plan["chunks"], f"{name}__sums", f"{name}__total"
    meta = {**node.metadata, keys.SOURCE: f"partial sums of {s} ({k} chunks)"}
    if k == 1:
        partial: QDense | QConv = (QDense(weight=node.weight, weight_exp=0, graded=node.graded, metadata=meta)
                                   if isinstance(node, QDense) else
                                   QConv(weight=node.weight, input_shape=node.input_shape, stride=node.stride,
                                         padding=node.padding, dilation=node.dilation, groups=node.groups,
                                         weight_exp=0, graded=node.graded, metadata=meta))
    elif isinstance(node, QDense):  # relay k*n + i = W[i, chunk k] . x[chunk k]
        m = node.weight.shape[1]
        kernel = node.weight.reshape(n, k, m // k).transpose(1, 0, 2).reshape(k * n, m // k, 1, 1)
        partial = QConv(weight=kernel, input_shape=(m, 1, 1), groups=k, weight_exp=0, graded=node.graded,
                        metadata=meta)
    else:  # relay (k*C_out + o, y, x) = W[o, chunk k] * x[chunk k] at (y, x)
        c_out, c_in = node.weight.shape[:2]
        kernel = node.weight.reshape(c_out, k, c_in // k, *node.weight.shape[2:]).transpose(1, 0, 2, 3, 4)
        partial = QConv(weight=kernel.reshape(k * c_out, c_in // k, *node.weight.shape[2:]),
                        input_shape=node.input_shape, stride=node.stride, padding=node.padding,
                        dilation=node.dilation, groups=k, weight_exp=0, graded=node.graded, metadata=meta)
    g.nodes[name] = partial
    g.nodes[relay] = signed_relay(k * n, max(plan["max_partial_sum"], 1),
                                  {keys.RELAY: s, keys.SOURCE: f"partial sums of {s} into {layer}"})
    g.nodes[total] = QConv(weight=np.ones((1, 1, k, 1), np.int64), input_shape=(1, k, n), weight_exp=node.weight_exp,
                           graded=True, metadata={keys.RELAY: s, keys.SOURCE: f"sum of the partial sums of {s}"})
    g.edges = ([e for e in g.edges if e != (s, layer)] + ([(src, name)] if shared else [])
               + [(name, relay), (relay, total), (total, layer)])
    return relay

