"""Data-set runs: a bundle over a whole (labelled) set of payloads, shard by shard, with progress.

A shard is a slice of samples that one call runs (:func:`run_shard`): it returns each sample's output spike counts
and the shard's operation counts. Shards are independent and their counts are integers, so the run is the same
whether the shards run here one after the other or on a cluster (:mod:`snncc.distributed`), in whatever order
they finish: :func:`merge` adds counts and orders outputs by the shards' first sample. Accuracy, per-layer rates
and energy per inference (:func:`snncc.reports.energy.energy_report`, the compile report's model) come from the
merged figures.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backends import backend as find_backend
from .backends.reference.trace import LayerCounts, add_counts
from .bundle import Bundle
from .errors import OptionError
from .fidelity import logical_spikes
from .inputs import load_inputs
from .ir import IntegerNeuron
from .reports.energy import energy_report
from .reports.energy_lines import band_text, joules, neurobench_lines, paper_label

DEFAULT_SHARD = 256  # samples per shard: large enough that the simulator's per-step overhead is amortised


@dataclass
class Shard:
    """What one shard's run returns: its first sample's index, output spike counts (n, classes) and counts, and
    the run's clock (latency and sub-steps, the same for every shard of a bundle)."""

    start: int
    outputs: np.ndarray
    counts: dict[str, LayerCounts]
    latency: int = 0
    substeps: int = 1


@dataclass
class DatasetRun:
    """A whole set's run: per-sample outputs and predictions, and the set's counts, rates and energy."""

    backend: str
    samples: int
    timesteps: int
    seconds: float
    outputs: np.ndarray  # (samples, classes) output spike counts over the T steps
    counts: dict[str, LayerCounts]
    rates: dict[str, float]  # neuron layer -> spikes per neuron per step
    energy: dict[str, Any]
    labels: np.ndarray | None = None
    engine: str = "local"
    notes: list[str] = field(default_factory=list)

    @property
    def predictions(self) -> np.ndarray:
        """argmax of the output counts, the lowest class index on ties (as :func:`snncc.fidelity.predictions`)."""
        return self.outputs.argmax(axis=1)

    @property
    def accuracy(self) -> float | None:
        return None if self.labels is None else float(np.mean(self.predictions == self.labels))

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "engine": self.engine, "samples": self.samples, "timesteps": self.timesteps,
                "seconds": self.seconds, "accuracy": self.accuracy,
                "correct": None if self.labels is None else int(np.sum(self.predictions == self.labels)),
                "layers": {n: {"rate": r} for n, r in self.rates.items()},
                "counts": {n: c.to_dict() for n, c in self.counts.items()}, "energy": self.energy,
                "predictions": self.predictions.tolist()}

    def render(self) -> str:
        per = 1e3 * self.seconds / max(self.samples, 1)
        lines = [f"ran {self.samples} samples on the {self.backend} backend ({self.engine}) in {self.seconds:.2f} s "
                 f"({per:.3f} ms per sample)"]
        if self.labels is not None:
            correct = int(np.sum(self.predictions == self.labels))
            lines.append(f"accuracy: {100 * self.accuracy:.2f}% ({correct} / {self.samples})")
        lines.append("spikes per neuron and step: " + ", ".join(f"{n} {r:.4f}" for n, r in self.rates.items()))
        if not self.energy:  # the float model: no chip, no counts worth pricing
            return "\n".join(lines + self.notes)
        pi = self.energy["per_inference"]
        lines.append(f"per inference: {pi['synops']:,.0f} synaptic ops, {pi['neuron_updates']:,.0f} neuron updates"
                     + (f" ({pi['neuron_updates_active']:,.0f} active)" if pi.get("neuron_activity_measured") else "")
                     + f", {pi['spikes']:,.0f} spikes, {pi['spike_messages']:,.0f} messages")
        tm, pc = self.energy["target_model"], self.energy["paper_convention"]
        lines.append(f"energy per inference (target model): {joules(tm['total_j'])}{band_text(self.energy)} = "
                     f"dynamic {joules(tm['dynamic_total_j'])} + static {joules(tm['static_j'])} over "
                     f"{1e6 * tm['latency_s']:.0f} us")
        lines.append(f"energy per inference (SNN-paper convention, {paper_label(self.energy)}): "
                     f"{joules(pc['energy_j'])}")
        lines += [line for line in neurobench_lines(self.energy) if line]
        return "\n".join(lines + self.notes)


def run_shard(b: Bundle, x: np.ndarray, start: int, backend: str = "reference") -> Shard:
    """Run samples ``x`` (n, T, n_in) of a set whose first is sample ``start``; the unit of work of every engine."""
    chosen = find_backend(backend)  # states, where recorded, split the neuron updates into active and inactive
    result = b.run(x, backend, record_states=chosen.records_states and not chosen.runs_float)
    graph = b.float_graph if find_backend(backend).runs_float else b.graph
    out = result.output_layers[0]
    outputs = logical_spikes(graph, out, result.layers[out].spikes).sum(axis=1, dtype=np.int64)
    return Shard(start=start, outputs=outputs, counts=result.counts, latency=result.latency,
                 substeps=result.substeps)


def shards(samples: int, size: int = DEFAULT_SHARD) -> list[tuple[int, int]]:
    """(start, stop) of consecutive shards of at most ``size`` samples."""
    return [(s, min(s + size, samples)) for s in range(0, samples, size)]


def merge(parts: Iterable[Shard]) -> Shard:
    """One shard of the whole set: outputs in sample order, counts summed (exact: integers)."""
    ordered = sorted(parts, key=lambda p: p.start)
    if not ordered:
        raise ValueError("no shards to merge")
    counts = functools.reduce(add_counts, (p.counts for p in ordered))
    return Shard(start=ordered[0].start, outputs=np.concatenate([p.outputs for p in ordered]), counts=counts,
                 latency=ordered[0].latency, substeps=ordered[0].substeps)


def load_labels(path: str | Path, samples: int) -> np.ndarray:
    """Class labels from a .npy file: one integer >= 0 per sample (every error names the file)."""
    p = Path(path)
    if not p.is_file():
        raise OptionError(f"{p}: no such labels file")
    try:
        y = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise OptionError(f"{p}: not a .npy array ({e})") from None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != samples:
        raise OptionError(f"{p}: labels must be one integer per sample, shape ({samples},); got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or (y.dtype.kind == "f" and np.all(y == np.round(y)))):
        raise OptionError(f"{p}: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise OptionError(f"{p}: labels must be >= 0, got {int(y.min())}")
    return y


def run_dataset(bundle: Bundle, inputs: str | Path | np.ndarray, labels: str | Path | np.ndarray | None = None,
                backend: str = "reference", shard_size: int = DEFAULT_SHARD,
                engine: Callable[..., Iterator[Shard]] | None = None,
                progress: Callable[[int, int], None] | None = None) -> DatasetRun:
    """Run a whole set; ``engine(bundle, x, ranges, backend)`` yields shards as they finish (default: here, in
    order); ``progress(done, total)`` is called after each shard."""
    x = load_inputs(inputs, bundle.n_inputs, bundle.encoding) if isinstance(inputs, (str, Path)) else inputs
    y = None if labels is None else (load_labels(labels, len(x)) if isinstance(labels, (str, Path))
                                     else np.asarray(labels, np.int64))
    ranges = shards(len(x), shard_size)
    run = engine or local_engine
    t0 = time.perf_counter()
    parts, done = [], 0
    for part in run(bundle, x, ranges, backend):
        parts.append(part)
        done += len(part.outputs)
        if progress:
            progress(done, len(x))
    seconds = time.perf_counter() - t0
    whole = merge(parts)
    if y is not None and y.size and y.max() >= whole.outputs.shape[1]:
        raise OptionError(f"labels go up to {int(y.max())}, but the network has {whole.outputs.shape[1]} output "
                          "classes")
    steps = int(x.shape[1])
    energy = ({} if find_backend(backend).runs_float else
              energy_report(bundle.graph, whole.counts, bundle.target, len(x), steps * whole.substeps,
                            whole.latency * whole.substeps))
    return DatasetRun(backend=backend, samples=len(x), timesteps=steps, seconds=seconds, outputs=whole.outputs,
                      counts=whole.counts, rates=layer_rates(bundle, whole.counts, len(x), steps * whole.substeps),
                      energy=energy, labels=y, engine=getattr(run, "describe", "local"))


def local_engine(bundle: Bundle, x: np.ndarray, ranges: list[tuple[int, int]], backend: str) -> Iterator[Shard]:
    """Shards one after the other in this process (the simulator threads each over its cores)."""
    for start, stop in ranges:
        yield run_shard(bundle, np.ascontiguousarray(x[start:stop]), start, backend)


local_engine.describe = "this process"  # type: ignore[attr-defined]


def layer_rates(bundle: Bundle, counts: dict[str, LayerCounts], samples: int, timesteps: int) -> dict[str, float]:
    """Spikes per neuron per step of every neuron layer over the set."""
    return {n: counts[n].spikes / max(1, samples * timesteps * node.size)
            for n, node in bundle.graph.of_type(IntegerNeuron) if n in counts}
