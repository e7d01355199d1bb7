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
from snncc.kernels import abs_max, nonzero_per_column


@dataclass
class LayerTrace:
    spikes: np.ndarray  # (batch, T, n) int8 binary spikes; int32 payloads z of a graded layer
    latency: int  # synapse layers between the input and this layer
    u: np.ndarray | None = None  # (batch, T, n) state after the step, when recorded (whatever the family keeps in u)
    v: np.ndarray | None = None
    bursts: np.ndarray | None = None  # (batch, T * S, n) binary spikes of a sub-step layer, sub-step by sub-step


@dataclass
class LayerCounts:
    """Operation counts of one layer, summed over samples and input steps.

    Two views. The chip's: ``synops`` (each spike of a sub-step burst counted), ``neuron_updates`` (every neuron
    every step), split into ``neuron_updates_active`` and the rest (see :func:`count_operations`). NeuroBench 2.x's
    (``SynapticOperations``, ``MembraneUpdates``), per model layer call, i.e. per sample and input step:
    ``nb_effective_ac`` / ``nb_effective_mac`` (non-zero input x non-zero weight, in calls whose inputs do / do not
    all lie in {-1, 0, 1}), ``nb_dense`` (every connection in every call) and ``membrane_updates``. A count that
    needs the neuron states is None when the run did not record them.
    """

    synops: int = 0  # synaptic operations: (non-zero input) x (non-zero weight) pairs
    synops_dense: int = 0  # every input x every weight, as on hardware without sparsity
    graded_input: bool = False  # synops carry graded payloads (MACs in the paper convention)
    neuron_updates: int = 0
    spikes: int = 0  # messages sent: non-zero outputs (a graded payload z > 0 is one message)
    spikes_per_neuron: np.ndarray | None = None  # (n,), summed over samples and steps
    nb_effective_ac: int = 0
    nb_effective_mac: int = 0
    nb_dense: int = 0
    membrane_updates: int | None = None
    neuron_updates_active: int | None = None

    @property
    def neuron_updates_inactive(self) -> int | None:
        active = self.neuron_updates_active
        return None if active is None else self.neuron_updates - active

    def to_dict(self) -> dict:
        return {
            "synops": int(self.synops), "synops_dense": int(self.synops_dense),
            "graded_input": bool(self.graded_input), "neuron_updates": int(self.neuron_updates),
            "spikes": int(self.spikes), "nb_effective_ac": int(self.nb_effective_ac),
            "nb_effective_mac": int(self.nb_effective_mac), "nb_dense": int(self.nb_dense),
            "membrane_updates": self.membrane_updates, "neuron_updates_active": self.neuron_updates_active,
            "neuron_updates_inactive": self.neuron_updates_inactive,
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

    NeuroBench's counts take one model layer call per sample and input step (NeuroBench classes a call of a whole
    batch; per sample is its batch-size-1 figure): a payload ``z`` is one operation per non-zero weight, whatever
    ``z``. From recorded states (``u`` and ``v``): an update is *active* when the neuron's state before or after
    the step is non-zero or it sends (an input or bias moves a resting neuron's state); a neuron at rest that stays
    at rest is *inactive*, its update a no-op (not split on a sub-step clock, whose traces hold periods). Membrane
    updates are NeuroBench's: every neuron in a sample's first step, then each step whose ``v`` differs from the
    step before.
    """
    batch, timesteps, _ = inputs.shape
    spikes: dict[str, np.ndarray] = {graph.input_names[0]: inputs}
    spikes.update({n: t.spikes for n, t in layers.items()})
    bursts = {n for n, node in graph.of_type(IntegerNeuron) if node.BURSTS}
    steps = timesteps * max((graph.nodes[n].substeps for n in bursts), default=1)
    events: dict[tuple[str, bool], np.ndarray] = {}  # per source: its events per neuron, over samples and steps

    def per_neuron(src_name: str, payloads: bool = True) -> np.ndarray:
        """A source's events per neuron summed over samples and steps: a burst layer's ``z`` spikes each
        (``payloads``), else (and for NeuroBench) its non-zero outputs."""
        key = (src_name, payloads and src_name in bursts)
        if key not in events:
            s = spikes[src_name]
            flat = s.reshape(-1, s.shape[2])
            events[key] = flat.sum(axis=0, dtype=np.int64) if key[1] else nonzero_per_column(flat)
        return events[key]

    def wide_calls(src_name: str) -> np.ndarray:
        """Per neuron, its non-zero outputs in the calls (sample, step) whose payloads do not all lie in {-1, 0, 1}
        (NeuroBench's MACs); none for binary spikes."""
        s = spikes[src_name]
        if not s.size or abs_max(s) <= 1:
            return np.zeros(s.shape[2], np.int64)
        wide = (np.abs(s) > 1).any(axis=2)
        return (s[wide] != 0).sum(axis=0, dtype=np.int64)

    counts: dict[str, LayerCounts] = {}
    for name, node in graph.of_type(IntegerSynapse):
        src_name = graph.predecessors(name)[0]
        if isinstance(node, QConv):  # connections per input: the receptive fields, weights shared
            nnz_cols = fan_out(node.weight, node.geometry)
            connections = int(fan_out(np.ones_like(node.weight), node.geometry).sum())
        else:
            nnz_cols, connections = (node.weight != 0).sum(axis=0).astype(np.int64), node.weight.size
        # sum over (sample, step) of events @ nnz_cols == (events summed over samples and steps) @ nnz_cols
        effective, mac = int(per_neuron(src_name, False) @ nnz_cols), int(wide_calls(src_name) @ nnz_cols)
        counts[name] = LayerCounts(synops=int(per_neuron(src_name) @ nnz_cols),
                                   synops_dense=batch * steps * connections, graded_input=node.graded,
                                   nb_effective_ac=effective - mac, nb_effective_mac=mac,
                                   nb_dense=batch * timesteps * connections)
    for name, node in graph.of_type(IntegerNeuron):
        trace, totals = layers[name], per_neuron(name)
        c = LayerCounts(neuron_updates=batch * steps * totals.size, spikes=int(totals.sum()), spikes_per_neuron=totals)
        if trace.u is not None and trace.v is not None:
            c.membrane_updates = batch * totals.size + int(np.count_nonzero(trace.v[:, 1:] != trace.v[:, :-1]))
            if steps == timesteps:
                c.neuron_updates_active = _active_updates(node.integer_state(batch), trace)
        counts[name] = c
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


def _active_updates(start: Any, trace: LayerTrace) -> int:
    """Updates whose neuron is not at rest before and after the step, or sends (``start``: the initial state)."""
    after = (trace.u != 0) | (trace.v != 0)
    before = np.concatenate([((start.u != 0) | (start.v != 0))[:, None], after[:, :-1]], axis=1)
    return int(np.count_nonzero(before | after | (trace.spikes != 0)))
