"""Running a graph on the sub-step clock (``QSubStepMultiLevel`` layers): the reference simulation and the Lava run,
bit-exact with each other. The reference and Lava backends use them for the graphs the sub-step family claims.

Lava's schedule, one target step at a time: every synapse delivers what it computed in the previous step, every
neuron adds its deliveries to its period sum and, at a boundary, updates once
(:func:`snncc.families.multilevel.integer.multilevel_step` on ``shift_floor(sum, input_exp)``) and loads its
payload ``z`` into a burst; every neuron then sends the burst's next binary spike
(:func:`snncc.families.substep.nodes.burst_step`).

With ``S`` sub-steps, input step ``t`` of a sample enters at sub-step ``t * S`` and a layer ``d`` synapses deep
updates it at sub-step ``(t + d) * S``: the boundary where its last input spike of step ``t`` arrives. The layer is
held at its initial state until its first boundary and sends its bursts in the ``T * S`` sub-steps from there. On
Lava, samples run back to back with a stride of ``T * S`` steps and a layer ``d`` deep is reset at its sample's
first boundary ``i * T * S + d * S`` (1-based ``+ 1``): a feed-forward chain needs no gap between samples, since a
layer's last burst of one sample lands in the period its consumer closes before resetting for the next.
"""

from __future__ import annotations

import tempfile

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.base import check_inputs
from snncc.backends.reference.trace import LayerTrace, SimResult, count_operations
from snncc.errors import GraphError, QuantizationError
from snncc.families.base import Clock
from snncc.families.multilevel.integer import multilevel_step
from snncc.families.substep.nodes import QSubStepMultiLevel, burst_step
from snncc.ir import Graph, InputEncoding, QDense, type_name


def substep_clock(graph: Graph) -> int:
    """The number of sub-steps of ``graph``'s clock, after checking what every sub-step backend relies on: only
    sub-step neurons sharing one clock, binary input, and a feed-forward chain of single-source binary synapses."""
    if InputEncoding.from_metadata(graph.metadata).graded:
        raise GraphError("a sub-step graph takes binary (spike) input, not graded input", layer=graph.input_names[0])
    depth = graph.synapse_depth()
    clocks = set()
    for name in graph.topological_order():
        node = graph.nodes[name]
        if isinstance(node, QSubStepMultiLevel):
            clocks.add(node.substeps)
            if not graph.predecessors(name) or not all(isinstance(graph.nodes[p], QDense)
                                                        for p in graph.predecessors(name)):
                raise GraphError("a sub-step neuron's inputs must all be synapses (QDense)", layer=name)
        elif isinstance(node, QDense):
            preds = graph.predecessors(name)
            if len(preds) != 1 or not isinstance(graph.nodes[preds[0]], (nir.Input, QSubStepMultiLevel)):
                raise GraphError("a synapse must have exactly one source, the input or a sub-step neuron", layer=name)
            if node.graded or graph.is_recurrent(name):
                raise GraphError("synapses on a sub-step clock carry binary spikes and are feed-forward", layer=name)
            if not all(depth[t] == depth[preds[0]] + 1 and isinstance(graph.nodes[t], QSubStepMultiLevel)
                       for t in graph.successors(name)):
                raise GraphError("a synapse on a sub-step clock must feed sub-step neurons one layer deeper",
                                 layer=name)
        elif not isinstance(node, (nir.Input, nir.Output)):
            raise GraphError(f"node '{name}' is {type_name(node)}; a sub-step graph holds only QSubStepMultiLevel, "
                             "QDense, Input and Output nodes", layer=name)
    if len(clocks) != 1:
        raise GraphError(f"the sub-step neurons must share one clock; found substeps {sorted(clocks)}")
    return clocks.pop()


class _SubStepGraph:
    """What both runners read of a sub-step graph: its clock, its layers in order, their latencies."""

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


class SubStepSimulator(_SubStepGraph):
    """Runs a sub-step graph (``nir.Input`` -> ``QDense`` -> ``QSubStepMultiLevel`` ... -> ``nir.Output``)."""

    def __init__(self, graph: Graph, neuron_format: fx.NeuronFormat | None = None) -> None:
        super().__init__(graph)
        self.fmt = neuron_format or fx.DEFAULT_FORMAT

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in) spikes: ``(T + latency) * S`` target steps."""
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, _ = x.shape
        g, sub = self.graph, self.substeps
        size = {n: g.nodes[n].size for n in self.neurons}
        buf = {s: np.zeros((batch, g.nodes[s].weight.shape[0]), np.int64) for s in self.synapses}
        zeros = {n: np.zeros((batch, size[n]), np.int64) for n in self.neurons}
        u, v, acc, pending = ({n: z.copy() for n, z in zeros.items()} for _ in range(4))
        bias = {n: g.nodes[n].bias_values() for n in self.neurons}
        counts = {n: np.zeros((batch, timesteps, size[n]), np.int32) for n in self.neurons}
        bursts = {n: np.zeros((batch, timesteps * sub, size[n]), np.int8) for n in self.neurons}
        states = {n: (np.zeros((batch, timesteps, size[n]), np.int64), np.zeros((batch, timesteps, size[n]), np.int64))
                  for n in self.neurons} if record_states else {}
        silent_input = np.zeros_like(x[:, 0])
        out: dict[str, np.ndarray] = {}
        for k in range((timesteps + self.latency) * sub):
            period, phase = divmod(k, sub)
            out[self.input_name] = x[:, period] if phase == 0 and period < timesteps else silent_input
            for n in self.neurons:
                node, d = g.nodes[n], self.depth[n]
                for p in g.predecessors(n):
                    acc[n] += buf[p]
                t = period - d
                if phase == 0 and 0 <= t < timesteps:
                    a = fx.shift_floor(acc[n], node.input_exp)
                    u[n], v[n], z = multilevel_step(u[n], v[n], a, node.du, node.dv, bias[n], node.theta_exp,
                                                       node.offset, node.levels, self.fmt)
                    pending[n] = z
                    counts[n][:, t] = z
                    if record_states:
                        states[n][0][:, t], states[n][1][:, t] = u[n], v[n]
                if phase == 0:
                    acc[n] = zeros[n].copy()  # every boundary consumes its period's sum
                out[n], pending[n] = burst_step(pending[n])
                if 0 <= k - d * sub < timesteps * sub:
                    bursts[n][:, k - d * sub] = out[n]
            for syn in self.synapses:
                node = g.nodes[syn]
                buf[syn] = node.accumulate(out[g.predecessors(syn)[0]])
        result = SimResult(timesteps=timesteps, batch=batch, latency=self.latency, output_layers=self.output_layers,
                           substeps=sub)
        for n in self.neurons:
            st = states.get(n, (None, None))
            result.layers[n] = LayerTrace(spikes=counts[n], latency=self.depth[n], u=st[0], v=st[1],
                                          bursts=bursts[n])
        result.counts = count_operations(g, x, result.layers)
        return result


class SubStepLavaRunner(_SubStepGraph):
    """Runs a sub-step graph in Lava fixed_pt; traces as :class:`SubStepSimulator`'s."""

    def __init__(self, graph: Graph) -> None:
        super().__init__(graph)
        for s in self.synapses:
            try:
                fx.lava_dense_encoding(graph.nodes[s].weight, graph.nodes[s].weight_exp)
            except ValueError as exc:
                raise QuantizationError(str(exc), layer=s) from None

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in) spikes, all samples in one Lava run."""
        from snncc.backends.lava.execution import build_result, cut_windows, run_and_stop, source_data

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
        from snncc.backends.lava.execution import recording_path
        from snncc.backends.lava.processes import dense_process, neuron_process, record
        from snncc.compat.lava import import_lava

        import_lava()
        from lava.proc.io.source import RingBuffer

        g, sub = self.graph, self.substeps
        timesteps = stride // sub
        source = RingBuffer(data=data)
        outs = {self.input_name: source.s_out}
        neurons = {n: neuron_process(g, n, Clock(interval=stride, offset=self.depth[n] * sub + 1,
                                                 window=timesteps * sub, windowed=False)) for n in self.neurons}
        outs.update({n: proc.s_out for n, proc in neurons.items()})
        for s in self.synapses:
            dense = dense_process(g.nodes[s], s, allow_sparse=False)
            outs[g.predecessors(s)[0]].connect(dense.s_in)
            for target in g.successors(s):
                dense.a_out.connect(neurons[target].a_in)
        paths: dict[str, dict[str, str]] = {}
        for i, n in enumerate(self.neurons):
            paths[n] = record(g, n, neurons[n], num_steps, record_states,
                              lambda what, i=i, n=n: recording_path(tmp, i, n, what), spikes_dtype="int8")
        return source, paths
