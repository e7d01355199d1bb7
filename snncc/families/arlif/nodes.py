"""The AR-LIF family's IR nodes: the float AR-LIF as trained, and snncc's integer AR-LIF program."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc import fixedpoint as fx
from snncc.families.arlif.integer import ARLIF_GAIN_BITS, ARLIF_ONE, ARLIF_SHIFT_LIMIT, arlif_input, arlif_step
from snncc.ir.nodes import FloatNeuron, IntegerNeuron, NeuronState, per_neuron, vec


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """torch's sigmoid in float64; exp overflows to inf for very negative x, which gives the exact limit 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


@dataclass(eq=False)
class ARLIFNeuron(FloatNeuron):
    """Float AR-LIF (adaptive threshold from the input current, reset memory ``m``, adaptive soft reset).

    With ``x`` the input current (bias included): ``v = decay_v * v + x``; ``thr = threshold + amp * tanh(x)``;
    ``s = v > thr``; ``g = sigmoid(gate * x)``; ``m = max(m,0)*g + min(m,0)*(1-g)``; ``m += (2s-1) sigmoid(x)``;
    ``v -= s * (thr + sigmoid(m))``. ``amp`` is the trained ``tanh(a)``, ``gate`` the trained ``c`` (per layer).
    Its state's ``u`` holds the memory ``m``.
    """

    TYPE: ClassVar[str] = "snncc.ARLIF"
    decay_v: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    amp: float = 0.0
    gate: float = 1.0

    def __post_init__(self) -> None:
        self.threshold = vec(self.threshold)
        n = self.threshold.shape
        self.decay_v = per_neuron(self.decay_v, n)
        self.bias = per_neuron(self.bias, n)
        self.amp, self.gate = float(self.amp), float(self.gate)

    def float_step(self, state: NeuronState, x: np.ndarray) -> np.ndarray:
        xb = x + self.bias
        v = self.decay_v * state.v + xb
        thr = self.threshold + self.amp * np.tanh(xb)
        s = v > thr
        g = _sigmoid(self.gate * xb)
        m = np.maximum(state.u, 0) * g + np.minimum(state.u, 0) * (1 - g)
        state.u = m + np.where(s, 1.0, -1.0) * _sigmoid(xb)
        state.v = np.where(s, v - (thr + _sigmoid(state.u)), v)
        return s.astype(np.float64)

    def calibration_decays(self) -> list[float]:
        return [float(np.max(self.decay_v))]


@dataclass(eq=False)
class QARLIF(IntegerNeuron):
    """Integer AR-LIF program (see :func:`snncc.families.arlif.integer.arlif_step`), Q(ARLIF_FRAC) throughout.

    The input current is ``x = round(a * input_gain * 2**input_shift) + bias`` (:func:`arlif_input`) with ``a`` the
    synapses' delivery (unshifted, so the summed input is never floored), and ``input_gain`` and ``bias`` per
    neuron. The quantizer picks ``input_gain * 2**input_shift``, the Q12 value of one weight mantissa step of each
    neuron: a power of two (``input_gain = 1``) when the weights lie on such a grid, as a deploy-exact model's do,
    else per neuron a free scale (per-channel scaling under one shared shift) that puts its largest weight on
    mantissa 64..127, whichever rounds its weights with the least error. Its state's ``u`` holds the memory ``m``.
    """

    TYPE: ClassVar[str] = "snncc.QARLIF"
    dv: int
    vth: int
    amp: int
    gate: int
    bias: np.ndarray
    input_shift: int = 6
    input_gain: np.ndarray | int = 1

    def __post_init__(self) -> None:
        self.dv, self.vth, self.amp, self.gate = int(self.dv), int(self.vth), int(self.amp), int(self.gate)
        self.bias = vec(self.bias, np.int64)
        self.input_shift = int(self.input_shift)
        self.input_gain = per_neuron(self.input_gain, self.bias.shape, np.int64)
        if not -ARLIF_SHIFT_LIMIT <= self.input_shift <= ARLIF_SHIFT_LIMIT:
            raise ValueError(f"input_shift must lie in [-{ARLIF_SHIFT_LIMIT}, {ARLIF_SHIFT_LIMIT}], got "
                             f"{self.input_shift}")
        if self.input_gain.size and not (1 <= self.input_gain.min() and self.input_gain.max() < 1 << ARLIF_GAIN_BITS):
            raise ValueError(f"input_gain must lie in [1, 2**{ARLIF_GAIN_BITS}), got {self.input_gain.min()} .. "
                             f"{self.input_gain.max()}")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias.shape

    out_shape = in_shape

    def integer_step(self, state: NeuronState, a: np.ndarray, fmt: fx.NeuronFormat) -> np.ndarray:
        x = arlif_input(a, self.input_gain, self.input_shift, state.bias)
        state.v, state.u, s = arlif_step(state.v, state.u, x, self.dv, self.vth, self.amp, self.gate, fmt)
        return s

    def bias_values(self) -> np.ndarray:
        return np.asarray(self.bias, np.int64)

    def weight_unit(self, weight_exp: int, scale: float) -> float | np.ndarray:
        if np.any(self.input_gain != self.input_gain[0]):  # per-neuron input gains: one unit per row
            return self.input_gain[:, None] * 2.0**self.input_shift / ARLIF_ONE * 2.0**weight_exp
        return 2.0 ** weight_exp / scale
