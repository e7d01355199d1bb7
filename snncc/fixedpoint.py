"""Integer semantics of the Loihi 2 primitives, written down once.

The reference simulator, the Lava code generator and the quantizer all import from here, so that the three cannot
drift apart. Every rule below was read in lava-nc 0.10.0's ``fixed_pt`` ProcessModels (``PyLifModelBitAcc``,
``PyDenseModelBitAcc``) and is pinned by the randomized reference-vs-Lava tests:

* state ``u`` (current) and ``v`` (voltage) are 24-bit signed; ``u`` *wraps* with a single +-2**24 correction
  (exactly +2**23 is left alone), ``v`` *saturates* to +-(2**23 - 1);
* decays are 12-bit: ``x * (4096 - d)`` then truncation **toward zero** (``sign(p) * (|p| >> 12)``);
  the current uses ``du + 1`` (so ``du = 4095`` clears it, ``du = -1`` keeps it), the voltage uses ``dv``;
* synaptic input and threshold are scaled by ``<< 6``; the bias ``bias_mant << bias_exp`` is not;
* the spike test is strict (``v > vth << 6``); hard reset sets ``v = 0`` (``u`` is kept), soft reset subtracts
  ``vth << 6`` (snncc's custom primitive);
* a synapse computes ``acc = W @ s`` (graded payloads) or the column sum over non-zero inputs (binary), then
  ``acc << e`` for ``e > 0`` or ``acc >> -e`` (arithmetic, i.e. floor) for ``e <= 0``; it delivers the value one
  step later;
* a dense synapse's sum is neither saturated nor wrapped to 24 bits (Lava keeps it in int32); a convolution synapse
  (``PyConvModelFixed``, computed as the cross-correlation of :mod:`snncc.conv`, then the exponent) **wraps** its
  sum to signed 24 bits, ``(acc + 2**23) mod 2**24 - 2**23``, as ``lava.proc.conv.utils.signed_clamp`` does.

All arithmetic here is int64 numpy; Lava keeps int32 arrays, and the quantizer's range checks keep every
intermediate value far inside int32. The element rules (decay, wrap, saturate, ...) and :func:`compartment_update`
are written with operators that mean the same on int64 arrays and on int64 scalars, and are ``register_jitable``:
numba compiles these very functions into the reference simulator's element kernels (:mod:`snncc.compiled`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.extending import register_jitable

from .conv import ConvGeometry, conv2d

DECAY_BITS = 12
DECAY_ONE = 1 << DECAY_BITS  # 4096: the unit of the 12-bit decay constants
ACT_SHIFT = 6  # synaptic input and threshold are scaled by 2**6 inside the neuron
ACT_SHIFT_SCALE = 1 << ACT_SHIFT
STATE_BITS = 24


@dataclass(frozen=True)
class NeuronFormat:
    """Bit widths of a Loihi-style CUBA LIF compartment (target data fills this in)."""

    state_bits: int = STATE_BITS
    decay_bits: int = DECAY_BITS
    act_shift: int = ACT_SHIFT
    vth_bits: int = 17  # unsigned threshold mantissa
    bias_mant_bits: int = 13  # signed
    bias_exp_min: int = 0
    bias_exp_max: int = 7

    @property
    def state_max(self) -> int:
        return (1 << (self.state_bits - 1)) - 1

    @property
    def vth_max(self) -> int:
        return (1 << self.vth_bits) - 1

    @property
    def bias_mant_max(self) -> int:
        return (1 << (self.bias_mant_bits - 1)) - 1


DEFAULT_FORMAT = NeuronFormat()  # Loihi 2's (and Lava's fixed_pt) compartment


@dataclass(frozen=True)
class SynapseFormat:
    """Weight format of a Dense synapse: signed mantissa and a per-layer power-of-two exponent."""

    weight_bits: int = 8  # signed mantissa bits, sign included: [-128, 127]
    weight_exp_min: int = -8
    weight_exp_max: int = 7

    @property
    def weight_max(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def weight_min(self) -> int:
        return -(1 << (self.weight_bits - 1))


def as_int64(x: np.ndarray) -> np.ndarray:
    """``x`` as int64 values (in numba, on a scalar, the scalar itself: :mod:`snncc.kernels`)."""
    return np.asarray(x, dtype=np.int64)


@register_jitable
def trunc_decay(x: np.ndarray, d: int, decay_bits: int = DECAY_BITS) -> np.ndarray:
    """``x * (2**decay_bits - d) / 2**decay_bits`` truncated toward zero (Lava's decay rounding)."""
    p = as_int64(x) * ((1 << decay_bits) - int(d))
    return (p + ((p >> 63) & ((1 << decay_bits) - 1))) >> decay_bits  # a negative p rounds up: toward zero


@register_jitable
def wrap_current(u: np.ndarray, state_bits: int = STATE_BITS) -> np.ndarray:
    """Lava's single-correction wrap of ``u`` into 24 bits (values beyond +-2**24 are not folded again): above
    ``2**23`` it takes ``2**24`` away, at or below ``-2**23`` it adds ``2**24`` (at most one of the two applies)."""
    m = 1 << (state_bits - 1)
    return u - (u > m) * (2 * m) + (u <= -m) * (2 * m)


@register_jitable
def saturate(v: np.ndarray, state_bits: int = STATE_BITS) -> np.ndarray:
    """Saturate ``v`` to the symmetric signed range +-(2**(bits-1) - 1)."""
    m = (1 << (state_bits - 1)) - 1
    return np.minimum(np.maximum(v, -m), m)


@register_jitable
def scale_input(a: np.ndarray, act_shift: int) -> np.ndarray:
    """The synaptic input in voltage units: ``a << act_shift``."""
    return as_int64(a) << act_shift


@register_jitable
def spike_levels(v: np.ndarray, offset: int, shift: int, levels: int) -> np.ndarray:
    """``clip((v + offset) >> shift, 0, levels)`` (arithmetic shift: floor)."""
    return np.minimum(np.maximum((v + int(offset)) >> int(shift), 0), int(levels))


@register_jitable
def release(v: np.ndarray, count: np.ndarray, amount: np.ndarray | int) -> np.ndarray:
    """``v - count * amount``: a reset by what ``count`` spikes (levels) take away."""
    return v - as_int64(count) * amount


def bias_value(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """``bias_mant << bias_exp`` (or ``>>`` for a negative exponent), as Lava recomputes it every step."""
    bm = np.asarray(bias_mant, dtype=np.int64)
    be = np.asarray(bias_exp, dtype=np.int64)
    return np.where(be >= 0, bm << np.maximum(be, 0), bm >> np.maximum(-be, 0))


def shift_floor(acc: np.ndarray, exp: int) -> np.ndarray:
    """Apply a synapse's weight exponent to an accumulated sum: ``<< e`` or arithmetic ``>> -e`` (floor)."""
    acc = np.asarray(acc, dtype=np.int64)
    if exp == 0:
        return acc
    return acc << exp if exp > 0 else acc >> (-exp)


def synapse_accumulate(weight: np.ndarray, spikes: np.ndarray, exp: int, graded: bool) -> np.ndarray:
    """Synaptic input produced by ``spikes`` (batch, n_in) through integer ``weight`` (n_out, n_in)."""
    s = np.asarray(spikes, dtype=np.int64)
    if not graded:
        s = (s != 0).astype(np.int64)
    return shift_floor(exact_matmul(s, np.asarray(weight, dtype=np.int64).T), exp)


FLOAT_EXACT = ((np.float32, 1 << 24), (np.float64, 1 << 53))  # every integer below the bound is a float of the type
FLOAT_MIN_ROWS = 8  # fewer rows (a batch of 1): the bound and the conversions cost more than numpy's int64 loop


def exact_matmul(a: np.ndarray, b: np.ndarray, column_bound: int | None = None,
                 float_cache: dict | None = None) -> np.ndarray:
    """``a @ b`` of integer arrays, exactly, through float BLAS where a static bound proves it exact: every partial
    sum of an output is at most ``max|a| * sum_i |b[i, j]|``, and below 2**24 (float32) or 2**53 (float64) every
    one of them is an exact float, whatever order BLAS adds in. Otherwise, and for fewer than
    :data:`FLOAT_MIN_ROWS` rows, int64 (numpy's own loop, no BLAS). A caller with a fixed ``b`` passes its
    ``column_bound`` (``max_j sum_i |b[i, j]|``) and a dict that keeps ``b``'s float copies between calls."""
    if a.size == 0 or b.size == 0 or a.shape[0] < FLOAT_MIN_ROWS:
        return a @ b
    if column_bound is None:
        column_bound = int(np.abs(b).sum(axis=0).max())
    bound = int(np.abs(a).max()) * column_bound
    for dtype, limit in FLOAT_EXACT:
        if bound < limit:
            cache = {} if float_cache is None else float_cache
            if dtype not in cache:
                cache[dtype] = b.astype(dtype)
            return (a.astype(dtype) @ cache[dtype]).astype(np.int64)
    return a @ b


def conv_accumulate(weight: np.ndarray, spikes: np.ndarray, exp: int, graded: bool, geom: ConvGeometry) -> np.ndarray:
    """Synaptic input produced by ``spikes`` (batch, C*H*W) through a convolution (:mod:`snncc.conv`): the exact
    int64 sums of :func:`snncc.conv.conv2d`, the exponent as :func:`synapse_accumulate` applies it, then the wrap of
    Lava's ``Conv`` accumulator to signed 24 bits (``(acc + 2**23) mod 2**24 - 2**23``; Dense does not wrap)."""
    s = np.asarray(spikes, dtype=np.int64)
    if not graded:
        s = (s != 0).astype(np.int64)
    half = 1 << 23  # Lava's PyConvModelFixed: utils.signed_clamp(acc, bits=24)
    return (shift_floor(conv2d(s, weight, geom), exp) + half) % (2 * half) - half


def lava_dense_encoding(weight: np.ndarray, exp: int) -> tuple[np.ndarray, int, int]:
    """Encode integer mantissas ``weight`` in [-128, 127] with exponent ``exp`` as exact Lava Dense parameters.

    Lava's MIXED sign mode floors every weight to a multiple of 2 (``nt = 8 - num_weight_bits + 1``), so the
    mantissa is stored doubled with the exponent lowered by one: ``(2w) >> 1 == w`` exactly, for every exponent.
    Returns ``(weights, weight_exp, num_weight_bits)``; pass ``sign_mode=MIXED`` with them.
    """
    w = np.asarray(weight, dtype=np.int64)
    if w.size and (w.min() < -128 or w.max() > 127):
        raise ValueError("Lava Dense mantissas must lie in [-128, 127]")
    return 2 * w, int(exp) - 1, 8


def float_decay_to_int(decay: float, decay_bits: int = DECAY_BITS) -> int:
    """The 12-bit ``d`` for which ``(4096 - d) / 4096`` best approximates the float retention ``decay``."""
    return int(round((1 << decay_bits) * (1.0 - float(decay))))


def decay_retention(d: int, decay_bits: int = DECAY_BITS) -> float:
    """The float retention ``1 - d / 2**decay_bits`` that the integer decay ``d`` stands for."""
    return 1 - d / (1 << decay_bits)


# ---- one compartment step, written once for every arithmetic ---------------------------------------------------
@register_jitable
def floor_at(v: np.ndarray, floor: int) -> np.ndarray:
    """A membrane floor: ``max(v, floor)``."""
    return np.maximum(v, floor)


@register_jitable
def spike_test(v: np.ndarray, vth: int) -> np.ndarray:
    """The spike test, strict: ``v > vth``."""
    return v > vth


class ExactArithmetic:
    """The integer rules above on int64 numpy arrays: the reference simulator's and the Lava models' arithmetic.

    The neuron steps (:func:`compartment_update` and the families' spike rules) are written against this interface,
    so the torch deploy-exact mode runs the same formulas with :class:`snncc.nn.arith.DeployArithmetic`, which
    computes the same values in float64 with straight-through gradients, and numba compiles them on scalars with
    these same functions (:mod:`snncc.compiled` binds every method below to its function).
    """

    decay = staticmethod(trunc_decay)
    wrap = staticmethod(wrap_current)
    saturate = staticmethod(saturate)
    scale_input = staticmethod(scale_input)
    maximum = staticmethod(floor_at)
    above = staticmethod(spike_test)
    levels = staticmethod(spike_levels)
    release = staticmethod(release)


ARITHMETIC_METHODS = ("decay", "wrap", "saturate", "scale_input", "maximum", "above", "levels", "release")


EXACT = ExactArithmetic()


@register_jitable
def compartment_update(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: int, dv: int, bias: np.ndarray,
                       fmt: NeuronFormat = DEFAULT_FORMAT,
                       ar: ExactArithmetic = EXACT) -> tuple[np.ndarray, np.ndarray]:
    """The sub-threshold step of a Loihi CUBA compartment; returns the new ``(u, v)``.

    ``u = wrap(decay(u, du + 1) + (a << 6))``, ``v = saturate(decay(v, dv) + u + bias)``; ``a_in`` is this step's
    summed synaptic input (each synapse's exponent applied). Every neuron family built on the compartment adds its
    own spike and reset rule after it.
    """
    u = ar.wrap(ar.decay(u, du + 1, fmt.decay_bits) + ar.scale_input(a_in, fmt.act_shift), fmt.state_bits)
    v = ar.saturate(ar.decay(v, dv, fmt.decay_bits) + u + bias, fmt.state_bits)
    return u, v
