"""The LIF family's IR nodes: the discrete-time float LIF a model is traced into, and the integer CUBA LIF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc import fixedpoint as fx
from snncc.families.lif.integer import SUBTRACT_AFTER_LEAK, lif_step
from snncc.families.lif.kernel import compiled_lif_step
from snncc.ir.nodes import (
    RESET_MODES,
    CubaFloatNeuron,
    CubaIntegerNeuron,
    NeuronState,
    optional,
    per_neuron,
    reset_mode,
    value_range,
    vec,
)
from snncc.kernels import compiled_step_applies


@dataclass(eq=False)
class LIFNeuron(CubaFloatNeuron):
    """Discrete-time current-based LIF; one step (time index t, input x from the synapses):

    ``i = decay_i * i + x + current_bias``; ``v = decay_v * v + i + bias``; ``v = max(v, v_min)`` when a floor is set;
    spike ``s = v > threshold`` (``v >= threshold`` with ``fire_at_threshold``); reset: ``zero`` sets ``v = 0``,
    ``subtract`` sets ``v -= threshold``, ``subtract_after_leak`` subtracts it from the next step's
    ``decay_v * v + i + bias`` instead (snnTorch's order); ``i`` is never reset. An IF neuron is
    ``decay_v = 1, decay_i = 0``. All parameters are per-neuron arrays. ``current_bias`` is a synapse's bias
    where the current decays (it then accumulates in the current, unlike ``bias``).
    """

    TYPE: ClassVar[str] = "snncc.LIF"
    decay_v: np.ndarray
    decay_i: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    reset: str = "zero"
    v_min: float | None = None
    fire_at_threshold: bool = False
    current_bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.threshold = vec(self.threshold)
        n = self.threshold.shape
        self.decay_v, self.decay_i, self.bias = (per_neuron(x, n) for x in (self.decay_v, self.decay_i, self.bias))
        self.current_bias = per_neuron(0.0 if optional(self.current_bias, np.asarray) is None else self.current_bias,
                                       n)
        self.reset = reset_mode(self.reset, RESET_MODES)
        self.v_min = optional(self.v_min, float)
        self.fire_at_threshold = bool(self.fire_at_threshold)

    def synapse_bias_error(self) -> str | None:
        return None

    def fold_synapse_bias(self, b: np.ndarray) -> None:
        """Into ``bias`` where the current does not decay (the same thing, and stock), else into
        ``current_bias``."""
        if np.any(self.decay_i != 0):
            self.current_bias = self.current_bias + b
        else:
            self.bias = self.bias + b

    def fires(self, v: np.ndarray) -> np.ndarray:
        return v >= self.threshold if self.fire_at_threshold else v > self.threshold

    def float_step(self, state: NeuronState, x: np.ndarray) -> np.ndarray:
        carried = self.fires(state.v) if self.reset == SUBTRACT_AFTER_LEAK else None
        state.u = self.decay_i * state.u + x + self.current_bias
        v = self.decay_v * state.v + state.u + self.bias
        if carried is not None:
            v = v - carried * self.threshold
        if self.v_min is not None:
            v = np.maximum(v, self.v_min)
        s = self.fires(v)
        state.v = np.where(s, 0.0, v) if self.reset == "zero" else v - s * self.threshold if (
            self.reset == "subtract") else v
        return s.astype(np.float64)

    def summary(self) -> str:
        return (f"decay_v={value_range(self.decay_v)} decay_i={value_range(self.decay_i)} "
                f"thr={value_range(self.threshold)} reset={self.reset}{_at_threshold(self.fire_at_threshold)}")


@dataclass(eq=False)
class QLIF(CubaIntegerNeuron):
    """Integer CUBA LIF with Lava's parameters (the step: :func:`snncc.families.lif.integer.lif_step`).

    ``du``, ``dv`` and ``vth`` are per population (Lava stores one value per process); the bias is per neuron.
    ``reset`` is ``zero`` (stock Lava LIF) or ``subtract`` / ``subtract_after_leak`` (snncc's custom SnnccLIF).
    ``v_min`` (a floor on ``v`` after the update, None for none), a non-zero ``v_init`` (the voltage each sample
    starts from), ``fire_at_threshold`` (``v >= vth << 6``) and ``current_bias`` (per neuron, added to the synaptic
    input ``a`` of every step, so it enters the decaying current) also need snncc's custom LIF.
    """

    TYPE: ClassVar[str] = "snncc.QLIF"
    VOLTAGE_COMPARABLE: ClassVar[bool] = True
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    reset: str = "zero"
    v_min: int | None = None
    v_init: np.ndarray | None = None
    fire_at_threshold: bool = False
    current_bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.du, self.dv, self.vth = int(self.du), int(self.dv), int(self.vth)
        self.bias_mant = vec(self.bias_mant, np.int64)
        self.bias_exp = per_neuron(self.bias_exp, self.bias_mant.shape, np.int64)
        self.reset = reset_mode(self.reset, RESET_MODES)
        self.v_min = optional(self.v_min, int)
        self.fire_at_threshold = bool(self.fire_at_threshold)
        self.current_bias = per_neuron(0 if optional(self.current_bias, np.asarray) is None else self.current_bias,
                                       self.bias_mant.shape, np.int64)
        self.v_init = (np.zeros(self.bias_mant.shape, np.int64) if self.v_init is None
                       else per_neuron(self.v_init, self.bias_mant.shape, np.int64))

    @property
    def stock(self) -> bool:
        """True when Lava's stock LIFReset implements this layer (hard reset, no floor, zero initial voltage)."""
        return (self.reset == "zero" and self.v_min is None and not np.any(self.v_init)
                and not self.fire_at_threshold and not np.any(self.current_bias))

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape

    @property
    def reset_mode(self) -> str:
        return self.reset

    def input_bias(self) -> np.ndarray | None:
        return self.current_bias if np.any(self.current_bias) else None

    def integer_state(self, batch: int) -> NeuronState:
        state = super().integer_state(batch)
        state.v += self.v_init
        return state

    def integer_step(self, state: NeuronState, a: np.ndarray, fmt: fx.NeuronFormat) -> np.ndarray:
        if compiled_step_applies(state):  # the same lif_step, compiled (snncc.families.lif.kernel)
            return compiled_lif_step(state.u, state.v, a, state.bias, self.current_bias, self.du, self.dv, self.vth,
                                     self.reset, self.v_min, self.fire_at_threshold, fmt)
        state.u, state.v, s = lif_step(state.u, state.v, a + self.current_bias, self.du, self.dv, self.vth, state.bias,
                                       self.reset, fmt, v_min=self.v_min, fire_at_threshold=self.fire_at_threshold)
        return s

    def summary(self) -> str:
        return f"du={self.du} dv={self.dv} vth={self.vth} reset={self.reset}{_at_threshold(self.fire_at_threshold)}"


def _at_threshold(fire_at_threshold: bool) -> str:
    return " fires at v >= thr" if fire_at_threshold else ""
