"""Cycle-accurate integer reference simulator, bit-exact with Lava's ``fixed_pt`` process models.

It follows Lava's schedule: every synapse delivers what it computed in the previous step, then every neuron
updates on the sum of its synapses' deliveries, then every synapse accumulates its source's output of this step.
All arithmetic comes from :mod:`snncc.fixedpoint`. Samples run side by side (batched), each from its initial state;
each layer starts at the step its sample's first input reaches it, as the deployed network's staggered resets
make it do (see :mod:`.trace`), and is silent outside its window.

Neuron layers and what their traces hold:

* ``QLIF``: binary spikes (int8); states ``u`` (current) and ``v`` (voltage). ``v`` starts every sample at
  ``v_init``; ``v_min`` floors ``v`` before the spike test.
* ``QMultiLevel``: the graded payload ``z`` in ``spikes`` (int32); states ``u`` and ``v``. A synapse fed by such a
  layer must be ``graded`` (it multiplies the payload).
* ``QARLIF``: binary spikes (int8); ``v`` is the voltage and ``u`` holds the **reset memory m** (the AR-LIF has no
  current state; its second state word is ``m``). Its input current is
  ``x = round(a * input_gain * 2**input_shift) + bias``.

A synapse flagged ``snncc.recurrent`` is an ordinary synapse in time: it delivers at step k what its source sent at
step k - 1, so the first delivery in its source's window is 0 (the source is silent before its window).
"""

from __future__ import annotations

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import GraphError, VerificationError
from snncc.ir import Graph, InputEncoding, type_name
from snncc.ir.graph import layer_size
from snncc.ir.nodes import QARLIF, QLIF, QConv, QDense, QMultiLevel

from .trace import LayerTrace, SimResult, count_operations

NEURON_NODES = (QLIF, QMultiLevel, QARLIF)  # the integer neuron layers every backend runs
SYNAPSE_NODES = (QDense, QConv)  # the integer synapses


def accumulate(node: QDense | QConv, spikes: np.ndarray) -> np.ndarray:
    """What a synapse computes from its source's output this step (and delivers the next)."""
    if isinstance(node, QConv):
        return fx.conv_accumulate(node.weight, spikes, node.weight_exp, node.graded, node.geometry)
    return fx.synapse_accumulate(node.weight, spikes, node.weight_exp, node.graded)


def check_synapse_sources(graph: Graph) -> None:
    """Synapse rules every backend relies on: one source, which is the input or a neuron layer; a recurrent
    synapse's source is a neuron layer; a synapse fed by graded payloads (``QMultiLevel``) is ``graded``."""
    for name, node in graph.nodes.items():
        if not isinstance(node, SYNAPSE_NODES):
            continue
        preds = graph.predecessors(name)
        if len(preds) != 1 or not isinstance(graph.nodes[preds[0]], (nir.Input, *NEURON_NODES)):
            raise GraphError("a synapse must have exactly one source, the input or a neuron layer", layer=name)
        src = graph.nodes[preds[0]]
        if graph.is_recurrent(name) and not isinstance(src, NEURON_NODES):
            raise GraphError("a recurrent synapse must feed back a neuron layer's output", layer=name)
        if isinstance(src, QMultiLevel) and not node.graded:
            raise GraphError(f"the synapse is fed graded payloads by '{preds[0]}' (QMultiLevel) but is not graded",
                             layer=name, hint="set QDense.graded = True")


class _Layer:
    """One neuron layer's state over the batch; ``step`` applies the node type's rule from snncc.fixedpoint.

    ``first`` is the current ``u`` (QLIF, QMultiLevel) or the reset memory ``m`` (QARLIF); ``v`` the voltage.
    """

    def __init__(self, node: object, batch: int, fmt: fx.NeuronFormat) -> None:
        n = layer_size(node)
        self.node, self.fmt = node, fmt
        self.first = np.zeros((batch, n), np.int64)
        self.v = np.zeros((batch, n), np.int64)
        if isinstance(node, QLIF):
            self.v += node.v_init
        if isinstance(node, QARLIF):
            self.bias = np.asarray(node.bias, np.int64)
        else:
            self.bias = fx.bias_value(node.bias_mant, node.bias_exp)

    @property
    def graded(self) -> bool:
        return isinstance(self.node, QMultiLevel)

    def step(self, a: np.ndarray) -> np.ndarray:
        node, fmt = self.node, self.fmt
        if isinstance(node, QLIF):
            self.first, self.v, s = fx.lif_step(self.first, self.v, a, node.du, node.dv, node.vth, self.bias,
                                                node.reset == "subtract", fmt, v_min=node.v_min)
        elif isinstance(node, QMultiLevel):
            self.first, self.v, s = fx.multilevel_step(self.first, self.v, a, node.du, node.dv, self.bias,
                                                       node.theta_exp, node.offset, node.levels, fmt)
        else:
            x = fx.arlif_input(a, node.input_gain, node.input_shift, self.bias)
            self.v, self.first, s = fx.arlif_step(self.v, self.first, x, node.dv, node.vth, node.amp, node.gate,
                                                  fmt)
        return s


class ReferenceSimulator:
    """Runs a quantized graph (``nir.Input`` -> ``QDense`` -> ``QLIF``/``QMultiLevel``/``QARLIF`` ... ->
    ``nir.Output``), recurrent synapses included."""

    def __init__(self, graph: Graph, neuron_format: fx.NeuronFormat | None = None) -> None:
        self.graph = graph
        self.fmt = neuron_format or fx.NeuronFormat()
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        order = graph.topological_order()
        for name in order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, *SYNAPSE_NODES, *NEURON_NODES)):
                raise GraphError(f"the reference simulator runs quantized graphs; node '{name}' is "
                                 f"{type_name(node)}", hint="compile the model first (quantize pass)")
        check_synapse_sources(graph)
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], SYNAPSE_NODES)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], NEURON_NODES)]
        self.sources = {s: graph.predecessors(s)[0] for s in self.synapses}
        self.depth = graph.synapse_depth()
        self.latency = max((self.depth[n] for n in self.neurons), default=0)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in) integer payloads: T + latency steps of Lava's schedule.

        A layer of latency ``d`` is held at its initial state, silent, until step ``d`` (when its first input
        arrives, which is where the deployed network resets it), records steps ``d .. d+T-1`` and is silent after.
        """
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, _ = x.shape
        g = self.graph
        zero = {s: np.zeros((batch, layer_size(g.nodes[s])), np.int64) for s in self.synapses}
        buf = dict(zero)
        layers = {n: _Layer(g.nodes[n], batch, self.fmt) for n in self.neurons}
        size = {n: layer_size(g.nodes[n]) for n in self.neurons}
        spikes = {n: np.zeros((batch, timesteps, size[n]), np.int32 if layers[n].graded else np.int8)
                  for n in self.neurons}
        states = ({n: (np.zeros((batch, timesteps, size[n]), np.int64),
                       np.zeros((batch, timesteps, size[n]), np.int64)) for n in self.neurons}
                  if record_states else {})
        silent = {n: np.zeros((batch, size[n]), np.int64) for n in self.neurons}
        out: dict[str, np.ndarray] = {self.input_name: np.zeros((batch, x.shape[2]), np.int64)}
        saturated = dict.fromkeys(self.neurons, 0)  # voltages clipped at the state limit (a fidelity guard)
        v_limit = self.fmt.state_max
        for k in range(timesteps + self.latency):
            out[self.input_name] = x[:, k] if k < timesteps else np.zeros_like(x[:, 0])
            delivered = {s: buf[s] for s in self.synapses}
            for n in self.neurons:
                t = k - self.depth[n]
                if not 0 <= t < timesteps:
                    out[n] = silent[n]
                    continue
                a = sum((delivered[p] for p in g.predecessors(n)), np.zeros((batch, size[n]), np.int64))
                out[n] = layers[n].step(a)
                spikes[n][:, t] = out[n]
                saturated[n] += int(np.count_nonzero(np.abs(layers[n].v) >= v_limit))
                if record_states:
                    states[n][0][:, t] = layers[n].first
                    states[n][1][:, t] = layers[n].v
            for syn in self.synapses:  # a silent source (outside its window, or no spikes) delivers nothing
                src = out[self.sources[syn]]
                buf[syn] = accumulate(g.nodes[syn], src) if src.any() else zero[syn]
        result = SimResult(timesteps=timesteps, batch=batch, latency=self.latency, output_layers=self.output_layers,
                           saturated=saturated)
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
