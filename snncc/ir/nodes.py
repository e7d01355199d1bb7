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

from ..fixedpoint import ARLIF_GAIN_BITS, ARLIF_SHIFT_LIMIT

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

    ``i = decay_i * i + x``; ``v = decay_v * v + i + bias``; ``v = max(v, v_min)`` when a floor is set;
    spike ``s = v > threshold`` (strict); reset: ``zero`` sets ``v = 0``, ``subtract`` sets ``v -= threshold``;
    ``i`` is never reset. An IF neuron is ``decay_v = 1, decay_i = 0``. All parameters are per-neuron arrays.
    """

    TYPE: ClassVar[str] = "snncc.LIF"
    decay_v: np.ndarray
    decay_i: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    reset: str = "zero"
    v_min: float | None = None

    def __post_init__(self) -> None:
        self.threshold = _vec(self.threshold)
        n = self.threshold.shape
        self.decay_v = np.broadcast_to(_vec(self.decay_v), n).copy()
        self.decay_i = np.broadcast_to(_vec(self.decay_i), n).copy()
        self.bias = np.broadcast_to(_vec(self.bias), n).copy()
        self.reset = _reset_mode(self.reset)
        self.v_min = _optional(self.v_min, float)

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
class QConv(SnnccNode):
    """Integer 2-D convolution synapse: ``out = conv2d(s, W) << weight_exp`` (floor shift if negative), delivered
    one step later, like :class:`QDense`.

    ``weight`` holds signed mantissas in PyTorch's ``(C_out, C_in / groups, kH, kW)``; the input and output are
    flat feature maps in ``(C, H, W)`` order (see :mod:`snncc.conv`); ``input_shape`` is ``(C_in, H, W)``; pairs are
    ``(y, x)``. Lava's ``Conv`` ignores ``weight_exp``: the quantizer gives a convolution ``weight_exp >= 0`` and
    the Lava backend folds it into the kernel.
    """

    TYPE: ClassVar[str] = "snncc.QConv"
    weight: np.ndarray
    input_shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    weight_exp: int = 0
    graded: bool = False

    def __post_init__(self) -> None:
        from ..conv import pair

        self.weight = np.asarray(self.weight, dtype=np.int64)
        self.input_shape = tuple(int(v) for v in np.asarray(self.input_shape).ravel())
        self.stride, self.padding, self.dilation = pair(self.stride), pair(self.padding), pair(self.dilation)
        self.groups, self.weight_exp, self.graded = int(self.groups), int(self.weight_exp), bool(self.graded)
        if self.weight.ndim != 4 or len(self.input_shape) != 3:
            raise ValueError(f"QConv needs a 4-D kernel and a (C, H, W) input shape, got {self.weight.shape} and "
                             f"{self.input_shape}")
        if self.weight.shape != self.geometry.weight_shape:
            raise ValueError(f"kernel {self.weight.shape} does not match {self.geometry.weight_shape}")

    @property
    def geometry(self):  # -> snncc.conv.ConvGeometry
        from ..conv import ConvGeometry

        return ConvGeometry(self.input_shape, int(self.weight.shape[0]), tuple(self.weight.shape[2:]), self.stride,
                            self.padding, self.dilation, self.groups)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return (int(np.prod(self.input_shape)),)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.geometry.out_size,)


@dataclass(eq=False)
class QLIF(SnnccNode):
    """Integer CUBA LIF with Lava's parameters (see :mod:`snncc.fixedpoint` for the exact step).

    ``du``, ``dv`` and ``vth`` are per population (Lava stores one value per process); the bias is per neuron.
    ``reset`` is ``zero`` (stock Lava LIF) or ``subtract`` (snncc's custom SnnccLIF). ``v_min`` (a floor on
    ``v`` after the update, None for none) and a non-zero ``v_init`` (the voltage each sample starts from) also
    need snncc's custom LIF.
    """

    TYPE: ClassVar[str] = "snncc.QLIF"
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    reset: str = "zero"
    v_min: int | None = None
    v_init: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.du, self.dv, self.vth = int(self.du), int(self.dv), int(self.vth)
        self.bias_mant = _vec(self.bias_mant, np.int64)
        self.bias_exp = np.broadcast_to(_vec(self.bias_exp, np.int64), self.bias_mant.shape).copy()
        self.reset = _reset_mode(self.reset)
        self.v_min = _optional(self.v_min, int)
        self.v_init = (np.zeros(self.bias_mant.shape, np.int64) if self.v_init is None
                       else np.broadcast_to(_vec(self.v_init, np.int64), self.bias_mant.shape).copy())

    @property
    def stock(self) -> bool:
        """True when Lava's stock LIFReset implements this layer (hard reset, no floor, zero initial voltage)."""
        return self.reset == "zero" and self.v_min is None and not np.any(self.v_init)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape


@dataclass(eq=False)
class MultiLevelNeuron(SnnccNode):
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
        self.threshold = _vec(self.threshold)
        n = self.threshold.shape
        for f in ("decay_v", "decay_i", "bias", "offset", "out_scale"):
            setattr(self, f, np.broadcast_to(_vec(getattr(self, f)), n).copy())
        self.levels = int(self.levels)
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.threshold.shape

    out_shape = in_shape


@dataclass(eq=False)
class KLIFNeuron(SnnccNode):
    """Float KLIF (spikingjelly's KLIFNode, V_reset = 0, scale_reset off): learnable scale ``k``, ReLU on the membrane.

    With ``x`` the input current (``bias`` included): ``h = v + (x - v) / tau`` (``decay_input``) or
    ``h = v - v / tau + x``; ``f = max(k h, 0)``; ``s = f > threshold``;
    reset ``zero``: ``v = f (1 - s)``, ``subtract``: ``v = f - s threshold``. Per layer ``k`` and ``tau``.
    Equivalent to a LIF with decay ``k (1 - 1/tau)``, input gain ``k / tau`` (``k`` without decay_input) and a
    floor at 0 (see the lower-neurons pass).
    """

    TYPE: ClassVar[str] = "snncc.KLIF"
    threshold: np.ndarray
    bias: np.ndarray
    k: float = 1.0
    tau: float = 2.0
    decay_input: bool = True
    reset: str = "zero"

    def __post_init__(self) -> None:
        self.threshold = _vec(self.threshold)
        self.bias = np.broadcast_to(_vec(self.bias), self.threshold.shape).copy()
        self.k, self.tau, self.decay_input = float(self.k), float(self.tau), bool(self.decay_input)
        self.reset = _reset_mode(self.reset)

    @property
    def decay(self) -> float:
        return self.k * (1.0 - 1.0 / self.tau)

    @property
    def gain(self) -> float:
        return self.k / self.tau if self.decay_input else self.k

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.threshold.shape

    out_shape = in_shape


@dataclass(eq=False)
class ARLIFNeuron(SnnccNode):
    """Float AR-LIF (adaptive threshold from the input current, reset memory ``m``, adaptive soft reset).

    With ``x`` the input current (bias included): ``v = decay_v * v + x``; ``thr = threshold + amp * tanh(x)``;
    ``s = v > thr``; ``g = sigmoid(gate * x)``; ``m = max(m,0)*g + min(m,0)*(1-g)``; ``m += (2s-1) sigmoid(x)``;
    ``v -= s * (thr + sigmoid(m))``. ``amp`` is the trained ``tanh(a)``, ``gate`` the trained ``c`` (per layer).
    """

    TYPE: ClassVar[str] = "snncc.ARLIF"
    decay_v: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    amp: float = 0.0
    gate: float = 1.0

    def __post_init__(self) -> None:
        self.threshold = _vec(self.threshold)
        n = self.threshold.shape
        self.decay_v = np.broadcast_to(_vec(self.decay_v), n).copy()
        self.bias = np.broadcast_to(_vec(self.bias), n).copy()
        self.amp, self.gate = float(self.amp), float(self.gate)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.threshold.shape

    out_shape = in_shape


@dataclass(eq=False)
class QMultiLevel(SnnccNode):
    """Integer graded soft-reset neuron (see :func:`snncc.fixedpoint.multilevel_step`); sends the payload ``z``."""

    TYPE: ClassVar[str] = "snncc.QMultiLevel"
    du: int
    dv: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    theta_exp: int
    offset: int
    levels: int

    def __post_init__(self) -> None:
        _normalize_multilevel(self)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape


@dataclass(eq=False)
class QSubStepMultiLevel(SnnccNode):
    """A multi-level neuron on a sub-step clock, sending its payload ``z`` as ``z`` binary spikes.

    Every input step is ``substeps`` steps of the target. The neuron sums its synapses' deliveries over a period,
    and at the period's first step (the boundary) runs :func:`snncc.fixedpoint.multilevel_step` once on
    ``shift_floor(sum, input_exp)`` (the synapses carry mantissas only, so the exponent is applied to the exact sum,
    never per delivery); it then sends one binary spike per step until ``z`` are sent (``z <= levels <= substeps``).
    Between boundaries nothing decays. See docs/seed_neurons.md, sub-step lowering.
    """

    TYPE: ClassVar[str] = "snncc.QSubStepMultiLevel"
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
        _normalize_multilevel(self)
        self.substeps, self.input_exp = int(self.substeps), int(self.input_exp)
        if self.substeps < self.levels:
            raise ValueError(f"substeps ({self.substeps}) must be at least levels ({self.levels})")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias_mant.shape

    out_shape = in_shape


@dataclass(eq=False)
class QARLIF(SnnccNode):
    """Integer AR-LIF program (see :func:`snncc.fixedpoint.arlif_step`), Q(ARLIF_FRAC) throughout.

    The input current is ``x = round(a * input_gain * 2**input_shift) + bias`` (:func:`snncc.fixedpoint.arlif_input`)
    with ``a`` the synapses' delivery (unshifted, so the summed input is never floored), and ``input_gain`` and
    ``bias`` per neuron. The quantizer picks ``input_gain * 2**input_shift``, the Q12 value of one weight mantissa
    step of each neuron: a power of two (``input_gain = 1``) when the weights lie on such a grid, as a deploy-exact
    model's do, else per neuron a free scale (per-channel scaling under one shared shift) that puts its largest
    weight on mantissa 64..127, whichever rounds its weights with the least error.
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
        self.bias = _vec(self.bias, np.int64)
        self.input_shift = int(self.input_shift)
        self.input_gain = np.broadcast_to(_vec(self.input_gain, np.int64), self.bias.shape).copy()
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


def _normalize_multilevel(node: QMultiLevel | QSubStepMultiLevel) -> None:
    """Types and checks of the fields the graded and the sub-step multi-level neuron share."""
    node.du, node.dv = int(node.du), int(node.dv)
    node.theta_exp, node.offset, node.levels = int(node.theta_exp), int(node.offset), int(node.levels)
    if node.levels < 1 or node.theta_exp < 0:
        raise ValueError(f"levels must be >= 1 and theta_exp >= 0, got {node.levels} and {node.theta_exp}")
    node.bias_mant = _vec(node.bias_mant, np.int64)
    node.bias_exp = np.broadcast_to(_vec(node.bias_exp, np.int64), node.bias_mant.shape).copy()


def _reset_mode(reset: str | bytes) -> str:
    reset = reset.decode() if isinstance(reset, bytes) else reset
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    return reset


def _optional(value: object, kind: type) -> object:
    """None stays None; HDF5 stores None as NaN-free sentinel strings, so accept 'None' too."""
    if value is None or (isinstance(value, (str, bytes)) and value in ("None", b"None")):
        return None
    return kind(value)


SNNCC_NODE_TYPES: dict[str, type[SnnccNode]] = {
    c.TYPE: c for c in (LIFNeuron, QDense, QConv, QLIF, KLIFNeuron, MultiLevelNeuron, ARLIFNeuron, QMultiLevel, QARLIF,
                         QSubStepMultiLevel)
}
