"""The multi-level family's IR nodes: the float multi-level neuron and the integer graded soft-reset neuron."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc import fixedpoint as fx
from snncc.families.multilevel.integer import multilevel_step
from snncc.ir.nodes import CubaFloatNeuron, CubaIntegerNeuron, NeuronState, per_neuron, vec


@dataclass(eq=False)
class MultiLevelNeuron(CubaFloatNeuron):
    """Float multi-level neuron (multi-level, Group Neuron, ASN/NASN): integer spikes, soft reset, optional leak.

    ``i = decay_i * i + x``; ``v = decay_v * v + i + bias``; ``z = clip(floor(v / threshold + offset), 0, levels)``;
    ``v -= z * threshold``; the output is ``z * out_scale`` (canonicalize folds ``out_scale`` into the next
    synapses, so the deployed payload is the integer ``z``). Per-neuron arrays; ``levels`` is an integer.
    """

    TYPE: ClassVar[str] = "snncc.MultiLevel"
    decay_v: np.ndarray
    decay_i: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    offset: np.ndarray
    out_scale: np.ndarray
    levels: int = 1

    def __post_init__(self) -> None:
        self.threshold = vec(self.threshold)
        n = self.threshold.shape
        for f in ("decay_v", "decay_i", "bias", "offset", "out_scale"):
            setattr(self, f, per_neuron(getattr(self, f), n))
        self.levels = int(self.levels)
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")

    @property
    def payload_levels(self) -> int | None:
        return self.levels

    def float_step(self, state: NeuronState, x: np.ndarray) -> np.ndarray:
        state.u = self.decay_i * state.u + x
        v = self.decay_v * state.v + state.u + self.bias
        z = np.clip(np.floor(v / self.threshold + self.offset), 0, self.levels)
        state.v = v - z * self.threshold
        return z

    def output(self, z: np.ndarray) -> np.ndarray:
        return z * self.out_scale


@dataclass(eq=False)
class QMultiLevel(CubaIntegerNeuron):
    """Integer graded soft-reset neuron (:func:`snncc.families.multilevel.integer.multilevel_step`); sends the
    payload ``z``."""

    TYPE: ClassVar[str] = "snncc.QMultiLevel"
    VOLTAGE_COMPARABLE: ClassVar[bool] = True
    du: int
    dv: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    theta_exp: int
    offset: int
    levels: int

    def __post_init__(self) -> None:
        normalize_multilevel(self)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape

    @property
    def payload_levels(self) -> int | None:
        return self.levels

    def integer_step(self, state: NeuronState, a: np.ndarray, fmt: fx.NeuronFormat) -> np.ndarray:
        state.u, state.v, z = multilevel_step(state.u, state.v, a, self.du, self.dv, state.bias, self.theta_exp,
                                              self.offset, self.levels, fmt)
        return z


def normalize_multilevel(node: QMultiLevel) -> None:
    """Types and checks of the fields every integer multi-level neuron has (the graded one, the sub-step one)."""
    node.du, node.dv = int(node.du), int(node.dv)
    node.theta_exp, node.offset, node.levels = int(node.theta_exp), int(node.offset), int(node.levels)
    if node.levels < 1 or node.theta_exp < 0:
        raise ValueError(f"levels must be >= 1 and theta_exp >= 0, got {node.levels} and {node.theta_exp}")
    node.bias_mant = vec(node.bias_mant, np.int64)
    node.bias_exp = per_neuron(node.bias_exp, node.bias_mant.shape, np.int64)
