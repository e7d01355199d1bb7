"""The KLIF family's float node (it is deployed as the LIF family's integer LIF, with a membrane floor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc.families.klif import bounds
from snncc.ir.nodes import FloatNeuron, NeuronState, per_neuron, reset_mode, vec


@dataclass(eq=False)
class KLIFNeuron(FloatNeuron):
    """Float KLIF (spikingjelly's KLIFNode, V_reset = 0, scale_reset off): learnable scale ``k``, ReLU on the membrane.

    With ``x`` the input current (``bias`` included): ``h = v + (x - v) / tau`` (``decay_input``) or
    ``h = v - v / tau + x``; ``f = max(k h, 0)``; ``s = f > threshold``;
    reset ``zero``: ``v = f (1 - s)``, ``subtract``: ``v = f - s threshold``. Per layer ``k`` and ``tau``.
    Equivalent to a LIF with decay ``k (1 - 1/tau)``, input gain ``k / tau`` (``k`` without decay_input) and a
    floor at 0 (see the family's lowering).
    """

    TYPE: ClassVar[str] = "snncc.KLIF"
    threshold: np.ndarray
    bias: np.ndarray
    k: float = 1.0
    tau: float = 2.0
    decay_input: bool = True
    reset: str = "zero"

    def __post_init__(self) -> None:
        self.threshold = vec(self.threshold)
        self.bias = per_neuron(self.bias, self.threshold.shape)
        self.k, self.tau, self.decay_input = float(self.k), float(self.tau), bool(self.decay_input)
        self.reset = reset_mode(self.reset)

    @property
    def decay(self) -> float:
        return bounds.decay(self.k, self.tau)

    @property
    def gain(self) -> float:
        return bounds.gain(self.k, self.tau, self.decay_input)

    def float_step(self, state: NeuronState, x: np.ndarray) -> np.ndarray:
        xb = x + self.bias
        h = state.v + (xb - state.v) / self.tau if self.decay_input else state.v - state.v / self.tau + xb
        f = np.maximum(self.k * h, 0.0)
        s = f > self.threshold
        state.v = f * (1 - s) if self.reset == "zero" else f - s * self.threshold
        return s.astype(np.float64)
