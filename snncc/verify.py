"""``snncc verify``: prove the deployed network equals the reference, and measure how far it is from float.

Bit-exact checks (the exit status): the reference simulator against every exact backend the target runs (Lava's
process graph in every spike, and in u and v at every step of every layer; the lava-dl netx network in every spike,
when the bundle has a netx file). Fidelity (reported, not part of the exit status unless a minimum is asked for):
float model vs integer model, per-layer spike agreement and firing rates, share of identical predictions.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import values
from .backends import backend, target_backends
from .backends.reference.trace import concatenate
from .bundle import Bundle
from .fidelity import compare_float_int
from .inputs import check_payloads, load_inputs, random_inputs, trace_values

DEFAULT_SAMPLES = 8


@dataclass
class Comparison:
    """One bit-exact comparison between two backends."""

    a: str
    b: str
    equal: bool
    checked: list[str] = field(default_factory=list)  # e.g. "lif_2.spikes"
    first_mismatch: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "equal": self.equal, "checked": self.checked,
                "first_mismatch": self.first_mismatch}


@dataclass
class VerifyResult:
    comparisons: list[Comparison]
    fidelity: dict[str, Any]
    samples: int
    inputs: str
    min_output_agreement: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per backend
    workers: int = 1

    @property
    def bit_exact(self) -> bool:
        return all(c.equal for c in self.comparisons)

    @property
    def passed(self) -> bool:
        ok = self.bit_exact
        if self.min_output_agreement is not None:
            ok = ok and self.fidelity["output_agreement"] >= self.min_output_agreement
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "bit_exact": self.bit_exact, "samples": self.samples, "inputs": self.inputs,
                "comparisons": [c.to_dict() for c in self.comparisons], "fidelity": self.fidelity,
                "min_output_agreement": self.min_output_agreement, "seconds": self.seconds, "workers": self.workers}

    def render(self) -> str:
        lines = [f"verified on {self.samples} {self.inputs} samples"]
        if self.seconds:
            lines[0] += " (" + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()) + (
                f"; slow backends over {self.workers} workers)" if self.workers > 1 else ")")
        for c in self.comparisons:
            status = "BIT-EXACT" if c.equal else "MISMATCH"
            lines.append(f"  {c.a} vs {c.b}: {status} ({len(c.checked)} traces compared)")
            if c.first_mismatch:
                lines.append(f"    first mismatch: {c.first_mismatch}")
        f = self.fidelity
        lines.append(f"  float vs integer: output agreement {100 * f['output_agreement']:.1f}%")
        for name, lay in f["layers"].items():
            lines.append(f"    {name:<14} spike agreement {100 * lay['agreement']:6.2f}%  rate float "
                         f"{lay['float_rate']:.4f} int {lay['int_rate']:.4f}")
        lines += [f"  warning: {w}" for w in f.get("warnings", [])]
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)


def compare_results(a_name: str, a: Any, b_name: str, b: Any, states: bool) -> Comparison:
    """Compare two SimResults trace by trace; report the first differing entry."""
    cmp = Comparison(a=a_name, b=b_name, equal=True)
    for layer, ta in a.layers.items():
        tb = b.layers[layer]
        fields = ["spikes"] + (["bursts"] if ta.bursts is not None and tb.bursts is not None else [])
        fields += ["u", "v"] if states and ta.u is not None and tb.u is not None else []
        for f in fields:
            xa, xb = np.asarray(getattr(ta, f)), np.asarray(getattr(tb, f))
            cmp.checked.append(f"{layer}.{f}")
            if xa.shape != xb.shape or not np.array_equal(xa, xb):
                cmp.equal = False
                if cmp.first_mismatch is None:
                    cmp.first_mismatch = _first_mismatch(layer, f, xa, xb)
    return cmp


def _first_mismatch(layer: str, what: str, xa: np.ndarray, xb: np.ndarray) -> dict[str, Any]:
    if xa.shape != xb.shape:
        return {"layer": layer, "trace": what, "shapes": [list(xa.shape), list(xb.shape)]}
    sample, step, neuron = (int(i) for i in np.argwhere(xa != xb)[0])
    return {"layer": layer, "trace": what, "sample": sample, "step": step, "neuron": neuron,
            "a": int(xa[sample, step, neuron]), "b": int(xb[sample, step, neuron])}


def verify_bundle(bundle: Bundle, inputs: np.ndarray | str | Path | None = None, samples: int = DEFAULT_SAMPLES,
                  seed: int = 0, states: bool = True, skip: tuple[str, ...] = (),
                  min_output_agreement: float | None = None,
                  progress: Callable[[str], None] | None = None, workers: int = 1) -> VerifyResult:
    """Run the reference and every exact backend of the target (but those in ``skip``, and those needing a file the
    bundle lacks) on the same inputs and compare; also float vs integer fidelity. The slow backends (Lava's) run
    over ``workers`` processes, a slice of the samples each (:func:`run_in_workers`)."""
    say = progress or (lambda _m: None)
    clock: dict[str, float] = {}
    if min_output_agreement is not None:
        min_output_agreement = values.share(min_output_agreement, "--min-output-agreement")
    if inputs is None:
        values.check_memory(values.count(samples, "--samples"), bundle.timesteps, trace_values(bundle.graph),
                            "verify")
        x = random_inputs(bundle.encoding, bundle.n_inputs, samples, bundle.timesteps, values.seed(seed))
        kind = "random"
    else:
        x = (load_inputs(inputs, bundle.n_inputs, bundle.encoding) if isinstance(inputs, (str, Path))
             else check_payloads(inputs, bundle.n_inputs, bundle.encoding))
        kind = "given"  # bundle.run guards the memory its traces take
    say(f"reference simulator on {len(x)} samples")
    start = time.perf_counter()
    ref = bundle.run(x, "reference", record_states=states)
    clock["reference"] = time.perf_counter() - start
    comparisons = []
    for name in target_backends(bundle.target):
        other = backend(name)
        if name == "reference" or not other.exact or name in skip:
            continue
        if other.export is not None and not bundle.manifest.get(other.export, {}).get("file"):
            continue  # the bundle has no such file: nothing to compare
        say(other.describe)
        with_states = states and other.records_states
        start = time.perf_counter()
        result = run_in_workers(bundle, x, name, with_states, workers, say)
        clock[name] = time.perf_counter() - start
        comparisons.append(compare_results("reference", ref, name, result, with_states))
    say("float model")
    fidelity = compare_float_int(bundle.float_graph, bundle.run(x, "float", record_states=states), bundle.graph, ref,
                                 bundle.target.neuron_format.state_bits)
    return VerifyResult(comparisons=comparisons, fidelity=fidelity, samples=len(x), inputs=kind,
                        min_output_agreement=min_output_agreement, seconds=clock, workers=workers)


CHUNKS_PER_WORKER = 2  # a few chunks per worker: progress to show, while each Lava run's set-up is paid rarely


def run_in_workers(bundle: Bundle, x: np.ndarray, name: str, states: bool, workers: int,
                   say: Callable[[str], None]) -> Any:
    """``bundle.run(x, name)``, over ``workers`` processes when there are several and the bundle has a folder they
    can load it from: consecutive slices of the samples, joined back in order (the samples are independent)."""
    if workers <= 1 or bundle.path is None or len(x) < 2:
        return bundle.run(x, name, record_states=states)
    slices = [idx for idx in np.array_split(np.arange(len(x)), min(len(x), workers * CHUNKS_PER_WORKER)) if idx.size]
    parts: dict[int, Any] = {}
    context = multiprocessing.get_context("spawn")  # no fork of this process's threads (BLAS, numba, the simulator)
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {pool.submit(_run_slice, str(bundle.path), x[idx[0]:idx[-1] + 1], name, states): i
                   for i, idx in enumerate(slices)}
        done = 0
        for future in as_completed(futures):
            parts[futures[future]] = future.result()
            done += len(slices[futures[future]])
            say(f"{name}: {done}/{len(x)} samples over {workers} workers")
    return concatenate([parts[i] for i in range(len(slices))])


def _run_slice(path: str, x: np.ndarray, name: str, states: bool) -> Any:
    """A worker's part: run its slice on the bundle, which it loads (and checks) once for all its slices."""
    return _worker_bundle(path).run(x, name, record_states=states)


@functools.lru_cache(maxsize=1)
def _worker_bundle(path: str) -> Bundle:
    return Bundle.load(path)
