"""Cycle-accurate integer reference simulator, bit-exact with Lava's ``fixed_pt`` process models.

It follows Lava's schedule: every synapse delivers what it computed in the previous step, then every neuron
updates on the sum of its synapses' deliveries, then every synapse accumulates its source's output of this step.
Each integer node steps itself with its family's integer rule (``IntegerNeuron.integer_step``, from
:mod:`snncc.fixedpoint`'s arithmetic). Samples run side by side (batched), each from its initial state; each layer
starts at the step its sample's first input reaches it, as the deployed network's staggered resets make it do (see
:mod:`.trace`), and is silent outside its window. Traces record what a layer sends (binary spikes as int8, graded
payloads as int32) and its state words ``u`` and ``v`` (a family may keep another quantity in ``u``, its reset
memory, say).

A synapse flagged ``snncc.recurrent`` is an ordinary synapse in time: it delivers at step k what its source sent at
step k - 1, so the first delivery in its source's window is 0 (the source is silent before its window). A graph
on a clock of its own (a family's ``graph_runners``) runs on that family's runner (see :mod:`snncc.backends.base`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import nir
import numpy as np
from threadpoolctl import threadpool_limits

from snncc import fixedpoint as fx
from snncc.backends.base import check_inputs
from snncc.errors import GraphError
from snncc.ir import Graph, InputEncoding, IntegerNeuron, IntegerSynapse, type_name
from snncc.kernels import count_at_limit

from .trace import LayerTrace, SimResult, add_counts, count_operations

THREADS_ENV = "SNNCC_THREADS"
MIN_SHARD = 8  # samples per thread below which one thread is faster (its step loop's overhead is per call)


def check_synapse_sources(graph: Graph) -> None:
    """Synapse rules every backend relies on: one source, which is the input or a neuron layer; a recurrent
    synapse's source is a neuron layer; a synapse fed by graded payloads is ``graded``."""
    for name, node in graph.nodes.items():
        if not isinstance(node, IntegerSynapse):
            continue
        preds = graph.predecessors(name)
        if len(preds) != 1 or not isinstance(graph.nodes[preds[0]], (nir.Input, IntegerNeuron)):
            raise GraphError("a synapse must have exactly one source, the input or a neuron layer", layer=name)
        src = graph.nodes[preds[0]]
        if graph.is_recurrent(name) and not isinstance(src, IntegerNeuron):
            raise GraphError("a recurrent synapse must feed back a neuron layer's output", layer=name)
        if isinstance(src, IntegerNeuron) and src.payload_levels is not None and not node.graded:
            raise GraphError(f"the synapse is fed graded payloads by '{preds[0]}' ({type_name(src)}) but is not "
                             "graded", layer=name, hint="set QDense.graded = True")


class ReferenceSimulator:
    """Runs a quantized graph (``nir.Input`` -> integer synapses -> integer neuron layers ... -> ``nir.Output``),
    recurrent synapses included."""

    def __init__(self, graph: Graph, neuron_format: fx.NeuronFormat | None = None) -> None:
        self.graph = graph
        self.fmt = neuron_format or fx.DEFAULT_FORMAT
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        order = graph.topological_order()
        for name in order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, IntegerSynapse, IntegerNeuron)):
                raise GraphError(f"the reference simulator runs quantized graphs; node '{name}' is "
                                 f"{type_name(node)}", hint="compile the model first (quantize pass)")
        check_synapse_sources(graph)
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], IntegerSynapse)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], IntegerNeuron)]
        self.sources = {s: graph.predecessors(s)[0] for s in self.synapses}
        self.depth = graph.synapse_depth()
        self.latency = max((self.depth[n] for n in self.neurons), default=0)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]

    def run(self, inputs: np.ndarray, record_states: bool = False, threads: int | None = None) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in) integer payloads: T + latency steps of Lava's schedule.

        A layer of latency ``d`` is held at its initial state, silent, until step ``d`` (when its first input
        arrives, which is where the deployed network resets it), records steps ``d .. d+T-1`` and is silent after.
        Samples are independent: the batch is cut into one shard per thread (:func:`simulation_threads`), each
        simulated on its own thread with BLAS held to one thread (the kernels release the GIL).
        """
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, _ = x.shape
        g = self.graph
        # the whole batch's traces, (batch, T, n); each shard writes its rows of them once, at its end
        traces = {n: [np.empty((batch, timesteps, g.nodes[n].size), sends_dtype(g.nodes[n]))]
                  + ([np.empty((batch, timesteps, g.nodes[n].size), np.int64) for _ in "uv"] if record_states else [])
                  for n in self.neurons}
        shards = np.array_split(np.arange(batch), max(1, min(simulation_threads(threads), batch // MIN_SHARD)))
        accumulate = {s: g.nodes[s].accumulator() for s in self.synapses}  # weights prepared once per run

        def shard(idx: np.ndarray) -> tuple[dict[str, int], dict]:
            """Simulate and count one shard (counts add up exactly, so each thread counts its own)."""
            rows = slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0)
            mine = {n: [t[rows] for t in ts] for n, ts in traces.items()}
            saturated = self._simulate(x[rows], record_states, mine, accumulate)
            layers = {n: LayerTrace(mine[n][0], self.depth[n], *mine[n][1:]) for n in self.neurons}
            return saturated, count_operations(g, x[rows], layers)

        with threadpool_limits(1, user_api="blas"):
            if len(shards) == 1:
                parts = [shard(np.arange(batch))]
            else:
                with ThreadPoolExecutor(len(shards)) as pool:
                    parts = list(pool.map(shard, shards))
        result = SimResult(timesteps=timesteps, batch=batch, latency=self.latency, output_layers=self.output_layers,
                           saturated={n: sum(p[0][n] for p in parts) for n in self.neurons})
        for n in self.neurons:
            spikes, *uv = traces[n]
            result.layers[n] = LayerTrace(spikes=spikes, latency=self.depth[n], u=uv[0] if uv else None,
                                          v=uv[1] if uv else None)
        result.counts = functools.reduce(add_counts, (p[1] for p in parts))
        return result

    def _simulate(self, x: np.ndarray, record_states: bool, sink: dict[str, list[np.ndarray]],
                  accumulate: dict[str, Callable[[np.ndarray], np.ndarray]]) -> dict[str, int]:
        """One shard of samples, written into ``sink`` (per neuron layer its (batch, T, n) sends, then u and v when
        recorded), its synapses computed by the run's ``accumulate``; returns per layer how many voltages reached
        the state limit."""
        batch, timesteps, _ = x.shape
        g = self.graph
        zero = {s: np.zeros((batch, int(np.prod(g.nodes[s].out_shape))), np.int64) for s in self.synapses}
        buf = dict(zero)
        state = {n: g.nodes[n].integer_state(batch) for n in self.neurons}
        size = {n: g.nodes[n].size for n in self.neurons}
        inputs_of = {n: g.predecessors(n) for n in self.neurons}
        # traces are written step-major (one contiguous row per step) and turned sample-major once at the end
        spikes = {n: np.zeros((timesteps, batch, size[n]), sends_dtype(g.nodes[n])) for n in self.neurons}
        states = ({n: (np.zeros((timesteps, batch, size[n]), np.int64),
                       np.zeros((timesteps, batch, size[n]), np.int64)) for n in self.neurons}
                  if record_states else {})
        silent = {n: np.zeros((batch, size[n]), np.int64) for n in self.neurons}
        out: dict[str, np.ndarray] = {}
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
                preds = inputs_of[n]
                a = delivered[preds[0]] if len(preds) == 1 else sum(delivered[p] for p in preds)
                out[n] = g.nodes[n].integer_step(state[n], a, self.fmt)
                spikes[n][t] = out[n]
                saturated[n] += count_at_limit(state[n].v, v_limit)
                if record_states:
                    states[n][0][t] = state[n].u
                    states[n][1][t] = state[n].v
            for syn in self.synapses:  # a silent source (outside its window, or no spikes) delivers nothing
                src = out[self.sources[syn]]
                buf[syn] = accumulate[syn](src) if src.any() else zero[syn]
        for n in self.neurons:  # step-major to sample-major, into the run's traces
            for dest, trace in zip(sink[n], (spikes[n], *states.get(n, ())), strict=True):
                dest[...] = trace.transpose(1, 0, 2)
        return saturated


def sends_dtype(node: IntegerNeuron) -> type:
    """What a layer's sends are recorded as: int8 binary spikes, int32 graded payloads."""
    return np.int8 if node.payload_levels is None else np.int32


def simulation_threads(requested: int | None = None) -> int:
    """Threads the reference simulator runs shards of a batch on: ``requested``, else ``SNNCC_THREADS``, else the
    cores this process may use."""
    if requested is None:
        env = os.environ.get(THREADS_ENV)
        requested = int(env) if env else len(os.sched_getaffinity(0))
    return max(1, int(requested))
