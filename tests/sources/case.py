"""What a library case gives the tests: the library's own NIR export, its inputs and its own output spikes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

T, BATCH, RATE = 40, 3, 0.3


@dataclass
class LibraryCase:
    """``inputs`` (batch, T, *input shape) and ``spikes`` (batch, T, n_out) as the library ran them; ``flags``
    are the preset overrides a user of this variant passes (e.g. ``reset="zero"``)."""

    library: str
    name: str
    nir_path: Path
    inputs: np.ndarray
    spikes: np.ndarray
    flags: dict = field(default_factory=dict)

    @property
    def payloads(self) -> np.ndarray:
        """The inputs as snncc takes them: (batch, T, n_in) integer spikes."""
        return self.inputs.reshape(self.inputs.shape[0], self.inputs.shape[1], -1).astype(np.int64)


def bernoulli(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Seeded input spikes (T, batch, *shape)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, BATCH, *shape), generator=g) < RATE).float()


def seeded(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def quiet(fn: Callable) -> Callable:
    """The libraries warn about deprecated nirtorch APIs on every export; the tests do not need to see it."""
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return run


def time_major_to_batch_major(spikes: torch.Tensor) -> np.ndarray:
    """(T, batch, ...) -> (batch, T, n) float64."""
    s = spikes.detach().double().numpy()
    return np.moveaxis(s, 0, 1).reshape(s.shape[1], s.shape[0], -1)
