"""Cycle-accurate integer reference simulator, bit-exact with Lava's ``fixed_pt`` process models.

It follows Lava's schedule: every synapse delivers what it computed in the previous step, then every neuron
updates on the sum of its synapses' deliveries, then every synapse accumulates its source's output of this step.
All arithmetic comes from :mod:`snncc.fixedpoint`. Samples run side by side (batched), each from a zero state;
each layer starts at the step its sample's first input reaches it, as the deployed network's staggered resets
make it do (see :mod:`.trace`).
"""

from __future__ import annotations

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import GraphError, VerificationError
from snncc.ir import QLIF, Graph, InputEncoding, QDense, type_name

from .trace import LayerTrace, SimResult, count_operations


class ReferenceSimulator:
    """Runs a quantized graph (``nir.Input`` -> ``QDense`` -> ``QLIF`` ... -> ``nir.Output``)."""

    def __init__(self, graph: Graph, neuron_format: fx.NeuronFormat | None = None) -> None:
        self.graph = graph
        self.fmt = neuron_format or fx.NeuronFormat()
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        order = graph.topological_order()
        for name in order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, QDense, QLIF)):
                raise GraphError(f"the reference simulator runs quantized graphs; node '{name}' is "
                                 f"{type_name(node)}", hint="compile the model first (quantize pass)")
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], QDense)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], QLIF)]
        self.sources = {s: graph.predecessors(s)[0] for s in self.synapses}
        self.depth = graph.synapse_depth()
        self.latency = max((self.depth[n] for n in self.neurons), default=0)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in) integer payloads: T + latency steps of Lava's schedule.

        A layer of latency ``d`` is held at zero state, silent, until step ``d`` (when its first input arrives,
        which is where the deployed network resets it) and records steps ``d .. d+T-1``.
        """
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, _ = x.shape
        g = self.graph
        buf = {s: np.zeros((batch, g.nodes[s].weight.shape[0]), np.int64) for s in self.synapses}
        size = {n: g.nodes[n].bias_mant.shape[0] for n in self.neurons}
        u = {n: np.zeros((batch, size[n]), np.int64) for n in self.neurons}
        v = {n: np.zeros((batch, size[n]), np.int64) for n in self.neurons}
        bias = {n: fx.bias_value(g.nodes[n].bias_mant, g.nodes[n].bias_exp) for n in self.neurons}
        spikes = {n: np.zeros((batch, timesteps, size[n]), np.int8) for n in self.neurons}
        states = ({n: (np.zeros((batch, timesteps, size[n]), np.int64),
                       np.zeros((batch, timesteps, size[n]), np.int64)) for n in self.neurons}
                  if record_states else {})
        silent = {n: np.zeros((batch, size[n]), bool) for n in self.neurons}
        out: dict[str, np.ndarray] = {self.input_name: np.zeros((batch, x.shape[2]), np.int64)}
        for k in range(timesteps + self.latency):
            out[self.input_name] = x[:, k] if k < timesteps else np.zeros_like(x[:, 0])
            delivered = {s: buf[s] for s in self.synapses}
            for n in self.neurons:
                t = k - self.depth[n]
                if not 0 <= t < timesteps:
                    out[n] = silent[n]
                    continue
                node = g.nodes[n]
                a = sum(delivered[p] for p in g.predecessors(n))
                u[n], v[n], s = fx.lif_step(u[n], v[n], a, node.du, node.dv, node.vth, bias[n],
                                            node.reset == "subtract", self.fmt)
                out[n] = s
                spikes[n][:, t] = s
                if record_states:
                    states[n][0][:, t] = u[n]
                    states[n][1][:, t] = v[n]
            for syn in self.synapses:
                node = g.nodes[syn]
                buf[syn] = fx.synapse_accumulate(node.weight, out[self.sources[syn]], node.weight_exp, node.graded)
        result = SimResult(timesteps=timesteps, batch=batch, latency=self.latency, output_layers=self.output_layers)
        for n in self.neurons:
            st = states.get(n, (None, None))
            result.layers[n] = LayerTrace(spikes=spikes[n], latency=self.depth[n], u=st[0], v=st[1])
        result.counts = count_operations(g, x, result.layers)
        return result


def check_inputs(inputs: np.ndarray, graph: Graph, encoding: InputEncoding) -> np.ndarray:
    """Validate input payloads (batch, T, n_in) against the graph's input shape and encoding."""
    x = np.asarray(inputs)
    n_in = int(np.prod(graph.nodes[graph.input_names[0]].input_type["input"]))
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != n_in:
        raise VerificationError(f"inputs must be shaped (samples, timesteps, {n_in}), got {tuple(np.shape(inputs))}")
    if x.shape[1] < 1 or x.shape[0] < 1:
        raise VerificationError("inputs need at least one sample and one time step")
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.isfinite(x)) or not np.array_equal(x, np.round(x)):
            raise VerificationError("inputs must be integer payloads (spikes 0/1, or graded integers)")
    x = x.astype(np.int64)
    hi = encoding.max_value if encoding.graded else 1
    if x.min() < 0 or x.max() > hi:
        raise VerificationError(f"input payloads must lie in [0, {hi}] for {encoding.kind} input; "
                                f"got [{x.min()}, {x.max()}]")
    return x
