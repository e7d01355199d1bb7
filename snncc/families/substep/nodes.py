"""The sub-step primitive's IR node: a multi-level neuron on a sub-step clock, sending its payload as a burst."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc.families.multilevel.nodes import normalize_multilevel
from snncc.ir.nodes import CubaIntegerNeuron


def burst_step(pending: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of a sub-step burst: a binary spike wherever payload is still pending; returns ``(spikes, pending)``.

    A sub-step multi-level neuron sets ``pending = z`` at its period's boundary and sends its payload as ``z``
    spikes on consecutive steps starting at the boundary, so ``z <= substeps`` always fits.
    """
    pending = np.asarray(pending, dtype=np.int64)
    spikes = (pending > 0).astype(np.int64)
    return spikes, pending - spikes


@dataclass(eq=False)
class QSubStepMultiLevel(CubaIntegerNeuron):
    """A multi-level neuron on a sub-step clock, sending its payload ``z`` as ``z`` binary spikes.

    Every input step is ``substeps`` steps of the target. The neuron sums its synapses' deliveries over a period,
    and at the period's first step (the boundary) runs
    :func:`snncc.families.multilevel.integer.multilevel_step` once on ``shift_floor(sum, input_exp)`` (the
    synapses carry mantissas only, so the exponent is applied to the exact sum, never per delivery); it then sends
    one binary spike per step until ``z`` are sent (``z <= levels <= substeps``). Between boundaries nothing
    decays. Its graph runs on the family's own runners (:mod:`snncc.families.substep.runners`).
    """

    TYPE: ClassVar[str] = "snncc.QSubStepMultiLevel"
    BURSTS: ClassVar[bool] = True
    du: int
    dv: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    theta_exp: int
    offset: int
    levels: int
    substeps: int
    input_exp: int = 0

    def __post_init__(self) -> None:
        normalize_multilevel(self)
        self.substeps, self.input_exp = int(self.substeps), int(self.input_exp)
        if self.substeps < self.levels:
            raise ValueError(f"substeps ({self.substeps}) must be at least levels ({self.levels})")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape
