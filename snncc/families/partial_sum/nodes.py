"""The signed relay's integer node: memoryless neurons that re-emit their summed input one step later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc import fixedpoint as fx
from snncc.families.partial_sum.integer import relay_step
from snncc.ir.nodes import IntegerNeuron, NeuronState, optional


@dataclass(eq=False)
class QRelay(IntegerNeuron):
    """``neurons`` memoryless integer neurons sending their summed input ``a`` (:func:`relay_step`).

    ``levels``: the largest payload magnitude they send (a signed graded payload in ``-levels..levels``), or None
    for a relay of binary spikes (its input is 0 or 1). Traces: ``u`` stays 0, ``v`` is the value sent.
    """

    TYPE: ClassVar[str] = "snncc.QRelay"
    RESET: ClassVar[str] = "none"
    neurons: int
    levels: int | None = None

    def __post_init__(self) -> None:
        self.neurons = int(self.neurons)
        self.levels = optional(self.levels, int)
        if self.neurons < 1 or (self.levels is not None and self.levels < 1):
            raise ValueError(f"a relay needs neurons >= 1 and levels >= 1 (or None), got {self.neurons} and "
                             f"{self.levels}")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return (self.neurons,)

    out_shape = in_shape

    @property
    def payload_levels(self) -> int | None:
        return self.levels

    def bias_values(self) -> np.ndarray:
        return np.zeros(self.neurons, np.int64)

    def integer_step(self, state: NeuronState, a: np.ndarray, fmt: fx.NeuronFormat) -> np.ndarray:
        state.v = relay_step(a)
        return state.v.copy()

    def summary(self) -> str:
        return "binary" if self.levels is None else f"signed graded |payload|<={self.levels}"
