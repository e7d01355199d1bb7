"""Float simulator of a canonical (not yet quantized) graph: the F level the integer model is measured against.

Same semantics as the torch training modules (:mod:`snncc.neurons`), in float64 and with zero latency per
synapse, as torch computes it. It consumes the same integer payloads as the integer graph (the canonicalize pass
folded the input scale into the first synapses). Every float neuron node type is supported, so the lowering
passes can measure what a float-level rewrite changes (exact lowerings change nothing).
"""

from __future__ import annotations

import nir
import numpy as np

from snncc.conv import conv2d, nir_geometry
from snncc.errors import GraphError
from snncc.ir import ARLIFNeuron, Graph, InputEncoding, KLIFNeuron, LIFNeuron, MultiLevelNeuron, type_name

from .simulator import check_inputs
from .trace import LayerCounts, LayerTrace, SimResult

FLOAT_NEURON_NODES = (LIFNeuron, KLIFNeuron, MultiLevelNeuron, ARLIFNeuron)
FLOAT_NODES = (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.Conv2d, *FLOAT_NEURON_NODES)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _State:
    """Per-layer state of one float neuron layer, stepping it as its torch module does."""

    def __init__(self, node: object, batch: int) -> None:
        n = node.threshold.shape[0]
        self.node = node
        self.v = np.zeros((batch, n))
        self.i = np.zeros((batch, n))
        self.m = np.zeros((batch, n))

    def step(self, x: np.ndarray) -> np.ndarray:
        node = self.node
        if isinstance(node, LIFNeuron):
            self.i = node.decay_i * self.i + x
            v = node.decay_v * self.v + self.i + node.bias
            if node.v_min is not None:
                v = np.maximum(v, node.v_min)
            s = v > node.threshold
            self.v = np.where(s, 0.0, v) if node.reset == "zero" else v - s * node.threshold
            return s.astype(np.float64)
        if isinstance(node, KLIFNeuron):
            xb = x + node.bias
            h = self.v + (xb - self.v) / node.tau if node.decay_input else self.v - self.v / node.tau + xb
            f = np.maximum(node.k * h, 0.0)
            s = f > node.threshold
            self.v = f * (1 - s) if node.reset == "zero" else f - s * node.threshold
            return s.astype(np.float64)
        if isinstance(node, MultiLevelNeuron):
            self.i = node.decay_i * self.i + x
            v = node.decay_v * self.v + self.i + node.bias
            z = np.clip(np.floor(v / node.threshold + node.offset), 0, node.levels)
            self.v = v - z * node.threshold
            return z
        # ARLIFNeuron
        xb = x + node.bias
        v = node.decay_v * self.v + xb
        thr = node.threshold + node.amp * np.tanh(xb)
        s = v > thr
        g = _sigmoid(node.gate * xb)
        self.m = np.maximum(self.m, 0) * g + np.minimum(self.m, 0) * (1 - g)
        self.m = self.m + np.where(s, 1.0, -1.0) * _sigmoid(xb)
        self.v = np.where(s, v - (thr + _sigmoid(self.m)), v)
        return s.astype(np.float64)


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
        """Run payloads (batch, T, n_in); spikes (integer ``z`` for multi-level layers) per layer and step."""
        x = check_inputs(inputs, self.graph, self.encoding).astype(np.float64)
        batch, timesteps, _ = x.shape
        g = self.graph
        layers = [n for n in self.order if isinstance(g.nodes[n], FLOAT_NEURON_NODES)]
        geometry = {n: nir_geometry(v) for n, v in g.nodes.items() if isinstance(v, nir.Conv2d)}
        conv_bias = {n: np.repeat(np.asarray(g.nodes[n].bias, np.float64) * np.ones(geom.out_channels),
                                  geom.out_size // geom.out_channels) for n, geom in geometry.items()}
        state = {n: _State(g.nodes[n], batch) for n in layers}
        size = {n: g.nodes[n].threshold.shape[0] for n in layers}
        graded = {n: isinstance(g.nodes[n], MultiLevelNeuron) for n in layers}
        spikes = {n: np.zeros((batch, timesteps, size[n]), np.int32 if graded[n] else np.int8) for n in layers}
        vs = {n: np.zeros((batch, timesteps, size[n])) for n in layers} if record_states else {}
        us = {n: np.zeros((batch, timesteps, size[n])) for n in layers} if record_states else {}
        for t in range(timesteps):
            out: dict[str, np.ndarray] = {}
            for name in self.order:
                node = g.nodes[name]
                if isinstance(node, nir.Input):
                    out[name] = x[:, t]
                    continue
                if isinstance(node, nir.Output):
                    continue
                a = sum(out[p] for p in g.predecessors(name))
                if isinstance(node, nir.Conv2d):
                    out[name] = conv2d(a, node.weight, geometry[name]) + conv_bias[name]
                    continue
                if isinstance(node, (nir.Linear, nir.Affine)):
                    y = a @ np.asarray(node.weight, np.float64).T
                    out[name] = y + node.bias if isinstance(node, nir.Affine) else y
                    continue
                z = state[name].step(a)
                spikes[name][:, t] = z
                if isinstance(node, MultiLevelNeuron):
                    z = z * node.out_scale
                out[name] = z
                if record_states:
                    vs[name][:, t] = state[name].v
                    us[name][:, t] = state[name].m if isinstance(node, ARLIFNeuron) else state[name].i
        result = SimResult(timesteps=timesteps, batch=batch, output_layers=self.output_layers)
        for n in layers:
            result.layers[n] = LayerTrace(spikes=spikes[n], latency=0, u=us.get(n), v=vs.get(n))
            c = LayerCounts(neuron_updates=batch * timesteps * size[n])
            c.spikes_per_neuron = spikes[n].sum(axis=(0, 1), dtype=np.int64)
            c.spikes = int(c.spikes_per_neuron.sum())
            result.counts[n] = c
        return result
