"""Results of a simulation: per-layer spike/state traces and operation counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerTrace:
    """Trace of one neuron layer, indexed (sample, step, neuron) in the simulator's own time.

    ``latency`` is the number of synapse layers between the input and this layer: the layer processes input
    index ``k - latency`` at step ``k``. ``aligned`` views cut the window that lines up with input steps 0..T-1.
    """

    spikes: np.ndarray
    latency: int
    u: np.ndarray | None = None
    v: np.ndarray | None = None

    def aligned(self, array: np.ndarray, timesteps: int) -> np.ndarray:
        return array[:, self.latency : self.latency + timesteps]


@dataclass
class LayerCounts:
    """Operation counts of one layer, summed over samples and steps."""

    synops: int = 0  # synaptic operations: (non-zero input) x (non-zero weight) pairs
    synops_dense: int = 0  # every input x every weight, as on hardware without sparsity
    graded_input: bool = False  # synops carry graded payloads (MACs in the paper convention)
    neuron_updates: int = 0
    spikes: int = 0
    spikes_per_neuron: np.ndarray | None = None  # (n,), summed over samples and steps

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("synops", "synops_dense", "graded_input", "neuron_updates", "spikes")}
        return {k: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v)
                for k, v in d.items()}


@dataclass
class SimResult:
    timesteps: int  # input steps per sample
    steps: int  # simulated steps (timesteps + the network's latency)
    batch: int
    layers: dict[str, LayerTrace] = field(default_factory=dict)  # neuron layers
    counts: dict[str, LayerCounts] = field(default_factory=dict)  # synapse and neuron layers
    output_layers: list[str] = field(default_factory=list)  # neuron layers feeding the graph outputs

    def aligned_spikes(self, name: str) -> np.ndarray:
        """Spikes of layer ``name`` for input steps 0..T-1: (batch, T, n)."""
        tr = self.layers[name]
        return tr.aligned(tr.spikes, self.timesteps)

    def output_spike_counts(self) -> np.ndarray:
        """Spike counts of the (first) output layer per sample over the aligned window: (batch, n)."""
        return self.aligned_spikes(self.output_layers[0]).sum(axis=1)

    def predictions(self) -> np.ndarray:
        """Class index per sample: the output neuron with the most spikes (lowest index on ties)."""
        return self.output_spike_counts().argmax(axis=1)
