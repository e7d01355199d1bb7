"""Input payloads for running a compiled network: load them from a file or draw random ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import VerificationError
from .ir import InputEncoding

SPIKE_RATE = 0.2  # firing probability of random binary input


def random_inputs(encoding: InputEncoding, n_in: int, samples: int, timesteps: int, seed: int = 0) -> np.ndarray:
    """Random payloads (samples, T, n_in): uniform graded levels, or Bernoulli spikes at ``SPIKE_RATE``."""
    rng = np.random.default_rng(seed)
    if encoding.graded:
        return rng.integers(0, encoding.max_value + 1, size=(samples, timesteps, n_in), dtype=np.int64)
    return (rng.random((samples, timesteps, n_in)) < SPIKE_RATE).astype(np.int64)


def load_inputs(path: str | Path) -> np.ndarray:
    """Load payloads from ``.npy`` (an array) or ``.npz`` (its ``inputs`` array, or its only array)."""
    p = Path(path)
    if not p.is_file():
        raise VerificationError(f"input file {p} does not exist")
    try:
        data = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise VerificationError(f"{p} is not a numpy .npy/.npz file: {exc}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        names = list(data.files)
        key = "inputs" if "inputs" in names else (names[0] if len(names) == 1 else None)
        if key is None:
            raise VerificationError(f"{p} holds {names}; name the payload array 'inputs'")
        data = data[key]
    return np.asarray(data)
