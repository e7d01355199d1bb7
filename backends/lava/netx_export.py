"""Export a quantized graph as a lava-dl netx HDF5 network, and run such a file in Lava.

netx (lava-dl 0.6.0, ``lava/lib/dl/netx``) describes a *chain* of ``conv`` then ``dense`` layers of CUBA neurons
with hard reset. It maps a dense layer to ``Dense(optimize_weight_bits(weight))`` -> ``LIF(du=iDecay-1, dv=vDecay,
vth=vThMant, bias_mant=bias, bias_exp=6)``; it has no weight exponent, no per-neuron bias exponent and no soft
reset. A conv layer is Lava's ``Conv`` with the file's PyTorch-layout kernel flipped and transposed (as
:mod:`snncc.backends.lava.conv_encoding` does; Lava's ``Conv`` uses the weights as given, so ``2**weight_exp`` is
folded in) and neurons in Lava's (W, H, C) layout; a ``flatten`` layer before the first dense layer flattens in
CHW order. A graph is exported only when the file reproduces it bit for bit; otherwise :func:`write_netx` raises
:class:`UnsupportedLayerError` naming the layer and the reason.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import h5py
import nir
import numpy as np

from snncc.backends.base import Exporter, check_inputs
from snncc.backends.lava.conv_encoding import INT32_LIMIT, LAVA_AXES, lava_conv_args, lava_groups, max_abs_sum, regroup
from snncc.backends.lava.execution import (
    GRADED_MESSAGE_BITS,
    build_result,
    cut_windows,
    num_lava_steps,
    recording_path,
    run_and_stop,
    source_data,
)
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava, import_netx
from snncc.errors import BackendUnavailableError, GraphError, UnsupportedLayerError
from snncc.families import REGISTRY
from snncc.ir import Graph, InputEncoding, IntegerNeuron, QConv, QDense, keys, type_name

NETX_FILE = "network.net"


def _netx_neuron(graph: Graph, name: str) -> bool:
    node = graph.nodes[name]
    return isinstance(node, IntegerNeuron) and REGISTRY.of(node, name).netx_neurons


def netx_chain(graph: Graph) -> list[tuple[str, str]]:
    """The (QConv or QDense, neuron layer) pairs from the input to the output, or UnsupportedLayerError if not a
    plain chain (convolutions first, each reading the previous one's feature map)."""
    for name, node in graph.nodes.items():
        if not (isinstance(node, (nir.Input, nir.Output, QDense, QConv)) or _netx_neuron(graph, name)):
            raise UnsupportedLayerError(f"netx export needs a graph of QConv, QDense and netx's CUBA neurons; this "
                                        f"node is {type_name(node)}", layer=name)
        if graph.is_recurrent(name):
            raise UnsupportedLayerError("netx describes feed-forward chains; this synapse is recurrent", layer=name)
    if len(graph.output_names) != 1:
        raise UnsupportedLayerError("netx describes one output; the graph has "
                                    f"{len(graph.output_names)}", layer=graph.output_names[-1])
    chain = []
    prev = graph.input_names[0]
    while True:
        succ = graph.successors(prev)
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
        if graph.predecessors(neuron) != [syn]:
            raise UnsupportedLayerError("netx has no fan-in: a neuron layer takes one synapse only", layer=neuron)
        chain.append((syn, neuron))
        prev = neuron
    if not chain:
        raise UnsupportedLayerError("netx needs at least one dense layer", layer=graph.output_names[0])
    _check_conv_prefix(graph, chain)
    return chain


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


def netx_weight(node: QDense, name: str) -> np.ndarray:
    """The integer weights netx must store so that its own quantization gives back ``node`` exactly."""
    w = node.weight.astype(np.int64)
    e = node.weight_exp
    if e < 0 and np.any(w % (1 << -e)):
        raise UnsupportedLayerError(f"netx has no weight exponent: weight_exp={e} floors the summed input, which "
                                    f"integer weights cannot express (mantissas are not multiples of {1 << -e})",
                                    layer=name)
    weight = w << e if e >= 0 else w >> -e
    reason = _netx_quantization_error(weight)
    if reason:
        raise UnsupportedLayerError(reason, layer=name)
    return weight


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


def _netx_quantization_error(weight: np.ndarray) -> str | None:
    """Why netx + Lava's Dense would not reproduce integer ``weight`` exactly (None if they do).

    Replays what happens to the file's weights: netx's ``optimize_weight_bits`` (shift, weight_exp,
    num_weight_bits), then Dense's first-step ``clip_weights``/``truncate_weights`` under the sign mode Lava infers
    (netx does not pass one), and compares the effective synapse with ``weight``.
    """
    lo, hi = int(weight.min()), int(weight.max())
    if lo == hi == 0:
        return "netx cannot quantize an all-zero weight matrix (its optimize_weight_bits divides by zero)"
    if (hi > 254 and lo < 0) or (lo < -256 and hi > 0):
        return f"effective weights [{lo}, {hi}] exceed netx's mixed-sign range [-256, 254]"
    import_netx()
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    with np.errstate(divide="ignore"):  # netx divides by a zero max/min weight of a single-sign matrix
        w_opt, num_weight_bits, weight_exp, _ = optimize_weight_bits(weight.astype(np.int64))
    if weight_exp > 0:  # netx shifts left by a negative count: weights beyond 8 bits + sign are not representable
        return f"effective weights [{lo}, {hi}] exceed the 8-bit magnitude of a single-sign Lava synapse"
    sign_mode = determine_sign_mode(w_opt)
    w_lava = truncate_weights(clip_weights(w_opt, sign_mode, num_bits=8), sign_mode, num_weight_bits).astype(np.int64)
    if not np.array_equal(w_lava, weight << -weight_exp):
        return f"netx's weight quantization does not reproduce effective weights [{lo}, {hi}] exactly"
    return None


def netx_expressible(graph: Graph) -> str | None:
    """None if :func:`write_netx` can export ``graph`` exactly, else the reason (naming the layer)."""
    try:
        _netx_layers(graph)
    except UnsupportedLayerError as exc:
        return str(exc)
    return None


def _netx_layers(graph: Graph) -> list[dict]:
    layers = []
    encoding = InputEncoding.from_metadata(graph.metadata)
    for syn, neuron in netx_chain(graph):
        node = graph.nodes[neuron]
        layer = {**REGISTRY.of(node, neuron).netx_neuron(node, neuron), "names": (syn, neuron)}
        syn_node = graph.nodes[syn]
        if isinstance(syn_node, QConv):
            payload = encoding.max_value if syn_node.graded and not layers and encoding.graded else 1
            layer["weight"], layer["groups"] = netx_conv_weight(syn_node, syn, payload)
            layer.update(conv=syn_node, bias=layer["bias"].reshape(syn_node.geometry.out_shape).transpose(LAVA_AXES))
        else:
            layer["weight"] = netx_weight(syn_node, syn)
        layers.append(layer)
    return layers


def _s10(group: h5py.Group, name: str, text: str) -> None:
    group.create_dataset(name, (1,), "S10", [text.encode("ascii")])


def write_netx(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` as a netx HDF5 file: an ``input`` layer, then one CUBA ``conv`` layer per QConv -> neurons
    and one CUBA ``dense`` layer per QDense -> neurons (a ``flatten`` layer between the two kinds).

    Raises UnsupportedLayerError (naming the layer) if netx cannot reproduce the graph bit for bit.
    """
    layers = _netx_layers(graph)
    path = Path(path)
    n_in = int(np.prod(graph.nodes[graph.input_names[0]].input_type["input"]))
    first = layers[0].get("conv")
    with h5py.File(path, "w") as f:
        top = f.create_group("layer")
        g = top.create_group("0")
        _s10(g, "type", "input")
        g.create_dataset("shape", data=np.array(first.input_shape if first else [n_in]))  # netx reverses: (W, H, C)
        index, after_conv = 1, False
        for layer in layers:
            conv = layer.get("conv")
            if conv is None and after_conv:
                _s10(top.create_group(str(index)), "type", "flatten")  # netx: transpose([2, 1, 0]).flatten(), CHW
                index += 1
            after_conv = conv is not None
            g = top.create_group(str(index))
            index += 1
            if conv is not None:
                _s10(g, "type", "conv")
                g.create_dataset("shape", data=np.array(conv.geometry.out_shape))
                for key in ("stride", "padding", "dilation"):  # (y, x); netx reverses them to Lava's (x, y)
                    g.create_dataset(key, data=np.array(getattr(conv, key)))
                g.create_dataset("groups", data=int(layer["groups"]))
            else:
                _s10(g, "type", "dense")
                g.create_dataset("shape", data=np.array([layer["weight"].shape[0]]))
            g.create_dataset("weight", data=layer["weight"])
            g.create_dataset("bias", data=layer["bias"])
            neuron = g.create_group("neuron")
            neuron.create_dataset("type", data="CUBA")
            for key in ("iDecay", "vDecay", "vThMant"):
                neuron.create_dataset(key, data=int(layer[key]))
            neuron.create_dataset("refDelay", data=1)
            neuron.create_dataset("gradedSpike", data=False)
    return path


def run_netx(path: str | Path, graph: Graph, inputs: np.ndarray) -> SimResult:
    """Load a netx file with ``netx.hdf5.Network`` and run ``inputs`` like :class:`LavaRunner` (traces per layer of
    ``graph``'s chain, spikes only).

    netx gives its k-th block (0-based) ``LIFReset(reset_offset = reset_offset + 1 + k)``; block k is k+1 synapses
    deep and must be reset at time_step k+2 of every sample, hence ``reset_offset=1``.
    """
    chain = netx_chain(graph)
    x = check_inputs(inputs, graph, InputEncoding.from_metadata(graph.metadata))
    batch, timesteps, _ = x.shape
    graded = graph.nodes[chain[0][0]].graded
    latency = len(chain)
    num_steps = num_lava_steps(batch, timesteps, timesteps, latency)
    netx = import_netx()
    import_lava()
    from lava.proc.io.source import RingBuffer

    from snncc.backends.lava.recorders import FileSink

    net = netx.hdf5.Network(net_config=str(path), reset_interval=timesteps, reset_offset=1,
                            input_message_bits=GRADED_MESSAGE_BITS if graded else 0)
    try:
        if len(net.layers) != len(chain):
            raise GraphError(f"{path} holds {len(net.layers)} layers; the graph has {len(chain)}")
        with tempfile.TemporaryDirectory(prefix="snncc-netx-") as tmp:
            source = RingBuffer(data=source_data(x, timesteps, num_steps))
            first = graph.nodes[chain[0][0]]
            if isinstance(first, QConv):  # conv layers live in Lava's (W, H, C) layout
                source.s_out.reshape(first.input_shape).transpose(list(LAVA_AXES)).connect(net.inp)
            else:
                source.s_out.connect(net.inp)
            paths = []
            for k, ((_, neuron), block) in enumerate(zip(chain, net.layers, strict=True)):
                paths.append(recording_path(tmp, k, neuron, "spikes"))
                out = block.neuron.s_out
                out = out.transpose(list(LAVA_AXES)).flatten() if len(out.shape) == 3 else out
                sink = FileSink(shape=out.shape, num_steps=num_steps, path=paths[-1], dtype="int8")
                out.connect(sink.a_in)
            run_and_stop(source, num_steps)
            layers = {}
            for k, (_, neuron) in enumerate(chain):
                s = cut_windows(np.load(paths[k]), batch, timesteps, timesteps, k + 1)
                layers[neuron] = LayerTrace(spikes=s.astype(np.int8), latency=k + 1)
    finally:
        net.net_config.f.close()
    return build_result(graph, x, layers, [chain[-1][1]])


class NetxExporter(Exporter):
    """The bundle's ``network.net``: written when netx reproduces the graph bit for bit, else the reason why not."""

    name = "netx"
    file = NETX_FILE
    describe = "netx HDF5"

    def write(self, graph: Graph, folder: Path) -> dict:
        path = Path(folder) / NETX_FILE
        if graph.metadata.get(keys.SOURCE_KIND) == "netx":  # compiled from a netx file: the bundle keeps it as is
            shutil.copyfile(graph.metadata[keys.SOURCE_FILE], path)
            return {"status": f"copied from the source ({NETX_FILE})", "file": NETX_FILE}
        try:
            write_netx(graph, path)
        except (UnsupportedLayerError, BackendUnavailableError) as exc:
            if path.exists():
                path.unlink()
            return {"status": f"not expressible: {exc}", "file": None, "reason": str(exc)}
        return {"status": f"written ({NETX_FILE})", "file": NETX_FILE}
