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
intermediate value far inside int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conv import ConvGeometry, conv2d

DECAY_ONE = 1 << 12  # 4096: the unit of the 12-bit decay constants
ACT_SHIFT = 6  # synaptic input and threshold are scaled by 2**6 inside the neuron
ACT_SHIFT_SCALE = 1 << ACT_SHIFT
STATE_BITS = 24


@dataclass(frozen=True)
class NeuronFormat:
    """Bit widths of a Loihi-style CUBA LIF compartment (target data fills this in)."""

    state_bits: int = STATE_BITS
    decay_bits: int = 12
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


def trunc_decay(x: np.ndarray, d: int, decay_bits: int = 12) -> np.ndarray:
    """``x * (2**decay_bits - d) / 2**decay_bits`` truncated toward zero (Lava's decay rounding)."""
    p = np.asarray(x, dtype=np.int64) * ((1 << decay_bits) - int(d))
    return np.sign(p) * (np.abs(p) >> decay_bits)


def wrap_current(u: np.ndarray, state_bits: int = STATE_BITS) -> np.ndarray:
    """Lava's single-correction wrap of ``u`` into 24 bits (values beyond +-2**24 are not folded again)."""
    m = 1 << (state_bits - 1)
    u = np.where(u > m, u - 2 * m, u)
    return np.where(u <= -m, u + 2 * m, u)


def saturate(v: np.ndarray, state_bits: int = STATE_BITS) -> np.ndarray:
    """Saturate ``v`` to the symmetric signed range +-(2**(bits-1) - 1)."""
    m = (1 << (state_bits - 1)) - 1
    return np.clip(v, -m, m)


def bias_value(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """``bias_mant << bias_exp`` (or ``>>`` for a negative exponent), as Lava recomputes it every step."""
    bm = np.asarray(bias_mant, dtype=np.int64)
    be = np.asarray(bias_exp, dtype=np.int64)
    return np.where(be >= 0, bm << np.maximum(be, 0), bm >> np.maximum(-be, 0))


def shift_floor(acc: np.ndarray, exp: int) -> np.ndarray:
    """Apply a synapse's weight exponent to an accumulated sum: ``<< e`` or arithmetic ``>> -e`` (floor)."""
    acc = np.asarray(acc, dtype=np.int64)
    return acc << exp if exp > 0 else acc >> (-exp)


def lif_step(
    u: np.ndarray,
    v: np.ndarray,
    a_in: np.ndarray,
    du: int,
    dv: int,
    vth: int,
    bias: np.ndarray,
    soft_reset: bool,
    fmt: NeuronFormat = NeuronFormat(),
    v_min: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One time step of the fixed-point CUBA LIF; returns the new ``(u, v, spikes)``.

    ``a_in`` is the summed synaptic input of this step (already shifted by each synapse's exponent). ``v_min``
    (snncc's custom LIF only) floors ``v`` after the update and before the spike test (KLIF's ReLU).
    """
    u = trunc_decay(u, du + 1, fmt.decay_bits) + (np.asarray(a_in, dtype=np.int64) << fmt.act_shift)
    u = wrap_current(u, fmt.state_bits)
    v = saturate(trunc_decay(v, dv, fmt.decay_bits) + u + bias, fmt.state_bits)
    if v_min is not None:
        v = np.maximum(v, v_min)
    vth_e = int(vth) << fmt.act_shift
    s = v > vth_e
    v = np.where(s, v - vth_e, v) if soft_reset else np.where(s, 0, v)
    return u, v, s


def synapse_accumulate(weight: np.ndarray, spikes: np.ndarray, exp: int, graded: bool) -> np.ndarray:
    """Synaptic input produced by ``spikes`` (batch, n_in) through integer ``weight`` (n_out, n_in)."""
    s = np.asarray(spikes, dtype=np.int64)
    if not graded:
        s = (s != 0).astype(np.int64)
    return shift_floor(s @ np.asarray(weight, dtype=np.int64).T, exp)


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


def float_decay_to_int(decay: float, decay_bits: int = 12) -> int:
    """The 12-bit ``d`` for which ``(4096 - d) / 4096`` best approximates the float retention ``decay``."""
    return int(round((1 << decay_bits) * (1.0 - float(decay))))


# ---- multi-level (graded) soft-reset neuron ------------------------------------------------------------------
def multilevel_step(
    u: np.ndarray,
    v: np.ndarray,
    a_in: np.ndarray,
    du: int,
    dv: int,
    bias: np.ndarray,
    theta_exp: int,
    offset: int,
    levels: int,
    fmt: NeuronFormat = NeuronFormat(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the graded soft-reset neuron shared by the multi-level family; returns ``(u, v, z)``.

    The sub-threshold path is the LIF's (current ``u``, voltage ``v``, same decays, wrap and saturation). Then the
    integer spike is ``z = clip((v + offset) >> theta_exp, 0, levels)`` (arithmetic shift: floor) and the reset
    subtracts ``z << theta_exp``; ``z`` is sent as a graded payload. With ``levels = 1`` and ``offset = 0`` it is a
    soft-reset LIF firing on ``v >= 2**theta_exp`` (the floor fires at equality, as the papers' neurons do).
    """
    u = wrap_current(trunc_decay(u, du + 1, fmt.decay_bits) + (np.asarray(a_in, dtype=np.int64) << fmt.act_shift),
                     fmt.state_bits)
    v = saturate(trunc_decay(v, dv, fmt.decay_bits) + u + bias, fmt.state_bits)
    z = np.clip((v + int(offset)) >> int(theta_exp), 0, int(levels))
    return u, v - (z << int(theta_exp)), z


def burst_step(pending: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of a sub-step burst: a binary spike wherever payload is still pending; returns ``(spikes, pending)``.

    A sub-step multi-level neuron (``QSubStepMultiLevel``) sets ``pending = z`` at its period's boundary and sends
    its payload as ``z`` spikes on consecutive steps starting at the boundary, so ``z <= substeps`` always fits.
    """
    pending = np.asarray(pending, dtype=np.int64)
    spikes = (pending > 0).astype(np.int64)
    return spikes, pending - spikes


# ---- AR-LIF integer program -------------------------------------------------------------------------------------
# Fixed-point format of the AR-LIF program: every quantity (voltage, input, threshold, memory, nonlinear outputs)
# is a signed integer with ARLIF_FRAC fraction bits, so 1.0 == ARLIF_ONE. The sigmoid is a 32-segment linear
# interpolation between the knots SIGMOID_KNOTS[k] = round(4096 sigmoid(k / 4)), k = 0..32, on |x| < 8 (one table
# read indexed by |x| >> 10, one multiply, one rounding shift; Lava's own fixed-point InvSqrt reads a 24-entry table
# the same way), the constant SIGMOID_KNOTS[32] beyond, and 1 - y for negative x: max error 0.00088 (tanh
# 0.0018). It replaced PLAN (Amin et al. 1997; 4 power-of-two segments, max error 0.019), whose error cost the
# float-trained digits AR-LIF 14 of 1797 cross-validated test images (measured; 1 with an exact Q12 sigmoid, 2 with
# this table). tanh(x) = 2 sigmoid(2x) - 1.
ARLIF_FRAC = 12
ARLIF_ONE = 1 << ARLIF_FRAC
# The input current is x = round(a * gain * 2**input_shift) + bias: one multiply by a per-neuron unsigned gain of at
# most ARLIF_GAIN_BITS bits and a rounding shift give each neuron a free scale (its largest weight can use the whole
# mantissa range, as the LIF's co-scaled threshold allows), where a power-of-two scale alone can leave half unused.
ARLIF_GAIN_BITS = 12
ARLIF_SHIFT_LIMIT = 24  # |input_shift| <= 24
SIGMOID_SEGMENT_BITS = 10  # |x| >> 10: segments of 1/4 in Q12
SIGMOID_KNOTS = (2048, 2303, 2550, 2782, 2994, 3184, 3349, 3490, 3608, 3705, 3785, 3850, 3902, 3943, 3976, 4002,
                 4022, 4038, 4051, 4061, 4069, 4075, 4079, 4083, 4086, 4088, 4090, 4091, 4092, 4093, 4094, 4094, 4095)
_KNOTS = np.asarray(SIGMOID_KNOTS, dtype=np.int64)


def sigmoid_q(x: np.ndarray) -> np.ndarray:
    """Sigmoid of a Q12 integer, as a Q12 integer: linear interpolation between :data:`SIGMOID_KNOTS`."""
    x = np.asarray(x, dtype=np.int64)
    a = np.abs(x)
    last = len(SIGMOID_KNOTS) - 1
    k = np.minimum(a >> SIGMOID_SEGMENT_BITS, last - 1)
    r = a - (k << SIGMOID_SEGMENT_BITS)
    half = 1 << (SIGMOID_SEGMENT_BITS - 1)
    y = np.where(r >= (1 << SIGMOID_SEGMENT_BITS), _KNOTS[last],
                 _KNOTS[k] + (((_KNOTS[k + 1] - _KNOTS[k]) * r + half) >> SIGMOID_SEGMENT_BITS))
    return np.where(x >= 0, y, ARLIF_ONE - y)


def tanh_q(x: np.ndarray) -> np.ndarray:
    """tanh(x) = 2 sigmoid(2x) - 1 with :func:`sigmoid_q`, Q12 in and out."""
    return 2 * sigmoid_q(2 * np.asarray(x, dtype=np.int64)) - ARLIF_ONE


def mul_q(a: np.ndarray, b: np.ndarray, frac: int = ARLIF_FRAC) -> np.ndarray:
    """Product of two Q(frac) integers, truncated toward zero (as the LIF decay is)."""
    p = np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)
    return np.sign(p) * (np.abs(p) >> frac)


def shift_round(x: np.ndarray, shift: int) -> np.ndarray:
    """``x * 2**shift``: a left shift, or for a negative ``shift`` a right shift rounding half up."""
    x = np.asarray(x, dtype=np.int64)
    if shift >= 0:
        return x << shift
    return (x + (1 << (-shift - 1))) >> (-shift)


def arlif_input(a_in: np.ndarray, gain: np.ndarray | int, input_shift: int, bias: np.ndarray) -> np.ndarray:
    """The AR-LIF program's Q12 input current: the synapses' integer sum times ``gain * 2**input_shift`` (``gain``
    per neuron; rounded half up when the shift is negative), plus bias."""
    a = np.asarray(a_in, dtype=np.int64) * np.asarray(gain, dtype=np.int64)
    return shift_round(a, int(input_shift)) + np.asarray(bias, np.int64)


def arlif_step(
    v: np.ndarray,
    m: np.ndarray,
    x: np.ndarray,
    dv: int,
    vth: int,
    amp: int,
    gate: int,
    fmt: NeuronFormat = NeuronFormat(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the integer AR-LIF program (adaptive threshold and reset, reset memory); returns ``(v, m, s)``.

    All values are Q(ARLIF_FRAC). ``x`` is this step's input current, ``amp = tanh(a)`` and ``gate = c`` are the
    layer's trained scalars, ``vth`` the base threshold. Mirrors the float AR-LIF step by step:

    1. ``v = decay(v) + x``                                   (leak lambda = 1 - dv/4096)
    2. ``thr = vth + amp * tanh(x)``                          (input-dependent threshold)
    3. ``s = v > thr``
    4. ``g = sigmoid(gate * x)``; ``m = max(m,0)*g + min(m,0)*(1-g)``   (input-gated, asymmetric memory leak)
    5. ``m = m + (2s - 1) * sigmoid(x)``
    6. ``v = v - s * (thr + sigmoid(m))``                     (adaptive soft reset), then 24-bit saturation
    """
    one = ARLIF_ONE
    x = np.asarray(x, dtype=np.int64)
    v = saturate(trunc_decay(v, dv, fmt.decay_bits) + x, fmt.state_bits)
    thr = int(vth) + mul_q(amp, tanh_q(x))
    s = v > thr
    g = sigmoid_q(mul_q(gate, x))
    m = mul_q(np.maximum(m, 0), g) + mul_q(np.minimum(m, 0), one - g)
    m = m + np.where(s, 1, -1) * sigmoid_q(x)
    m = saturate(m, fmt.state_bits)
    v = saturate(np.where(s, v - (thr + sigmoid_q(m)), v), fmt.state_bits)
    return v, m, s
