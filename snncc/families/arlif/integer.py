"""The AR-LIF family's integer neuron program, written once: the reference simulator, snncc's Lava ARLIFNeuron and
the torch deploy-exact mode all run :func:`arlif_step` (the torch mode on detached values, with the float formula's
gradient straight through).

Fixed-point format: every quantity (voltage, input, threshold, memory, nonlinear outputs) is a signed integer with
``ARLIF_FRAC`` fraction bits, so 1.0 == ``ARLIF_ONE``; the decay and saturation are the compartment's
(:mod:`snncc.fixedpoint`).
"""

from __future__ import annotations

import numpy as np

from snncc import fixedpoint as fx

# The AR-LIF program: every quantity (voltage, input, threshold, memory, nonlinear outputs)
# is a signed integer with ARLIF_FRAC fraction bits, so 1.0 == ARLIF_ONE. The sigmoid is a 32-segment linear
# interpolation between the knots SIGMOID_KNOTS[k] = round(ARLIF_ONE sigmoid(k / 4)), k = 0..32, on |x| < 8 (one table
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
    fmt: fx.NeuronFormat = fx.DEFAULT_FORMAT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the integer AR-LIF program (adaptive threshold and reset, reset memory); returns ``(v, m, s)``.

    All values are Q(ARLIF_FRAC). ``x`` is this step's input current, ``amp = tanh(a)`` and ``gate = c`` are the
    layer's trained scalars, ``vth`` the base threshold. Mirrors the float AR-LIF step by step:

    1. ``v = decay(v) + x``                                   (leak lambda = 1 - dv / 2**decay_bits)
    2. ``thr = vth + amp * tanh(x)``                          (input-dependent threshold)
    3. ``s = v > thr``
    4. ``g = sigmoid(gate * x)``; ``m = max(m,0)*g + min(m,0)*(1-g)``   (input-gated, asymmetric memory leak)
    5. ``m = m + (2s - 1) * sigmoid(x)``
    6. ``v = v - s * (thr + sigmoid(m))``                     (adaptive soft reset), then 24-bit saturation
    """
    one = ARLIF_ONE
    x = np.asarray(x, dtype=np.int64)
    v = fx.saturate(fx.trunc_decay(v, dv, fmt.decay_bits) + x, fmt.state_bits)
    thr = int(vth) + mul_q(amp, tanh_q(x))
    s = v > thr
    g = sigmoid_q(mul_q(gate, x))
    m = mul_q(np.maximum(m, 0), g) + mul_q(np.minimum(m, 0), one - g)
    m = m + np.where(s, 1, -1) * sigmoid_q(x)
    m = fx.saturate(m, fmt.state_bits)
    v = fx.saturate(np.where(s, v - (thr + sigmoid_q(m)), v), fmt.state_bits)
    return v, m, s
