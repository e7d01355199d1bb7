"""Lower a quantized graph to a Lava process graph and run it on Lava's fixed-point CPU simulator.

One Lava ``Dense`` per ``QDense`` (exact integer weights via :func:`snncc.fixedpoint.lava_dense_encoding`; graded,
``num_message_bits > 0``, when the ``QDense`` is; a ``Sparse``, which runs the same fixed-point code on CSR weights,
when at most :data:`SPARSE_MAX_DENSITY` of the weights are non-zero), one Lava ``Conv`` per ``QConv`` (kernel and
layout from :mod:`snncc.backends.lava.conv_encoding`; its input port is the source's flat CHW vector reshaped and
transposed to Lava's (W, H, C), its output transposed back and flattened), and one neuron process per layer: stock
``LIFReset`` for a ``QLIF`` that it implements (:attr:`QLIF.stock`) and whose output needs no send window, else snncc's
:class:`SnnccLIF`; :class:`MultiLevelNeuron` per ``QMultiLevel``; :class:`ARLIFNeuron` per ``QARLIF``. Several
synapses into one neuron layer (recurrent ones included, which connect back to the layer's ``a_in``) all connect to
its ``a_in``, which sums them. The periodic state reset of each neuron layer is staggered by its synapse depth, so
each layer starts every sample from its initial state exactly when the sample's first input reaches it: the same
windows the reference simulator records.

Timing of back-to-back samples. A synapse from a layer ``ds`` deep into a layer ``dl`` deep delivers, in the
``T`` steps of the destination's window, what the source sent in its sample-relative steps ``dl - 1 .. dl + T - 2``;
the source's window is ``ds .. ds + T - 1``. When ``dl - 1 != ds`` (a shallower fan-in path, or a recurrent
synapse, where ``ds = dl``) those steps reach outside the source's window, where the reference has the source
silent. Samples are therefore spaced by ``gap = max |dl - 1 - ds|`` silent steps (stride ``T + gap``: a recurrent
synapse gives a gap of 1, so the step before each reset is a blank step outside every window), and such a source
runs as a custom process that sends nothing outside its window (instead of its stale state's spikes).
"""

from __future__ import annotations

import tempfile

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.lava.conv_encoding import INT32_LIMIT, LAVA_AXES, lava_conv_args, max_abs_sum
from snncc.backends.lava.execution import (
    GRADED_MESSAGE_BITS,
    build_result,
    cut_windows,
    num_lava_steps,
    recording_path,
    run_and_stop,
    source_data,
)
from snncc.backends.reference.simulator import NEURON_NODES, SYNAPSE_NODES, check_inputs, check_synapse_sources
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava
from snncc.errors import GraphError, QuantizationError
from snncc.ir import Graph, InputEncoding, type_name
from snncc.ir.graph import layer_size
from snncc.ir.nodes import QARLIF, QLIF, QConv, QDense, QMultiLevel

STORAGE_BITS = {"bias_mant": 16, "bias_exp": 16}  # int16 Vars of Lava's fixed-point LIF; snncc's own Vars are int32


SPARSE_MAX_DENSITY = 0.25
"""Above this share of non-zero weights a dense matrix is as cheap to store and multiply as CSR."""


def uses_sparse(node: QDense) -> bool:
    """Whether the dense synapse runs as Lava's ``Sparse`` (lateral inhibition of populations, pruned layers...)."""
    w = np.asarray(node.weight)
    return w.size > 0 and np.count_nonzero(w) <= SPARSE_MAX_DENSITY * w.size


def conv_args(node: QConv) -> dict[str, object]:
    """Keyword arguments of Lava's ``Conv`` for ``node`` (ValueError if it cannot be computed exactly)."""
    return lava_conv_args(node.weight, node.weight_exp, node.input_shape, node.stride, node.padding, node.dilation,
                          node.groups)


class LavaRunner:
    """Runs a quantized graph (``nir.Input`` -> ``QDense``/``QConv`` -> ``QLIF``/``QMultiLevel``/``QARLIF`` ... ->
    ``nir.Output``, recurrent synapses included) in Lava fixed_pt."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        order = graph.topological_order()
        for name in order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, *SYNAPSE_NODES, *NEURON_NODES)):
                raise GraphError(f"the Lava backend runs quantized graphs; node '{name}' is {type_name(node)}",
                                 hint="compile the model first (quantize pass)")
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], SYNAPSE_NODES)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], NEURON_NODES)]
        self.depth = graph.synapse_depth()
        self.latency = max((self.depth[n] for n in self.neurons), default=0)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]
        self._check_structure()
        self.gap, self.windowed = self._plan_timing()

    def _check_structure(self) -> None:
        g = self.graph
        check_synapse_sources(g)
        for s in self.synapses:
            succ = g.successors(s)
            if not succ or not all(isinstance(g.nodes[t], NEURON_NODES) for t in succ):
                raise GraphError("a synapse must feed neuron layers only", layer=s)
            self._check_synapse(s)
        for n in self.neurons:
            if not all(isinstance(g.nodes[p], SYNAPSE_NODES) for p in g.predecessors(n)):
                raise GraphError("a neuron layer's inputs must all be synapses (QDense, QConv)", layer=n)
            node = g.nodes[n]
            if isinstance(node, QARLIF):
                values = {"bias": node.bias, "dv": node.dv, "vth": node.vth, "amp": node.amp, "gate": node.gate}
            else:
                values = {"bias_mant": node.bias_mant, "bias_exp": node.bias_exp}
            if isinstance(node, QLIF):
                values.update(v_init=node.v_init, v_min=node.v_min if node.v_min is not None else 0)
            for field, value in values.items():
                bits = STORAGE_BITS.get(field, 32)
                arr = np.asarray(value)
                if arr.size and (arr.min() < -(1 << (bits - 1)) or arr.max() >= 1 << (bits - 1)):
                    raise QuantizationError(f"{field} outside Lava's int{bits} storage", layer=n)

    def _check_synapse(self, name: str) -> None:
        """QuantizationError (naming the layer) if Lava's Dense/Conv cannot compute this synapse exactly."""
        node = self.graph.nodes[name]
        try:
            if isinstance(node, QDense):
                fx.lava_dense_encoding(node.weight, node.weight_exp)
                return
            conv_args(node)
        except ValueError as exc:
            raise QuantizationError(str(exc), layer=name) from None
        bound = max_abs_sum(node.weight, node.weight_exp, self._max_payload(name))
        if bound >= INT32_LIMIT:
            raise QuantizationError(f"a convolution sum can reach {bound} >= 2**31, beyond the int32 that Lava's "
                                    "Conv casts its sum to before the 24-bit wrap", layer=name)

    def _max_payload(self, synapse: str) -> int:
        """The largest payload the synapse counts: 1 for a binary synapse, else its source's largest payload."""
        if not self.graph.nodes[synapse].graded:
            return 1
        src = self.graph.nodes[self.graph.predecessors(synapse)[0]]
        if isinstance(src, QMultiLevel):
            return int(src.levels)
        return self.encoding.max_value if isinstance(src, nir.Input) and self.encoding.graded else 1

    def _plan_timing(self) -> tuple[int, set[str]]:
        """Silent steps between samples and the layers that must send only inside their window.

        A synapse from depth ``ds`` into depth ``dl`` reads its source at sample-relative steps
        ``dl - 1 .. dl + T - 2``. If ``dl - 1 != ds`` that range leaves the source's window ``ds .. ds + T - 1``
        by ``|dl - 1 - ds|`` steps: that many silent steps keep it off the neighbouring samples' windows (the input
        is zero there; a neuron layer must be kept silent there by its send window).
        """
        g = self.graph
        gap, windowed = 0, set()
        for s in self.synapses:
            src = g.predecessors(s)[0]
            for target in g.successors(s):
                lag = self.depth[target] - 1 - self.depth[src]
                gap = max(gap, abs(lag))
                if lag and src != self.input_name:
                    windowed.add(src)
        return gap, windowed

    def process_kind(self, name: str) -> str:
        """The Lava process layer ``name`` runs as: LIFReset, SnnccLIF, MultiLevelNeuron or ARLIFNeuron."""
        node = self.graph.nodes[name]
        if isinstance(node, QMultiLevel):
            return "MultiLevelNeuron"
        if isinstance(node, QARLIF):
            return "ARLIFNeuron"
        return "LIFReset" if node.stock and name not in self.windowed else "SnnccLIF"

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in): all samples in one Lava run, cut into per-sample windows.

        With ``record_states``, ``u`` and ``v`` are recorded (``m`` and ``v`` for an AR-LIF layer, ``m`` in ``u``).
        """
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, _ = x.shape
        stride = timesteps + self.gap
        num_steps = num_lava_steps(batch, timesteps, stride, self.latency)
        with tempfile.TemporaryDirectory(prefix="snncc-lava-") as tmp:
            source, paths = self._build(x, stride, num_steps, tmp, record_states)
            run_and_stop(source, num_steps)
            layers = {}
            for n in self.neurons:
                d = self.depth[n]
                rec = {what: cut_windows(np.load(p), batch, timesteps, stride, d) for what, p in paths[n].items()}
                dtype = np.int32 if isinstance(self.graph.nodes[n], QMultiLevel) else np.int8
                layers[n] = LayerTrace(spikes=rec["spikes"].astype(dtype), latency=d, u=rec.get("u"),
                                       v=rec.get("v"))
        return build_result(self.graph, x, layers, self.output_layers)

    def _neuron(self, name: str, stride: int, timesteps: int) -> object:
        """The Lava process of neuron layer ``name``: reset every ``stride`` steps when its sample's first input
        arrives (1-based step ``depth + 1``), sending only in its window of ``timesteps`` steps if custom."""
        from lava.proc.lif.process import LIFReset

        from snncc.backends.lava.processes import ARLIFNeuron, MultiLevelNeuron, SnnccLIF

        node = self.graph.nodes[name]
        shape = (layer_size(node),)
        clock = {"reset_interval": stride, "reset_offset": self.depth[name] + 1}
        kind = self.process_kind(name)
        if kind == "ARLIFNeuron":
            return ARLIFNeuron(shape=shape, dv=node.dv, vth=node.vth, amp=node.amp, gate=node.gate,
                               bias=node.bias.astype(np.int32), input_shift=node.input_shift,
                               input_gain=node.input_gain.astype(np.int32), window=timesteps,
                               name=f"arlif:{name}", **clock)
        lif = {"shape": shape, "du": node.du, "dv": node.dv, "bias_mant": node.bias_mant.astype(np.int32),
               "bias_exp": node.bias_exp.astype(np.int32)}
        if kind == "MultiLevelNeuron":
            return MultiLevelNeuron(theta_exp=node.theta_exp, offset=node.offset, levels=node.levels,
                                    window=timesteps, name=f"multilevel:{name}", **lif, **clock)
        if kind == "LIFReset":
            return LIFReset(vth=node.vth, name=f"lif:{name}", **lif, **clock)
        return SnnccLIF(vth=node.vth, soft_reset=node.reset == "subtract", v_min=node.v_min,
                        v_init=node.v_init.astype(np.int32), window=timesteps, name=f"lif:{name}", **lif, **clock)

    def _synapse(self, name: str, source: object) -> object:
        """Create the Lava process of synapse ``name``, connect ``source`` (a flat OutPort) to it and return its
        output as a flat port.

        A ``Conv`` is wired through virtual ports: the source's flat CHW vector reshaped and transposed to Lava's
        (W, H, C), its (W, H, C) output transposed back and flattened (see :mod:`snncc.backends.lava.conv_encoding`).
        """
        from lava.proc.conv.process import Conv
        from lava.proc.dense.process import Dense
        from lava.proc.sparse.process import Sparse
        from lava.utils.weightutils import SignMode

        node = self.graph.nodes[name]
        message_bits = GRADED_MESSAGE_BITS if node.graded else 0
        if isinstance(node, QConv):
            conv = Conv(num_message_bits=message_bits, name=f"conv:{name}", **conv_args(node))
            source.reshape(node.input_shape).transpose(list(LAVA_AXES)).connect(conv.s_in)
            return conv.a_out.transpose(list(LAVA_AXES)).flatten()
        weights, weight_exp, num_weight_bits = fx.lava_dense_encoding(node.weight, node.weight_exp)
        kind, proc = (("sparse", Sparse) if uses_sparse(node) else ("dense", Dense))
        dense = proc(weights=weights, weight_exp=weight_exp, num_weight_bits=num_weight_bits,
                     sign_mode=SignMode.MIXED, num_message_bits=message_bits, name=f"{kind}:{name}")
        source.connect(dense.s_in)
        return dense.a_out

    def _build(self, x: np.ndarray, stride: int, num_steps: int, tmp: str,
               record_states: bool) -> tuple[object, dict[str, dict[str, str]]]:
        """Create the Lava processes and recorders; returns the source process and the recording paths."""
        import_lava()
        from lava.proc.io.source import RingBuffer

        from snncc.backends.lava.processes import FileProbe, FileSink

        g = self.graph
        timesteps = x.shape[1]
        source = RingBuffer(data=source_data(x, stride, num_steps))
        outs = {self.input_name: source.s_out}
        neurons = {n: self._neuron(n, stride, timesteps) for n in self.neurons}
        outs.update({n: proc.s_out for n, proc in neurons.items()})
        for s in self.synapses:
            a_out = self._synapse(s, outs[g.predecessors(s)[0]])
            for target in g.successors(s):
                a_out.connect(neurons[target].a_in)
        paths: dict[str, dict[str, str]] = {}
        for i, n in enumerate(self.neurons):
            proc = neurons[n]
            graded = isinstance(g.nodes[n], QMultiLevel)
            paths[n] = {"spikes": recording_path(tmp, i, n, "spikes")}
            sink = FileSink(shape=proc.s_out.shape, num_steps=num_steps, path=paths[n]["spikes"],
                            dtype="int32" if graded else "int8")
            proc.s_out.connect(sink.a_in)
            if record_states:
                state_vars = {"u": "m", "v": "v"} if isinstance(g.nodes[n], QARLIF) else {"u": "u", "v": "v"}
                for what, var in state_vars.items():
                    paths[n][what] = recording_path(tmp, i, n, what)
                    FileProbe(var=getattr(proc, var), num_steps=num_steps, path=paths[n][what])
        return source, paths
