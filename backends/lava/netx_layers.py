"""What lava-dl netx (0.6.0) can describe of a quantized graph, and the integer values its file must hold.

netx describes a *chain* of ``conv`` then ``dense`` blocks of CUBA neurons. One kind of recurrence is in it: a
``dense_rec`` block (``hdf5.create_dense(rec=True)``, ``blocks.process.RecurrentDense``) whose neurons' own spikes
feed back into them through ``weight_rec``, one step late, as an snncc recurrent ``QDense`` whose source and target
are the same layer. netx quantizes ``weight`` and ``weight_rec`` together (``optimize_weight_bits`` of the two side
by side: one exponent and one ``num_weight_bits``), then each is a Lava ``Dense`` that infers its own sign mode; a
file is written only when that reproduces both synapses exactly. netx builds the recurrent synapse with the block's
*input* message bits (graded only where the block's input is), and its ``LIFReset`` runs from the first step of a
Lava run: a ``dense_rec`` layer that spikes in the step before its first reset (driven by its or an earlier block's
bias) would feed that spike into its window, where snncc's layers start silent; such a graph is refused
(:func:`silent_before_window`). Each refusal is an :class:`UnsupportedLayerError` naming the layer and the reason.
"""

from __future__ import annotations

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.lava.conv_encoding import INT32_LIMIT, lava_conv_args, lava_groups, max_abs_sum, regroup
from snncc.compat.lava import import_netx
from snncc.errors import UnsupportedLayerError
from snncc.families import REGISTRY
from snncc.ir import Graph, IntegerNeuron, QConv, QDense, type_name
from snncc.ir.timing import feedback_delay


def _netx_neuron(graph: Graph, name: str) -> bool:
    node = graph.nodes[name]
    return isinstance(node, IntegerNeuron) and REGISTRY.of(node, name).netx_neurons


def netx_chain(graph: Graph) -> list[tuple[str, str]]:
    """The (QConv or QDense, neuron layer) pairs from the input to the output, or UnsupportedLayerError if not a
    plain chain (convolutions first, each reading the previous one's feature map). Recurrent synapses are left
    out of the walk: :func:`netx_recurrence` says which of them netx describes."""
    for name, node in graph.nodes.items():
        if not (isinstance(node, (nir.Input, nir.Output, QDense, QConv)) or _netx_neuron(graph, name)):
            raise UnsupportedLayerError(f"netx export needs a graph of QConv, QDense and netx's CUBA neurons; this "
                                        f"node is {type_name(node)}", layer=name)
    if len(graph.output_names) != 1:
        raise UnsupportedLayerError("netx describes one output; the graph has "
                                    f"{len(graph.output_names)}", layer=graph.output_names[-1])

    for name in graph.nodes:
        if graph.is_recurrent(name) and feedback_delay(graph, name) > 1:
            raise UnsupportedLayerError(f"netx's dense_rec feeds spikes back after one step; this loop was trained "
                                        f"with delay={feedback_delay(graph, name)} (relays on its feedback path)",
                                        layer=name)

    def forward(names: list[str]) -> list[str]:
        return [n for n in names if not graph.is_recurrent(n)]

    chain = []
    prev = graph.input_names[0]
    while True:
        succ = forward(graph.successors(prev))
        if len(succ) != 1:
            raise UnsupportedLayerError(f"netx describes a chain of layers; '{prev}' feeds {len(succ)} nodes",
                                        layer=prev)
        syn = succ[0]
        if isinstance(graph.nodes[syn], nir.Output):
            break
        if not isinstance(graph.nodes[syn], (QDense, QConv)):
            raise UnsupportedLayerError(f"expected a synapse after '{prev}'", layer=syn)
        nxt = graph.successors(syn)
        if len(nxt) != 1 or not _netx_neuron(graph, nxt[0]):
            raise UnsupportedLayerError("netx needs each synapse to feed exactly one neuron layer", layer=syn)
        neuron = nxt[0]
        if forward(graph.predecessors(neuron)) != [syn]:
            raise UnsupportedLayerError("netx has no fan-in: a neuron layer takes one synapse only", layer=neuron)
        chain.append((syn, neuron))
        prev = neuron
    if not chain:
        raise UnsupportedLayerError("netx needs at least one dense layer", layer=graph.output_names[0])
    _check_conv_prefix(graph, chain)
    return chain


def netx_recurrence(graph: Graph, chain: list[tuple[str, str]]) -> dict[str, str]:
    """Neuron layer -> its recurrent synapse, for every recurrent synapse of ``graph``, when each is one netx's
    ``dense_rec`` describes: a dense synapse from a dense-fed layer of the chain back into that same layer, one per
    layer. UnsupportedLayerError naming the synapse otherwise."""
    ff = {neuron: syn for syn, neuron in chain}
    out: dict[str, str] = {}
    for name, node in graph.nodes.items():
        if not graph.is_recurrent(name):
            continue
        (src,) = graph.predecessors(name)
        targets = graph.successors(name)
        dst = targets[0] if len(targets) == 1 else None
        if dst != src:
            into = " and ".join(targets)
            raise UnsupportedLayerError(f"netx's dense_rec feeds a layer's own spikes back; this synapse feeds "
                                        f"{src}'s spikes into {into}", layer=name)
        if not isinstance(node, QDense):
            raise UnsupportedLayerError(f"netx's dense_rec has a dense weight_rec; this recurrent synapse is a "
                                        f"{type_name(node)}", layer=name)
        if src not in ff or isinstance(graph.nodes[ff[src]], QConv):
            raise UnsupportedLayerError(f"netx's dense_rec is a dense block; this recurrent synapse feeds back the "
                                        f"conv layer {src}", layer=name)
        if src in out:
            raise UnsupportedLayerError(f"netx's dense_rec holds one weight_rec per layer; {src} has a second "
                                        f"recurrent synapse ({out[src]} is the first)", layer=name)
        out[src] = name
    return out


def _check_conv_prefix(graph: Graph, chain: list[tuple[str, str]]) -> None:
    """netx gives a conv layer the (W, H, C) shape of the layer before it: convolutions must come first, each
    reading the feature map the previous one wrote (the input's shape is the first one's)."""
    shape: tuple[int, ...] | None = None
    for i, (syn, _) in enumerate(chain):
        node = graph.nodes[syn]
        if not isinstance(node, QConv):
            shape = ()
            continue
        if shape == ():
            raise UnsupportedLayerError("netx feeds a conv layer from a conv layer or the input only; this one "
                                        "follows a dense layer", layer=syn)
        if i and tuple(node.input_shape) != shape:
            raise UnsupportedLayerError(f"netx passes the previous conv layer's map {shape} on unchanged; this "
                                        f"convolution reads it as {tuple(node.input_shape)}", layer=syn)
        shape = node.geometry.out_shape


# ---- weights ----------------------------------------------------------------------------------------------------
def effective_weight(node: QDense, name: str) -> np.ndarray:
    """``node``'s integer weights with its exponent folded in (netx files have no weight exponent)."""
    w = node.weight.astype(np.int64)
    e = node.weight_exp
    if e < 0 and np.any(w % (1 << -e)):
        raise UnsupportedLayerError(f"netx has no weight exponent: weight_exp={e} floors the summed input, which "
                                    f"integer weights cannot express (mantissas are not multiples of {1 << -e})",
                                    layer=name)
    return w << e if e >= 0 else w >> -e


def netx_weight(node: QDense, name: str) -> np.ndarray:
    """The integer weights netx must store so that its own quantization gives back ``node`` exactly."""
    weight = effective_weight(node, name)
    reason = netx_quantization_error([weight])
    if reason:
        raise UnsupportedLayerError(reason, layer=name)
    return weight


def netx_rec_weights(graph: Graph, syn: str, rec: str) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` and ``weight_rec`` of a ``dense_rec`` block: the two synapses' effective weights, when netx's
    joint quantization (one exponent for both) reproduces both exactly."""
    weight, weight_rec = effective_weight(graph.nodes[syn], syn), effective_weight(graph.nodes[rec], rec)
    reason = netx_quantization_error([weight, weight_rec])
    if reason:
        raise UnsupportedLayerError(f"{reason} (netx quantizes {syn} and the recurrent {rec} together, one "
                                    "exponent for both)", layer=rec)
    return weight, weight_rec


def netx_conv_weight(node: QConv, name: str, max_payload: int) -> tuple[np.ndarray, int]:
    """The kernel netx must store (PyTorch layout, ``2**weight_exp`` folded in) and its groups, regrouped to fit
    Lava's int8 ``groups`` (see :mod:`snncc.backends.lava.conv_encoding`)."""
    try:
        lava_conv_args(node.weight, node.weight_exp, node.input_shape, node.stride, node.padding, node.dilation,
                       node.groups)
    except ValueError as exc:
        raise UnsupportedLayerError(str(exc), layer=name) from None
    if max_abs_sum(node.weight, node.weight_exp, max_payload) >= INT32_LIMIT:
        raise UnsupportedLayerError("a convolution sum can reach 2**31, beyond the int32 of Lava's Conv", layer=name)
    groups = lava_groups(node.groups)
    return regroup(node.weight.astype(np.int64), node.groups, groups) << node.weight_exp, groups


def netx_quantization(parts: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """What Lava's Dense synapses compute from a block's file weights ``parts`` (``weight``, then ``weight_rec`` of
    a ``dense_rec``): netx's ``optimize_weight_bits`` of the parts side by side (one exponent), then each part's
    Dense clips and truncates it under the sign mode Lava infers from it (netx passes none). Returns each part's
    Lava weights and the shared exponent: a part's effective synapse is ``w_lava * 2**exp``."""
    import_netx()
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    joint = np.hstack([p.astype(np.int64) for p in parts])
    with np.errstate(divide="ignore"):  # netx divides by a zero max/min weight of a single-sign matrix
        w_opt, num_weight_bits, weight_exp, _ = optimize_weight_bits(joint)
    out, start = [], 0
    for p in parts:
        w = w_opt[:, start:start + p.shape[1]]
        start += p.shape[1]
        mode = determine_sign_mode(w)
        out.append(truncate_weights(clip_weights(w, mode, num_bits=8), mode, num_weight_bits).astype(np.int64))
    return out, int(weight_exp)


def netx_quantization_error(parts: list[np.ndarray]) -> str | None:
    """Why netx + Lava's Dense would not reproduce the integer weights ``parts`` exactly (None if they do)."""
    joint = np.hstack([p.astype(np.int64) for p in parts])
    lo, hi = int(joint.min()), int(joint.max())
    if lo == hi == 0:
        return "netx cannot quantize an all-zero weight matrix (its optimize_weight_bits divides by zero)"
    if (hi > 254 and lo < 0) or (lo < -256 and hi > 0):
        return f"effective weights [{lo}, {hi}] exceed netx's mixed-sign range [-256, 254]"
    lava, weight_exp = netx_quantization(parts)
    if weight_exp > 0:  # netx shifts left by a negative count: weights beyond 8 bits + sign are not representable
        return f"effective weights [{lo}, {hi}] exceed the 8-bit magnitude of a single-sign Lava synapse"
    for w, p in zip(lava, parts, strict=True):
        if not np.array_equal(w, p.astype(np.int64) << -weight_exp):
            return (f"netx's weight quantization does not reproduce effective weights [{int(p.min())}, "
                    f"{int(p.max())}] exactly")
    return None


# ---- time -------------------------------------------------------------------------------------------------------
def silent_before_window(graph: Graph, chain: list[tuple[str, str]], recurrence: dict[str, str]) -> None:
    """UnsupportedLayerError naming a ``dense_rec`` layer that spikes in the step before its first reset.

    In a Lava run netx's block ``k`` (``k + 1`` synapses deep) runs from step 0 and is reset at step ``k + 1``,
    when its input's first step arrives. Before that it integrates its bias and the earlier blocks' spikes, which
    depend on nothing but the biases (the input reaches block 0 at step 1), so those steps are simulated here with
    the layers' own integer rule. A spike a ``dense_rec`` layer sends at step ``k`` reaches it after its reset, in
    the first step of its window, where snncc's layer receives nothing from itself.
    """
    if not recurrence:
        return
    fmt = fx.DEFAULT_FORMAT
    states = {n: graph.nodes[n].integer_state(1) for _, n in chain}
    sent = {n: np.zeros((1, graph.nodes[n].size), np.int64) for _, n in chain}
    for step in range(len(chain)):
        now = {}
        for k, (syn, neuron) in enumerate(chain[step:], start=step):  # blocks still before their first reset
            node = graph.nodes[neuron]
            a = np.zeros((1, node.size), np.int64)
            if k:
                a = a + graph.nodes[syn].accumulate(sent[chain[k - 1][1]])
            if neuron in recurrence:
                a = a + graph.nodes[recurrence[neuron]].accumulate(sent[neuron])
            now[neuron] = np.asarray(node.integer_step(states[neuron], a, fmt), np.int64)
        _, last = chain[step]  # block `step` is at its last step before the reset
        if last in recurrence and now[last].any():
            raise UnsupportedLayerError(
                f"netx runs this dense_rec layer from the first step of a run: its bias (or an earlier layer's) "
                f"makes it spike at step {step}, the step before its first reset, and netx feeds that spike into "
                "its window, where snncc's layer starts silent", layer=last,
                hint="a layer with a recurrent synapse exports to netx without biases that fire it on their own")
        sent.update(now)
