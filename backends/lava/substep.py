"""Run a sub-step graph (``QSubStepMultiLevel`` layers) in Lava's fixed-point simulator.

One Lava ``Dense`` per ``QDense`` (binary spikes, mantissas only: the exponent is the neuron's ``input_exp``) and one
:class:`~snncc.backends.lava.processes.SubStepMultiLevelNeuron` per layer. Samples run back to back with a stride of
``T * S`` steps; input step ``t`` of sample ``i`` enters at 0-based step ``i * T * S + t * S``, and a layer ``d``
synapses deep is reset at its sample's first boundary ``i * T * S + d * S`` (1-based ``+ 1``), so each sample
starts from the initial state exactly where the reference simulator starts it (see
:mod:`snncc.backends.reference.substep`). A feed-forward chain needs no gap between samples: a layer's last burst
of one sample lands in the period its consumer closes before resetting for the next.
"""

from __future__ import annotations

import tempfile

import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.lava.execution import build_result, cut_windows, recording_path, run_and_stop, source_data
from snncc.backends.reference.simulator import check_inputs
from snncc.backends.reference.substep import substep_clock
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava
from snncc.errors import QuantizationError
from snncc.ir import Graph, InputEncoding, QDense, QSubStepMultiLevel
from snncc.ir.graph import layer_size


class SubStepLavaRunner:
    """Runs a sub-step graph in Lava fixed_pt; traces as :class:`~snncc.backends.reference.SubStepSimulator`'s."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        self.substeps = substep_clock(graph)
        order = graph.topological_order()
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], QDense)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], QSubStepMultiLevel)]
        self.depth = graph.synapse_depth()
        self.latency = max(self.depth[n] for n in self.neurons)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]
        for s in self.synapses:
            try:
                fx.lava_dense_encoding(graph.nodes[s].weight, graph.nodes[s].weight_exp)
            except ValueError as exc:
                raise QuantizationError(str(exc), layer=s) from None

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in) spikes, all samples in one Lava run."""
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, n_in = x.shape
        sub = self.substeps
        stride = timesteps * sub
        num_steps = (batch * timesteps + self.latency) * sub
        expanded = np.zeros((batch, timesteps * sub, n_in), np.int64)
        expanded[:, ::sub] = x  # input step t at sub-step t * S
        with tempfile.TemporaryDirectory(prefix="snncc-lava-") as tmp:
            source, paths = self._build(source_data(expanded, stride, num_steps), stride, num_steps, tmp,
                                        record_states)
            run_and_stop(source, num_steps)
            layers = {}
            for n in self.neurons:
                d = self.depth[n]
                bursts = cut_windows(np.load(paths[n]["spikes"]), batch, stride, stride, d * sub).astype(np.int8)
                counts = bursts.reshape(batch, timesteps, sub, -1).sum(axis=2, dtype=np.int32)
                boundary = np.arange(batch)[:, None] * stride + (np.arange(timesteps)[None, :] + d) * sub
                st = {what: np.load(p)[boundary] for what, p in paths[n].items() if what != "spikes"}
                layers[n] = LayerTrace(spikes=counts, latency=d, u=st.get("u"), v=st.get("v"), bursts=bursts)
        result = build_result(self.graph, x, layers, self.output_layers)
        result.substeps = sub
        return result

    def _build(self, data: np.ndarray, stride: int, num_steps: int, tmp: str,
               record_states: bool) -> tuple[object, dict[str, dict[str, str]]]:
        import_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.source import RingBuffer
        from lava.utils.weightutils import SignMode

        from snncc.backends.lava.processes import FileProbe, FileSink, SubStepMultiLevelNeuron

        g, sub = self.graph, self.substeps
        timesteps = stride // sub
        source = RingBuffer(data=data)
        outs = {self.input_name: source.s_out}
        neurons = {}
        for n in self.neurons:
            node = g.nodes[n]
            neurons[n] = SubStepMultiLevelNeuron(
                shape=(layer_size(node),), du=node.du, dv=node.dv, bias_mant=node.bias_mant.astype(np.int32),
                bias_exp=node.bias_exp.astype(np.int32), theta_exp=node.theta_exp, offset=node.offset,
                levels=node.levels, substeps=sub, input_exp=node.input_exp, reset_interval=stride,
                reset_offset=self.depth[n] * sub + 1, window=timesteps * sub, name=f"substep:{n}")
            outs[n] = neurons[n].s_out
        for s in self.synapses:
            weights, weight_exp, num_weight_bits = fx.lava_dense_encoding(g.nodes[s].weight, g.nodes[s].weight_exp)
            dense = Dense(weights=weights, weight_exp=weight_exp, num_weight_bits=num_weight_bits,
                          sign_mode=SignMode.MIXED, num_message_bits=0, name=f"dense:{s}")
            outs[g.predecessors(s)[0]].connect(dense.s_in)
            for target in g.successors(s):
                dense.a_out.connect(neurons[target].a_in)
        paths: dict[str, dict[str, str]] = {}
        for i, n in enumerate(self.neurons):
            proc = neurons[n]
            paths[n] = {"spikes": recording_path(tmp, i, n, "spikes")}
            proc.s_out.connect(FileSink(shape=proc.s_out.shape, num_steps=num_steps, path=paths[n]["spikes"],
                                        dtype="int8").a_in)
            if record_states:
                for what in ("u", "v"):
                    paths[n][what] = recording_path(tmp, i, n, what)
                    FileProbe(var=getattr(proc, what), num_steps=num_steps, path=paths[n][what])
        return source, paths
