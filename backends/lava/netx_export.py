"""Export a quantized graph as a lava-dl netx HDF5 network, and run such a file in Lava.

netx (lava-dl 0.6.0, ``lava/lib/dl/netx``) describes a *chain* of ``conv`` then ``dense`` layers of CUBA neurons
with hard reset. It maps a dense layer to ``Dense(optimize_weight_bits(weight))`` -> ``LIF(du=iDecay-1, dv=vDecay,
vth=vThMant, bias_mant=bias, bias_exp=6)``; it has no weight exponent, no per-neuron bias exponent and no soft
reset. A conv layer is Lava's ``Conv`` with the file's PyTorch-layout kernel flipped and transposed (as
:mod:`snncc.backends.lava.conv_encoding` does; Lava's ``Conv`` uses the weights as given, so ``2**weight_exp`` is
folded in) and neurons in Lava's (W, H, C) layout; a ``flatten`` layer before the first dense layer flattens in
CHW order. A layer whose only recurrent synapse feeds its own spikes back is a ``dense_rec`` block (``weight_rec``;
see :mod:`snncc.backends.lava.netx_layers` for what netx can describe and why). A graph is exported only when the
file reproduces it bit for bit; otherwise :func:`write_netx` raises :class:`UnsupportedLayerError` naming the layer
and the reason.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np

from snncc.backends.base import Exporter, check_inputs
from snncc.backends.lava.conv_encoding import LAVA_AXES
from snncc.backends.lava.execution import (
    GRADED_MESSAGE_BITS,
    build_result,
    cut_windows,
    num_lava_steps,
    recording_path,
    run_and_stop,
    source_data,
)
from snncc.backends.lava.netx_layers import (
    netx_chain,
    netx_conv_weight,
    netx_rec_weights,
    netx_recurrence,
    netx_weight,
    silent_before_window,
)
from snncc.backends.lava.netx_source import chw_flat
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava, import_netx
from snncc.errors import BackendUnavailableError, GraphError, UnsupportedLayerError
from snncc.families import REGISTRY
from snncc.ir import Graph, InputEncoding, QConv, keys

NETX_FILE = "network.net"


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
    chain = netx_chain(graph)
    recurrence = netx_recurrence(graph, chain)
    for syn, neuron in chain:
        node = graph.nodes[neuron]
        layer = {**REGISTRY.of(node, neuron).netx_neuron(node, neuron), "names": (syn, neuron)}
        syn_node = graph.nodes[syn]
        if isinstance(syn_node, QConv):
            payload = encoding.max_value if syn_node.graded and not layers and encoding.graded else 1
            layer["weight"], layer["groups"] = netx_conv_weight(syn_node, syn, payload)
            layer.update(conv=syn_node, bias=layer["bias"].reshape(syn_node.geometry.out_shape).transpose(LAVA_AXES))
        elif neuron in recurrence:
            layer["weight"], layer["weight_rec"] = netx_rec_weights(graph, syn, recurrence[neuron])
        else:
            layer["weight"] = netx_weight(syn_node, syn)
        layers.append(layer)
    silent_before_window(graph, chain, recurrence)
    return layers


def _s10(group: h5py.Group, name: str, text: str) -> None:
    group.create_dataset(name, (1,), "S10", [text.encode("ascii")])


def write_netx(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` as a netx HDF5 file: an ``input`` layer, then one CUBA ``conv`` layer per QConv -> neurons
    and one CUBA ``dense`` layer per QDense -> neurons (``dense_rec`` with the layer's recurrent QDense as
    ``weight_rec``), a ``flatten`` layer between the two kinds.

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
                _s10(g, "type", "dense_rec" if "weight_rec" in layer else "dense")
                g.create_dataset("shape", data=np.array([layer["weight"].shape[0]]))
            g.create_dataset("weight", data=layer["weight"])
            if "weight_rec" in layer:
                g.create_dataset("weight_rec", data=layer["weight_rec"])
            g.create_dataset("bias", data=layer["bias"])
            neuron = g.create_group("neuron")
            neuron.create_dataset("type", data="CUBA")
            for key in ("iDecay", "vDecay", "vThMant"):
                neuron.create_dataset(key, data=int(layer[key]))
            neuron.create_dataset("refDelay", data=1)
            neuron.create_dataset("gradedSpike", data=False)
    return path


def run_netx(path: str | Path, graph: Graph, inputs: np.ndarray, record_states: bool = False) -> SimResult:
    """Load a netx file with ``netx.hdf5.Network`` and run ``inputs`` like :class:`LavaRunner` (traces per layer of
    ``graph``'s chain; with ``record_states`` also the LIFs' ``u`` and ``v``).

    netx gives its k-th block (0-based) ``LIFReset(reset_offset = reset_offset + 1 + k)``; block k is k+1 synapses
    deep and must be reset at time_step k+2 of every sample, hence ``reset_offset=1``. A feed-forward file runs all
    samples back to back (``reset_interval = T``). A file with ``dense_rec`` blocks runs one sample per Lava run,
    each block reset once: netx resets only the neurons, so the spike a recurrent block sends in the last step of
    one sample would reach the first step of the next.
    """
    chain = netx_chain(graph)
    x = check_inputs(inputs, graph, InputEncoding.from_metadata(graph.metadata))
    if not netx_recurrence(graph, chain):
        traces = _run_netx_once(path, graph, chain, x, x.shape[1], record_states)
    else:
        parts = [_run_netx_once(path, graph, chain, x[i:i + 1], None, record_states) for i in range(x.shape[0])]
        traces = {n: {what: np.concatenate([p[n][what] for p in parts]) for what in parts[0][n]} for _, n in chain}
    layers = {n: LayerTrace(spikes=traces[n]["spikes"].astype(np.int8), latency=k + 1, u=traces[n].get("u"),
                            v=traces[n].get("v")) for k, (_, n) in enumerate(chain)}
    return build_result(graph, x, layers, [chain[-1][1]])


def _run_netx_once(path: str | Path, graph: Graph, chain: list[tuple[str, str]], x: np.ndarray,
                   reset_interval: int | None, record_states: bool) -> dict[str, dict[str, np.ndarray]]:
    """One Lava run of the file on samples ``x`` back to back, every ``reset_interval`` steps (None: one reset per
    block, for a run of one sample); per layer its window traces."""
    batch, timesteps, _ = x.shape
    graded = graph.nodes[chain[0][0]].graded
    latency = len(chain)
    num_steps = num_lava_steps(batch, timesteps, timesteps, latency)
    netx = import_netx()
    import_lava()
    from lava.proc.io.source import RingBuffer

    from snncc.backends.lava.recorders import FileProbe, FileSink

    net = netx.hdf5.Network(net_config=str(path), reset_interval=reset_interval or num_steps + 1, reset_offset=1,
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
            paths: list[dict[str, str]] = []
            for k, ((_, neuron), block) in enumerate(zip(chain, net.layers, strict=True)):
                paths.append({"spikes": recording_path(tmp, k, neuron, "spikes")})
                out = block.neuron.s_out
                out = out.transpose(list(LAVA_AXES)).flatten() if len(out.shape) == 3 else out
                out.connect(FileSink(shape=out.shape, num_steps=num_steps, path=paths[-1]["spikes"],
                                     dtype="int8").a_in)
                if record_states:  # a conv block's states are (W, H, C) maps, put in CHW order on loading
                    for what in ("u", "v"):
                        paths[-1][what] = recording_path(tmp, k, neuron, what)
                        FileProbe(var=getattr(block.neuron, what), num_steps=num_steps, path=paths[-1][what])
            run_and_stop(source, num_steps)
            return {neuron: {what: cut_windows(chw_flat(np.load(p)), batch, timesteps, timesteps, k + 1)
                             for what, p in paths[k].items()}
                    for k, (_, neuron) in enumerate(chain)}
    finally:
        net.net_config.f.close()


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
