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
  step later.

All arithmetic here is int64 numpy; Lava keeps int32 arrays, and the quantizer's range checks keep every
intermediate value far inside int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECAY_ONE = 1 << 12  # 4096: the unit of the 12-bit decay constants
ACT_SHIFT = 6  # synaptic input and threshold are scaled by 2**6 inside the neuron
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One time step of the fixed-point CUBA LIF; returns the new ``(u, v, spikes)``.

    ``a_in`` is the summed synaptic input of this step (already shifted by each synapse's exponent).
    """
    u = trunc_decay(u, du + 1, fmt.decay_bits) + (np.asarray(a_in, dtype=np.int64) << fmt.act_shift)
    u = wrap_current(u, fmt.state_bits)
    v = saturate(trunc_decay(v, dv, fmt.decay_bits) + u + bias, fmt.state_bits)
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
