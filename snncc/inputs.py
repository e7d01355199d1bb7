"""Input payloads for running a compiled network: load them from a file or draw random ones, and check them.

Payloads are integers shaped (samples, T, n_in): spikes 0/1 for binary input, levels 0..max for graded input.
Everything that reaches a backend passes :func:`check_payloads` (one home for the rules); files are inspected
before they are read, so a header that claims petabytes or a truncated file is refused, not allocated.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import VerificationError, first_line
from .ir import Graph, InputEncoding
from .ir.graph import node_shapes
from .values import physical_memory, size_text

SPIKE_RATE = 0.2  # firing probability of random binary input


def random_inputs(encoding: InputEncoding, n_in: int, samples: int, timesteps: int, seed: int = 0) -> np.ndarray:
    """Random payloads (samples, T, n_in): uniform graded levels, or Bernoulli spikes at ``SPIKE_RATE``."""
    rng = np.random.default_rng(seed)
    if encoding.graded:
        return rng.integers(0, encoding.max_value + 1, size=(samples, timesteps, n_in), dtype=np.int64)
    return (rng.random((samples, timesteps, n_in)) < SPIKE_RATE).astype(np.int64)


def trace_values(graph: Graph) -> int:
    """Values one time step of one sample records, at most (every node's output, and u and v of each neuron): what
    the memory guard (:func:`snncc.values.check_memory`) multiplies by samples and steps."""
    total = 0
    for node in graph.nodes.values():
        _, out = node_shapes(node)
        total += 3 * int(np.prod(out)) if out else 0
    return max(total, 1)


def load_inputs(path: str | Path, n_in: int, encoding: InputEncoding) -> np.ndarray:
    """Payloads from ``.npy`` (an array) or ``.npz`` (its ``inputs`` array, or its only array), checked against
    ``n_in`` and ``encoding`` (every error names the file)."""
    p = Path(path)
    if not p.exists():
        raise VerificationError(f"input file {p} does not exist")
    if not p.is_file():
        raise VerificationError(f"input file {p} is not a file")
    if p.stat().st_size == 0:
        raise VerificationError(f"input file {p} is empty")
    data = _load_npz(p) if is_zip(p) else _load_npy(p)
    return check_payloads(data, n_in, encoding, where=str(p))


def check_payloads(inputs: Any, n_in: int, encoding: InputEncoding, where: str = "inputs") -> np.ndarray:
    """``inputs`` as int64 (samples, T, n_in) — a (T, n_in) array is one sample — or VerificationError naming
    ``where`` and the rule broken: a numeric dtype, the shape, at least one sample and step, integers in range."""
    x = np.asarray(inputs)
    kind = x.dtype.kind
    if kind == "c":
        raise VerificationError(f"{where}: payloads are complex ({x.dtype}); a chip takes real integer payloads")
    if kind == "O":
        raise VerificationError(f"{where}: payloads are Python objects; give an integer array")
    if kind not in "biuf":
        raise VerificationError(f"{where}: payload dtype {x.dtype} is not numeric; give integers (spikes 0/1, or "
                                "graded levels)")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != n_in:
        raise VerificationError(f"{where}: payloads must be shaped (samples, timesteps, {n_in}), got "
                                f"{tuple(np.shape(inputs))}")
    if x.shape[0] < 1:
        raise VerificationError(f"{where}: payloads hold no sample (shape {x.shape})")
    if x.shape[1] < 1:
        raise VerificationError(f"{where}: payloads hold no time step (shape {x.shape})")
    if kind == "f":
        if not np.all(np.isfinite(x)):
            raise VerificationError(f"{where}: payloads hold {int(np.sum(~np.isfinite(x)))} values that are not "
                                    "finite (NaN or inf)")
        if not np.array_equal(x, np.round(x)):
            raise VerificationError(f"{where}: payloads must be integers (spikes 0/1, or graded levels), got "
                                    "fractions")
    hi = encoding.max_value if encoding.graded else 1
    lo_seen, hi_seen = x.min(), x.max()
    if lo_seen < 0 or hi_seen > hi:
        raise VerificationError(f"{where}: payloads must lie in [0, {hi}] for {encoding.kind} input; got "
                                f"[{_number(lo_seen)}, {_number(hi_seen)}]")
    return np.ascontiguousarray(x, dtype=np.int64)


def _load_npy(p: Path) -> np.ndarray:
    """A memory-mapped view of a .npy file after checking its header against its size."""
    with open(p, "rb") as f:
        try:
            shape, dtype = _header(f)
        except Exception as exc:  # numpy's header parser fails in assorted ways on damaged text
            raise VerificationError(f"{p} is not a numpy .npy/.npz file: {first_line(exc)}") from None
        header_end = f.tell()
    _check_size(p, shape, dtype, available=p.stat().st_size - header_end)
    if dtype.hasobject:
        raise VerificationError(f"{p}: payloads are Python objects (an object array); give an integer array")
    try:
        return np.load(p, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise VerificationError(f"{p} could not be read as a numpy array: {first_line(exc)}") from None


def _load_npz(p: Path) -> np.ndarray:
    try:
        with zipfile.ZipFile(p) as z:
            names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
            if not names:
                raise VerificationError(f"{p} holds no array (an .npz file of .npy members)")
            key = "inputs" if "inputs" in names else (names[0] if len(names) == 1 else None)
            if key is None:
                raise VerificationError(f"{p} holds {names}; name the payload array 'inputs'")
            with z.open(f"{key}.npy") as f:
                shape, dtype = _header(f)
            _check_size(p, shape, dtype, available=z.getinfo(f"{key}.npy").file_size)
            if dtype.hasobject:
                raise VerificationError(f"{p}: payloads are Python objects (an object array); give an integer array")
        with np.load(p, allow_pickle=False) as data:
            return data[key]
    except VerificationError:
        raise
    except Exception as exc:  # a damaged archive or header fails in assorted ways
        raise VerificationError(f"{p} is not a numpy .npy/.npz file: {first_line(exc)}") from None


def is_zip(path: Path) -> bool:
    """zipfile.is_zipfile, which raises instead of answering on some damaged archives: those count as zips (and
    fail as damaged ones when opened)."""
    try:
        return zipfile.is_zipfile(path)
    except Exception:
        return True


def _header(f: Any) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy header, without reading the data."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _check_size(p: Path, shape: tuple[int, ...], dtype: np.dtype, available: int) -> None:
    """Refuse a header whose array the file does not hold, or that would not fit in this machine's memory."""
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > physical_memory():
        raise VerificationError(f"{p}: its header says it holds an array of shape {shape} ({size_text(need)}), "
                                "more than this machine's memory")
    if need > available:
        raise VerificationError(f"{p} is truncated: its header promises {need} bytes of data ({shape} {dtype}), "
                                f"the file holds {max(available, 0)}")


def _number(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)
