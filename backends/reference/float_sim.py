"""Float simulator of a canonical (not yet quantized) graph: the F level the integer model is measured against.

Same semantics as the torch training modules (:mod:`snncc.neurons`), in float64 and with zero latency per
synapse, as torch computes it. It consumes the same integer payloads as the integer graph (the canonicalize pass
folded the input scale into the first synapses).
"""

from __future__ import annotations

import nir
import numpy as np

from snncc.errors import GraphError
from snncc.ir import Graph, InputEncoding, LIFNeuron, type_name

from .simulator import check_inputs
from .trace import LayerCounts, LayerTrace, SimResult


class FloatSimulator:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.order = graph.topological_order()
        for name in self.order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, nir.Linear, nir.Affine, LIFNeuron)):
                raise GraphError(f"the float simulator runs canonical graphs; node '{name}' is {type_name(node)}",
                                 hint="run the canonicalize pass first")
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        x = check_inputs(inputs, self.graph, self.encoding).astype(np.float64)
        batch, timesteps, _ = x.shape
        g = self.graph
        neurons = [n for n in self.order if isinstance(g.nodes[n], LIFNeuron)]
        i_state = {n: np.zeros((batch, g.nodes[n].threshold.shape[0])) for n in neurons}
        v_state = {n: np.zeros_like(i_state[n]) for n in neurons}
        spikes = {n: np.zeros((batch, timesteps, i_state[n].shape[1]), np.int8) for n in neurons}
        vs = {n: np.zeros((batch, timesteps, i_state[n].shape[1])) for n in neurons} if record_states else {}
        for t in range(timesteps):
            out: dict[str, np.ndarray] = {}
            for name in self.order:
                node = g.nodes[name]
                if isinstance(node, nir.Input):
                    out[name] = x[:, t]
                    continue
                a = sum(out[p] for p in g.predecessors(name))
                if isinstance(node, nir.Output):
                    continue
                if isinstance(node, (nir.Linear, nir.Affine)):
                    y = a @ np.asarray(node.weight, np.float64).T
                    out[name] = y + node.bias if isinstance(node, nir.Affine) else y
                else:
                    i_state[name] = node.decay_i * i_state[name] + a
                    v = node.decay_v * v_state[name] + i_state[name] + node.bias
                    s = v > node.threshold
                    v_state[name] = np.where(s, 0.0, v) if node.reset == "zero" else v - s * node.threshold
                    out[name] = s.astype(np.float64)
                    spikes[name][:, t] = s
                    if record_states:
                        vs[name][:, t] = v
        result = SimResult(timesteps=timesteps, batch=batch, output_layers=self.output_layers)
        for n in neurons:
            result.layers[n] = LayerTrace(spikes=spikes[n], latency=0, v=vs.get(n))
            c = LayerCounts(neuron_updates=batch * timesteps * spikes[n].shape[2])
            c.spikes_per_neuron = spikes[n].sum(axis=(0, 1), dtype=np.int64)
            c.spikes = int(c.spikes_per_neuron.sum())
            result.counts[n] = c
        return result
