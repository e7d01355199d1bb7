"""snncc's own IR node types, for what NIR cannot say.

Standard NIR nodes (``nir.Input``, ``nir.Affine``, ``nir.LIF`` ...) stay standard inside the IR. snncc adds:

* :class:`LIFNeuron`: a *discrete-time* CUBA LIF with explicit reset mode. NIR's neurons are continuous ODEs with
  no ``dt`` and reset-to-value only; the canonicalize pass turns them into this node using the graph's ``dt``.
* :class:`QDense` and :class:`QLIF`: the integer primitives of a Loihi-style target after quantization.

Each node serialises to the NIR HDF5 layout under a type name of its own (``snncc.LIF`` ...), which snncc's
reader reads back; plain ``nir.read`` accepts only graphs of standard nodes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

RESET_MODES = ("zero", "subtract")


@dataclass(eq=False)
class SnnccNode:
    """Base of snncc node types: typed fields, a NIR-layout dict form, shapes derived from the parameters."""

    TYPE: ClassVar[str] = ""
    metadata: dict[str, Any] = field(default_factory=dict, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE}
        for f in dataclasses.fields(self):
            out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SnnccNode:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        return cls(**kwargs)

    @property
    def in_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, ...]:
        raise NotImplementedError


def _vec(x: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=dtype))


@dataclass(eq=False)
class LIFNeuron(SnnccNode):
    """Discrete-time current-based LIF; one step (time index t, input x from the synapses):

    ``i = decay_i * i + x``; ``v = decay_v * v + i + bias``; spike ``s = v > threshold`` (strict);
    reset: ``zero`` sets ``v = 0``, ``subtract`` sets ``v -= threshold``; ``i`` is never reset.
    An IF neuron is ``decay_v = 1, decay_i = 0``. All parameters are per-neuron arrays.
    """

    TYPE: ClassVar[str] = "snncc.LIF"
    decay_v: np.ndarray
    decay_i: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    reset: str = "zero"

    def __post_init__(self) -> None:
        self.threshold = _vec(self.threshold)
        n = self.threshold.shape
        self.decay_v = np.broadcast_to(_vec(self.decay_v), n).copy()
        self.decay_i = np.broadcast_to(_vec(self.decay_i), n).copy()
        self.bias = np.broadcast_to(_vec(self.bias), n).copy()
        if isinstance(self.reset, bytes):
            self.reset = self.reset.decode()
        if self.reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {self.reset!r}")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.threshold.shape

    out_shape = in_shape


@dataclass(eq=False)
class QDense(SnnccNode):
    """Integer synapse: ``out = (W @ s) << weight_exp`` (floor shift if negative), delivered one step later.

    ``weight`` holds signed mantissas (n_out, n_in); ``graded`` says whether the input carries integer payloads
    (else any non-zero input counts as a binary spike).
    """

    TYPE: ClassVar[str] = "snncc.QDense"
    weight: np.ndarray
    weight_exp: int = 0
    graded: bool = False

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.int64)
        self.weight_exp = int(self.weight_exp)
        self.graded = bool(self.graded)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return (self.weight.shape[1],)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.weight.shape[0],)


@dataclass(eq=False)
class QLIF(SnnccNode):
    """Integer CUBA LIF with Lava's parameters (see :mod:`snncc.fixedpoint` for the exact step).

    ``du``, ``dv`` and ``vth`` are per population (Lava stores one value per process); the bias is per neuron.
    ``reset`` is ``zero`` (stock Lava LIF) or ``subtract`` (snncc's custom SoftResetLIF).
    """

    TYPE: ClassVar[str] = "snncc.QLIF"
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    reset: str = "zero"

    def __post_init__(self) -> None:
        self.du, self.dv, self.vth = int(self.du), int(self.dv), int(self.vth)
        self.bias_mant = _vec(self.bias_mant, np.int64)
        self.bias_exp = np.broadcast_to(_vec(self.bias_exp, np.int64), self.bias_mant.shape).copy()
        if isinstance(self.reset, bytes):
            self.reset = self.reset.decode()
        if self.reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {self.reset!r}")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape


SNNCC_NODE_TYPES: dict[str, type[SnnccNode]] = {c.TYPE: c for c in (LIFNeuron, QDense, QLIF)}
