"""snncc's own IR node types: the bases every neuron family's nodes derive from, and the integer synapses.

Standard NIR nodes (``nir.Input``, ``nir.Affine``, ``nir.LIF`` ...) stay standard inside the IR. snncc adds typed
dataclasses for what NIR cannot say. A node *is* its semantics: the float neurons a trained model is traced into
step themselves as the torch modules do (:class:`FloatNeuron`), the integer neurons of a target step themselves
with the target's integer rules (:class:`IntegerNeuron`), so simulators, passes and reports never list node types;
each neuron family (``snncc.families``) defines its nodes next to everything else it needs.

Each node serialises to the NIR HDF5 layout under a type name of its own (``TYPE``, e.g. ``snncc.QLIF``); defining a
subclass registers it for :mod:`snncc.ir.serialize` (:func:`node_type`). Plain ``nir.read`` accepts only graphs of
standard nodes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import fixedpoint as fx
from ..kernels import DenseProduct

# What a spike does to the voltage: ``zero`` sets it to 0; ``subtract`` subtracts the threshold at once;
# ``subtract_after_leak`` subtracts it from the next step's leaked voltage (snnTorch's default). A family lists
# the ones it implements (``reset_mode``'s ``allowed``).
RESET_MODES = ("zero", "subtract", "subtract_after_leak")
BASIC_RESETS = RESET_MODES[:2]
_NODE_TYPES: dict[str, type[SnnccNode]] = {}


def node_type(type_name: str) -> type[SnnccNode] | None:
    """The node class serialised under ``type_name`` (None if no loaded module defines it)."""
    return _NODE_TYPES.get(type_name)


@dataclass(eq=False)
class SnnccNode:
    """Base of snncc node types: typed fields, a NIR-layout dict form, shapes derived from the parameters."""

    TYPE: ClassVar[str] = ""
    metadata: dict[str, Any] = field(default_factory=dict, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the first definition wins: Lava's process-model search re-executes the files of a process's folder as
        # anonymous modules, whose copies of a node class must not replace the real one
        if cls.TYPE and cls.__module__.startswith("snncc."):
            _NODE_TYPES.setdefault(cls.TYPE, cls)

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

    def summary(self) -> str:
        """Key parameters for :meth:`snncc.ir.Graph.summary` (one short line, may be empty)."""
        return ""


@dataclass
class NeuronState:
    """State of one neuron layer over a batch: ``u`` (the current, or a family's second state word) and ``v``;
    ``bias``: the per-neuron bias an integer layer adds every step (computed once per run)."""

    u: np.ndarray
    v: np.ndarray
    bias: np.ndarray | None = None


@dataclass(eq=False)
class NeuronNode(SnnccNode):
    """A layer of neurons (1-D: ``in_shape == out_shape``)."""

    PAYLOAD_LEVELS: ClassVar[int | None] = None  # None: binary spikes; else the largest graded payload it sends

    @property
    def payload_levels(self) -> int | None:
        """The largest integer payload the layer sends, or None for binary spikes."""
        return self.PAYLOAD_LEVELS

    @property
    def size(self) -> int:
        return int(np.prod(self.out_shape))


@dataclass(eq=False)
class FloatNeuron(NeuronNode):
    """A neuron layer as trained (float64, no latency per synapse): the F level the deployed network is held to.

    Subclasses have per-neuron ``threshold`` and ``bias`` arrays (canonicalize folds synapse biases into ``bias``)
    and step themselves exactly as their torch module does.
    """

    CORRECTS_DECAYS: ClassVar[bool] = False  # calibrate may round its decays against recorded states (du, dv)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.threshold.shape

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.threshold.shape

    def float_state(self, batch: int) -> NeuronState:
        """The state every sample starts from (zeros)."""
        return NeuronState(np.zeros((batch, self.size)), np.zeros((batch, self.size)))

    def float_step(self, state: NeuronState, x: np.ndarray) -> np.ndarray:
        """One step on the summed synaptic input ``x`` (batch, n); returns the spikes (levels ``z`` if graded)."""
        raise NotImplementedError

    def output(self, z: np.ndarray) -> np.ndarray:
        """What the layer's consumers receive for the spikes (levels) ``z``, in float units."""
        return z

    def synapse_bias_error(self) -> str | None:
        """Why a synapse bias cannot be folded into this layer's ``bias`` exactly (None: it can)."""
        return None

    def fold_synapse_bias(self, b: np.ndarray) -> None:
        """Take the per-neuron bias ``b`` of the synapse feeding the layer; ValueError saying why where that cannot
        be exact."""
        problem = self.synapse_bias_error()
        if problem:
            raise ValueError(problem)
        self.bias = self.bias + b

    def calibration_decays(self) -> list[float]:
        """The decays that filter an input train into the membrane (calibrate weighs weight errors by them)."""
        return []


@dataclass(eq=False)
class CubaFloatNeuron(FloatNeuron):
    """A float neuron on Loihi's CUBA compartment: per-neuron ``decay_v`` and ``decay_i`` (subclasses declare them),
    rounded against recorded states by calibrate."""

    CORRECTS_DECAYS: ClassVar[bool] = True

    def synapse_bias_error(self) -> str | None:
        if np.any(self.decay_i != 0):
            return ("a synapse bias into a neuron with current decay cannot be deployed exactly (the chip adds the "
                    "bias to the voltage, not to the decaying current)")
        return None

    def calibration_decays(self) -> list[float]:
        return [float(np.max(self.decay_v)), float(np.max(self.decay_i))]


@dataclass(eq=False)
class IntegerNeuron(NeuronNode):
    """A neuron layer on a target's integer primitives (the Q level), stepping with its integer rules.

    ``integer_step`` is bit-exact with the layer's Lava process; its traces record ``state.u`` and ``state.v``.
    """

    VOLTAGE_COMPARABLE: ClassVar[bool] = False  # v is the float model's v in units of 1/(2**act_shift * scale)
    RESET: ClassVar[str] = "subtract"  # the reset the report names for the layer
    BURSTS: ClassVar[bool] = False  # sends its payload as binary spikes over ``substeps`` target steps

    @property
    def reset_mode(self) -> str:
        return self.RESET

    def integer_state(self, batch: int) -> NeuronState:
        """The state every sample starts from."""
        return NeuronState(np.zeros((batch, self.size), np.int64), np.zeros((batch, self.size), np.int64),
                           self.bias_values())

    def integer_step(self, state: NeuronState, a: np.ndarray, fmt: fx.NeuronFormat) -> np.ndarray:
        """One step on the summed synaptic deliveries ``a`` (batch, n), in place; returns what the layer sends."""
        raise NotImplementedError

    def bias_values(self) -> np.ndarray:
        """The integer bias each neuron adds every step, in voltage units."""
        raise NotImplementedError

    def bias_resolution(self) -> np.ndarray:
        """Per neuron, the smallest step of its bias in voltage units."""
        return np.ones(self.size)

    def input_bias(self) -> np.ndarray | None:
        """The integer bias each neuron adds to its synaptic input every step (before ``act_shift``), for a layer
        whose bias enters a decaying current; None for a layer without one."""
        return None

    def weight_unit(self, weight_exp: int, scale: float) -> float | np.ndarray:
        """What one weight mantissa of a synapse (exponent ``weight_exp``) into this layer is worth in float units:
        ``2**e / scale``; a layer with per-neuron input scaling returns one unit per neuron, shape (n, 1)."""
        return 2.0 ** weight_exp / scale


@dataclass(eq=False)
class CubaIntegerNeuron(IntegerNeuron):
    """An integer neuron on Loihi's CUBA compartment, whose bias is ``bias_mant << bias_exp`` per neuron (subclasses
    declare ``du``, ``dv``, ``bias_mant`` and ``bias_exp``)."""

    def bias_values(self) -> np.ndarray:
        return fx.bias_value(self.bias_mant, self.bias_exp)

    def bias_resolution(self) -> np.ndarray:
        return np.exp2(self.bias_exp.astype(np.float64))


@dataclass(eq=False)
class IntegerSynapse(SnnccNode):
    """An integer synapse: signed mantissas ``weight``, one exponent ``weight_exp``, binary or ``graded`` input;
    delivers what it computed one step later."""

    def accumulate(self, spikes: np.ndarray) -> np.ndarray:
        """What the synapse computes from its source's output ``spikes`` (batch, n_in) this step."""
        raise NotImplementedError

    def accumulator(self) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`accumulate` for a whole run: a synapse whose weights cost work to prepare (float copies, bounds)
        prepares them once here; the weights must not change while it is in use."""
        return self.accumulate

    def summary(self) -> str:
        w = self.weight
        return f"w∈[{w.min() if w.size else 0},{w.max() if w.size else 0}] exp={self.weight_exp} graded={self.graded}"


@dataclass(eq=False)
class QDense(IntegerSynapse):
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

    def accumulate(self, spikes: np.ndarray) -> np.ndarray:
        return fx.synapse_accumulate(self.weight, spikes, self.weight_exp, self.graded)

    def accumulator(self) -> Callable[[np.ndarray], np.ndarray]:
        """:func:`snncc.fixedpoint.synapse_accumulate` by :class:`snncc.kernels.DenseProduct`'s exact routes."""
        product, binary, exp = DenseProduct(self.weight), not self.graded, self.weight_exp
        return lambda spikes: fx.shift_floor(product(spikes, binary), exp)


@dataclass(eq=False)
class QConv(IntegerSynapse):
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

    def accumulate(self, spikes: np.ndarray) -> np.ndarray:
        return fx.conv_accumulate(self.weight, spikes, self.weight_exp, self.graded, self.geometry)


# ---- field normalisation shared by the families' nodes -----------------------------------------------------------
def vec(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """At least 1-D array of ``x``."""
    return np.atleast_1d(np.asarray(x, dtype=dtype))


def per_neuron(x: Any, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """``x`` broadcast to one value per neuron (a copy)."""
    return np.broadcast_to(vec(x, dtype), shape).copy()


def reset_mode(reset: str | bytes, allowed: tuple[str, ...] = BASIC_RESETS) -> str:
    """``reset`` checked against the modes a family implements (``allowed``)."""
    reset = reset.decode() if isinstance(reset, bytes) else reset
    if reset not in allowed:
        raise ValueError(f"reset must be one of {allowed}, got {reset!r}")
    return reset


def optional(value: object, kind: type) -> object:
    """None stays None; HDF5 stores None as the string 'None', so accept that too."""
    if value is None or (isinstance(value, (str, bytes)) and value in ("None", b"None")):
        return None
    return kind(value)


def value_range(a: np.ndarray) -> str:
    """``lo`` or ``[lo,hi]`` of an array, for summaries."""
    lo, hi = float(np.min(a)), float(np.max(a))
    return f"{lo:.4g}" if lo == hi else f"[{lo:.4g},{hi:.4g}]"
