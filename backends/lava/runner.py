"""Lower a quantized graph to a Lava process graph and run it on Lava's fixed-point CPU simulator.

One Lava ``Dense`` per ``QDense`` (exact integer weights via :func:`snncc.fixedpoint.lava_dense_encoding`), one
``LIFReset`` (``reset='zero'``) or :class:`SoftResetLIF` (``reset='subtract'``) per ``QLIF``. Several synapses
into one neuron layer all connect to its ``a_in``, which sums them. The periodic state reset of each neuron
layer is staggered by its synapse depth, so each layer starts every sample from zero state exactly when the
sample's first input reaches it: the same windows the reference simulator records.
"""

from __future__ import annotations

import tempfile

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.lava.execution import (
    GRADED_MESSAGE_BITS,
    INT16,
    build_result,
    cut_windows,
    num_lava_steps,
    recording_path,
    run_and_stop,
    source_data,
)
from snncc.backends.reference.simulator import check_inputs
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava
from snncc.errors import GraphError, QuantizationError
from snncc.ir import QLIF, Graph, InputEncoding, QDense, type_name


class LavaRunner:
    """Runs a quantized graph (``nir.Input`` -> ``QDense`` -> ``QLIF`` ... -> ``nir.Output``) in Lava fixed_pt."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        order = graph.topological_order()
        for name in order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, QDense, QLIF)):
                raise GraphError(f"the Lava backend runs quantized graphs; node '{name}' is {type_name(node)}",
                                 hint="compile the model first (quantize pass)")
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], QDense)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], QLIF)]
        self.depth = graph.synapse_depth()
        self.latency = max((self.depth[n] for n in self.neurons), default=0)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]
        self._check_structure()
        self.gap = self._fan_in_skew()

    def _check_structure(self) -> None:
        g = self.graph
        for s in self.synapses:
            preds = g.predecessors(s)
            if len(preds) != 1 or not isinstance(g.nodes[preds[0]], (nir.Input, QLIF)):
                raise GraphError("a synapse must have exactly one source, the input or a neuron layer", layer=s)
            succ = g.successors(s)
            if not succ or not all(isinstance(g.nodes[t], QLIF) for t in succ):
                raise GraphError("a synapse must feed neuron layers (QLIF) only", layer=s)
            try:
                fx.lava_dense_encoding(g.nodes[s].weight, g.nodes[s].weight_exp)
            except ValueError as exc:
                raise QuantizationError(str(exc), layer=s) from None
        for n in self.neurons:
            if not all(isinstance(g.nodes[p], QDense) for p in g.predecessors(n)):
                raise GraphError("a neuron layer's inputs must all be synapses (QDense)", layer=n)
            node = g.nodes[n]
            for field, arr in (("bias_mant", node.bias_mant), ("bias_exp", node.bias_exp)):
                if arr.size and (arr.min() < INT16[0] or arr.max() > INT16[1]):
                    raise QuantizationError(f"{field} outside Lava's int16 storage", layer=n)

    def _fan_in_skew(self) -> int:
        """Largest depth difference between the synapses feeding one neuron layer.

        The shallower path delivers input step ``t + skew`` together with step ``t`` of the deeper one; in a
        back-to-back run it would reach into the next sample, where the reference (one sample at a time) sees
        zeros. Samples are therefore spaced by this many silent steps.
        """
        g = self.graph
        skew = 0
        for n in self.neurons:
            depths = [self.depth[p] for p in g.predecessors(n)]
            skew = max(skew, max(depths) - min(depths))
        return skew

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in): all samples in one Lava run, cut into per-sample windows."""
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
                layers[n] = LayerTrace(spikes=rec["spikes"].astype(np.int8), latency=d, u=rec.get("u"),
                                       v=rec.get("v"))
        return build_result(self.graph, x, layers, self.output_layers)

    def _build(self, x: np.ndarray, stride: int, num_steps: int, tmp: str,
               record_states: bool) -> tuple[object, dict[str, dict[str, str]]]:
        """Create the Lava processes and recorders; returns the source process and the recording paths."""
        import_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIFReset
        from lava.utils.weightutils import SignMode

        from snncc.backends.lava.processes import FileProbe, FileSink, SoftResetLIF

        g = self.graph
        source = RingBuffer(data=source_data(x, stride, num_steps))
        outs = {self.input_name: source.s_out}
        neurons = {}
        for n in self.neurons:
            node = g.nodes[n]
            cls = SoftResetLIF if node.reset == "subtract" else LIFReset
            neurons[n] = cls(shape=node.bias_mant.shape, du=node.du, dv=node.dv, vth=node.vth,
                             bias_mant=node.bias_mant.astype(np.int32), bias_exp=node.bias_exp.astype(np.int32),
                             reset_interval=stride, reset_offset=self.depth[n] + 1, name=f"lif:{n}")
            outs[n] = neurons[n].s_out
        for s in self.synapses:
            node = g.nodes[s]
            weights, weight_exp, num_weight_bits = fx.lava_dense_encoding(node.weight, node.weight_exp)
            dense = Dense(weights=weights, weight_exp=weight_exp, num_weight_bits=num_weight_bits,
                          sign_mode=SignMode.MIXED, num_message_bits=GRADED_MESSAGE_BITS if node.graded else 0,
                          name=f"dense:{s}")
            outs[g.predecessors(s)[0]].connect(dense.s_in)
            for target in g.successors(s):
                dense.a_out.connect(neurons[target].a_in)
        paths: dict[str, dict[str, str]] = {}
        for i, n in enumerate(self.neurons):
            lif = neurons[n]
            paths[n] = {"spikes": recording_path(tmp, i, n, "spikes")}
            sink = FileSink(shape=lif.s_out.shape, num_steps=num_steps, path=paths[n]["spikes"], dtype="int8")
            lif.s_out.connect(sink.a_in)
            if record_states:
                for what in ("u", "v"):
                    paths[n][what] = recording_path(tmp, i, n, what)
                    FileProbe(var=getattr(lif, what), num_steps=num_steps, path=paths[n][what])
        return source, paths
