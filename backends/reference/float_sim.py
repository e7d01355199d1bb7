"""Float simulator of a canonical (not yet quantized) graph: the F level the integer model is measured against.

Same semantics as the torch training modules, in float64 and with zero latency per synapse, as torch computes it:
each float neuron node steps itself (``FloatNeuron.float_step``); a recurrent synapse delivers its source layer's
output of ``feedback_delay`` steps ago (one unless the trained model says otherwise; docs/semantics.md, Timing). It
consumes the same integer payloads as the integer graph (the canonicalize pass folded the input scale into the first
synapses). Every float neuron node type runs, so the lowering passes can measure what a float-level rewrite changes
(exact lowerings change nothing).
"""

from __future__ import annotations

import nir
import numpy as np

from snncc.backends.base import check_inputs
from snncc.conv import conv2d, nir_geometry
from snncc.errors import GraphError
from snncc.ir import FloatNeuron, Graph, InputEncoding, type_name
from snncc.ir.timing import feedback_delay

from .trace import LayerCounts, LayerTrace, SimResult

FLOAT_NODES = (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.Conv2d, FloatNeuron)


class FloatSimulator:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.order = graph.topological_order()
        for name in self.order:
            node = graph.nodes[name]
            if not isinstance(node, FLOAT_NODES):
                raise GraphError(f"the float simulator runs float graphs; node '{name}' is {type_name(node)}",
                                 hint="run the canonicalize pass first")
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Run payloads (batch, T, n_in); spikes (integer ``z`` for graded layers) per layer and step."""
        x = check_inputs(inputs, self.graph, self.encoding).astype(np.float64)
        batch, timesteps, _ = x.shape
        g = self.graph
        layers = [n for n in self.order if isinstance(g.nodes[n], FloatNeuron)]
        geometry = {n: nir_geometry(v) for n, v in g.nodes.items() if isinstance(v, nir.Conv2d)}
        conv_bias = {n: np.repeat(np.asarray(g.nodes[n].bias, np.float64) * np.ones(geom.out_channels),
                                  geom.out_size // geom.out_channels) for n, geom in geometry.items()}
        state = {n: g.nodes[n].float_state(batch) for n in layers}
        size = {n: g.nodes[n].size for n in layers}
        spikes = {n: np.zeros((batch, timesteps, size[n]), np.int8 if g.nodes[n].payload_levels is None else np.int32)
                  for n in layers}
        vs = {n: np.zeros((batch, timesteps, size[n])) for n in layers} if record_states else {}
        us = {n: np.zeros((batch, timesteps, size[n])) for n in layers} if record_states else {}
        delay = {n: feedback_delay(g, n) for n in self.order if g.is_recurrent(n)}
        zeros = {n: np.zeros((batch, size[n])) for n in layers}
        past = [zeros] * max(delay.values(), default=0)  # past[k - 1]: the layers' outputs k steps ago
        for t in range(timesteps):
            out: dict[str, np.ndarray] = {}
            for name in self.order:
                node = g.nodes[name]
                if isinstance(node, nir.Input):
                    out[name] = x[:, t]
                    continue
                if isinstance(node, nir.Output):
                    continue
                source = past[delay[name] - 1] if name in delay else out  # a recurrent synapse: `delay` steps ago
                a = sum(source[p] for p in g.predecessors(name))
                if isinstance(node, nir.Conv2d):
                    out[name] = conv2d(a, node.weight, geometry[name]) + conv_bias[name]
                    continue
                if isinstance(node, (nir.Linear, nir.Affine)):
                    y = a @ np.asarray(node.weight, np.float64).T
                    out[name] = y + node.bias if isinstance(node, nir.Affine) else y
                    continue
                z = node.float_step(state[name], a)
                spikes[name][:, t] = z
                out[name] = node.output(z)
                if record_states:
                    vs[name][:, t] = state[name].v
                    us[name][:, t] = state[name].u
            if past:
                past = [{n: out[n] for n in layers}, *past[:-1]]
        result = SimResult(timesteps=timesteps, batch=batch, output_layers=self.output_layers)
        for n in layers:
            result.layers[n] = LayerTrace(spikes=spikes[n], latency=0, u=us.get(n), v=vs.get(n))
            c = LayerCounts(neuron_updates=batch * timesteps * size[n])
            c.spikes_per_neuron = spikes[n].sum(axis=(0, 1), dtype=np.int64)
            c.spikes = int(c.spikes_per_neuron.sum())
            result.counts[n] = c
        return result
