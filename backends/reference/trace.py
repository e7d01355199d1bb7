"""Results of a simulation: per-layer spike/state traces and operation counts.

Every trace is indexed (sample, t, neuron) by *input step* t = 0..T-1. In Lava time a layer ``latency`` synapses
deep processes input step t at step ``t + latency`` (and is reset at ``latency``, the step its sample's first
input arrives), so the traces of the reference, of Lava and of the float model compare directly.

On a sub-step clock (layers that send bursts, ``S`` sub-steps per input step) ``spikes`` holds each period's
spike count, i.e. the payload ``z`` the unlowered graded layer sends, and ``bursts`` the binary spikes of every
sub-step; ``u`` and ``v`` are the states after each period's boundary update.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snncc.conv import fan_out
from snncc.ir import IntegerNeuron, IntegerSynapse, QConv


@dataclass
class LayerTrace:
    spikes: np.ndarray  # (batch, T, n) int8 binary spikes; int32 payloads z of a graded layer
    latency: int  # synapse layers between the input and this layer
    u: np.ndarray | None = None  # (batch, T, n) state after the step, when recorded (whatever the family keeps in u)
    v: np.ndarray | None = None
    bursts: np.ndarray | None = None  # (batch, T * S, n) binary spikes of a sub-step layer, sub-step by sub-step


@dataclass
class LayerCounts:
    """Operation counts of one layer, summed over samples and input steps."""

    synops: int = 0  # synaptic operations: (non-zero input) x (non-zero weight) pairs
    synops_dense: int = 0  # every input x every weight, as on hardware without sparsity
    graded_input: bool = False  # synops carry graded payloads (MACs in the paper convention)
    neuron_updates: int = 0
    spikes: int = 0  # messages sent: non-zero outputs (a graded payload z > 0 is one message)
    spikes_per_neuron: np.ndarray | None = None  # (n,), summed over samples and steps

    def to_dict(self) -> dict:
        return {
            "synops": int(self.synops), "synops_dense": int(self.synops_dense),
            "graded_input": bool(self.graded_input), "neuron_updates": int(self.neuron_updates),
            "spikes": int(self.spikes),
        }


def add_counts(a: dict[str, LayerCounts], b: dict[str, LayerCounts]) -> dict[str, LayerCounts]:
    """Counts of two runs of the same graph (two shards of a data set) added layer by layer: every number and
    per-neuron array is summed, a flag is kept when either run has it."""
    out = {}
    for name in [*a, *(k for k in b if k not in a)]:
        if name not in a or name not in b:
            out[name] = a.get(name) or b[name]
            continue
        merged = {}
        for f in dataclasses.fields(LayerCounts):
            x, y = getattr(a[name], f.name), getattr(b[name], f.name)
            merged[f.name] = (x or y if isinstance(x, bool) else y if x is None else x if y is None else x + y)
        out[name] = LayerCounts(**merged)
    return out


@dataclass
class SimResult:
    timesteps: int  # input steps per sample (T)
    batch: int
    latency: int = 0  # deepest layer's latency: a Lava run of one sample takes T + latency steps
    layers: dict[str, LayerTrace] = field(default_factory=dict)  # neuron layers
    counts: dict[str, LayerCounts] = field(default_factory=dict)  # synapse and neuron layers
    output_layers: list[str] = field(default_factory=list)  # neuron layers feeding the graph outputs
    substeps: int = 1  # target steps per input step (the sub-step clock); latency counts input steps
    saturated: dict[str, int] = field(default_factory=dict)  # neuron layer -> states clipped at the voltage limit
    # predictions need the graph (a layer lowered to a population sums its members): snncc.fidelity.predictions


def count_operations(graph: Any, inputs: np.ndarray, layers: dict[str, LayerTrace]) -> dict[str, LayerCounts]:
    """Operation counts of a run, from its input payloads and aligned traces (any backend).

    A synapse performs one operation per (non-zero input, non-zero weight) pair in each of the T steps its
    destination processes (a multiply-accumulate when its input is graded); every neuron of a layer is updated once
    per step; a neuron's spikes are its non-zero outputs (messages), whatever their payload. On a sub-step clock of
    ``S`` sub-steps a layer's ``z`` counts ``z`` binary spikes, each one operation per non-zero weight, and every
    neuron is serviced (updated) in each of the ``T * S`` sub-steps.
    """
    batch, timesteps, _ = inputs.shape
    spikes: dict[str, np.ndarray] = {graph.input_names[0]: inputs}
    spikes.update({n: t.spikes for n, t in layers.items()})
    bursts = {n for n, node in graph.of_type(IntegerNeuron) if node.BURSTS}
    steps = timesteps * max((graph.nodes[n].substeps for n in bursts), default=1)
    events: dict[str, np.ndarray] = {}  # per source: its events per neuron, summed over samples and steps

    def per_neuron(src_name: str) -> np.ndarray:
        if src_name not in events:
            s = spikes[src_name]
            events[src_name] = (s.astype(np.int64) if src_name in bursts else (s != 0)).sum(axis=(0, 1),
                                                                                          dtype=np.int64)
        return events[src_name]

    counts: dict[str, LayerCounts] = {}
    for name, node in graph.of_type(IntegerSynapse):
        if isinstance(node, QConv):  # connections per input: the receptive fields, weights shared
            nnz_cols = fan_out(node.weight, node.geometry)
            connections = int(fan_out(np.ones_like(node.weight), node.geometry).sum())
        else:
            nnz_cols, connections = (node.weight != 0).sum(axis=0).astype(np.int64), node.weight.size
        # sum over (sample, step) of events @ nnz_cols == (events summed over samples and steps) @ nnz_cols
        counts[name] = LayerCounts(synops=int(per_neuron(graph.predecessors(name)[0]) @ nnz_cols),
                                   synops_dense=batch * steps * connections, graded_input=node.graded)
    for name, _node in graph.of_type(IntegerNeuron):
        totals = per_neuron(name)
        counts[name] = LayerCounts(neuron_updates=batch * steps * totals.size, spikes=int(totals.sum()),
                                   spikes_per_neuron=totals)
    return counts


def concatenate(parts: list[SimResult]) -> SimResult:
    """Runs of one graph on consecutive slices of a batch, as one run of the whole batch: traces joined along the
    samples, counts and saturation added (exact: integers)."""
    first = parts[0]
    out = SimResult(timesteps=first.timesteps, batch=sum(p.batch for p in parts), latency=first.latency,
                    output_layers=first.output_layers, substeps=first.substeps,
                    saturated={n: sum(p.saturated.get(n, 0) for p in parts) for n in first.saturated})
    for name, trace in first.layers.items():
        joined = {f: None if getattr(trace, f) is None else np.concatenate([getattr(p.layers[name], f) for p in parts])
                  for f in ("spikes", "u", "v", "bursts")}
        out.layers[name] = LayerTrace(latency=trace.latency, **joined)
    out.counts = functools.reduce(add_counts, (p.counts for p in parts))
    return out
