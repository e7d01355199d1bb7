"""Quantize rule of the AR-LIF family: a float AR-LIF layer and its synapses -> snncc's integer AR-LIF program.

The layer keeps the program's Q12 state; its synapses are unshifted (``weight_exp = 0``) and the program scales the
summed input by ``gain * 2**shift``: a power of two when the weights lie on such a grid (a deploy-exact model),
else per neuron a 12-bit gain under one shared shift that maps the neuron's largest weight (at most the clip) onto
the largest mantissa, whichever rounds the weights with the smaller error. The AR-LIF program is itself the
lowering: it is recorded as one, measured against the float model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import QuantizationError
from snncc.families import quantization as q
from snncc.families.arlif.integer import ARLIF_GAIN_BITS, ARLIF_ONE, ARLIF_SHIFT_LIMIT, shift_round
from snncc.families.arlif.nodes import QARLIF, ARLIFNeuron
from snncc.families.base import RuleContext
from snncc.ir import Graph, InputEncoding, keys


def quantize_arlif(g: Graph, name: str, node: ARLIFNeuron, enc: InputEncoding, ctx: RuleContext) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    one = ARLIF_ONE
    theta = q.uniform(node.threshold, "threshold", name)
    lam = q.uniform(node.decay_v, "voltage decay", name)
    inputs = q.SynapseInputs(g, name, enc)
    grid = _arlif_grid(inputs, sfmt, node.bias.size)
    x_worst = int(np.max(shift_round(grid.worst * grid.gain, grid.shift), initial=0))
    q.check_input_range(name, x_worst >> nfmt.act_shift, nfmt, ctx.warn)
    values = {"vth": theta, "amp": node.amp, "gate": node.gate}
    ints = {k: int(round(v * one)) for k, v in values.items()}
    limit = nfmt.state_max
    for k, v in ints.items():
        if abs(v) > limit:
            raise QuantizationError(f"AR-LIF {k} {values[k]:g} exceeds the Q12 range of the "
                                    f"{nfmt.state_bits}-bit state", layer=name)
    bias = np.round(node.bias * one).astype(np.int64)
    _, dv = q.decays(name, lam, 0.0, nfmt)
    stats = inputs.place(g, grid.mantissas, 0, float(np.min(grid.mant_scale)), grid.row_scale)
    exact = bool(node.metadata.get(keys.DEPLOY_EXACT))
    ctx.record_lowering(name, {
        "from": "AR-LIF", "to": "integer AR-LIF program (table sigmoid/tanh, Q12)", "exact": exact,
        "against": "float model",
        "note": "trained in deploy-exact mode" if exact else "the table approximates sigmoid/tanh (error <= 0.0018)"},
        level="deployed", against=("the float AR-LIF equations (tanh/sigmoid); the deploy-exact torch model itself "
                                   "matches exactly" if exact else None))
    scale = one / (1 << nfmt.act_shift)  # v is Q12: 64 * scale voltage units per float unit, as a LIF's v
    g.nodes[name] = QARLIF(dv=dv, vth=ints["vth"], amp=ints["amp"], gate=ints["gate"], bias=bias,
                           input_shift=grid.shift, input_gain=grid.gain,
                           metadata=q.neuron_metadata(node, name, scale))
    gains = np.unique(grid.gain)
    return {"kind": "AR-LIF", "scale": scale, "weight_exp": 0,
            "input_gain": int(gains[0]) if gains.size == 1 else [int(gains.min()), int(gains.max())],
            "input_shift": grid.shift, "weight_max_abs": inputs.wmax, "weight_clip": inputs.clip, "vth": ints["vth"],
            "threshold_error": abs(ints["vth"] / one - theta) / abs(theta or 1.0), "amp": ints["amp"],
            "gate": ints["gate"], **stats, "dv": dv,
            "decay_v_error": abs(fx.decay_retention(dv, nfmt.decay_bits) - lam),
            "worst_case_input": x_worst >> nfmt.act_shift, "input_limit": q.input_limits(nfmt)[0]}


@dataclass(frozen=True)
class _ARLIFGrid:
    """One candidate input scaling of an AR-LIF layer: a mantissa step of neuron ``i`` is worth
    ``gain[i] * 2**shift`` in Q12."""

    gain: np.ndarray  # per neuron
    shift: int
    mantissas: dict[str, np.ndarray]
    worst: np.ndarray  # per neuron: the largest |sum of mantissa x payload| it can receive

    @property
    def mant_scale(self) -> np.ndarray:
        """Per neuron, mantissa steps per float weight unit."""
        return ARLIF_ONE / (self.gain * 2.0**self.shift)

    @property
    def row_scale(self) -> np.ndarray | float:
        return _row_scale(self.gain, self.shift)


def _row_scale(gain: np.ndarray, shift: int) -> np.ndarray | float:
    """Mantissa steps per float weight unit in the shape that broadcasts against the weights: a scalar when every
    neuron shares it (always so with a convolution), else per output row ``(n, 1)``."""
    s = ARLIF_ONE / (gain * 2.0**shift)
    return float(s[0]) if s.size and np.all(s == s[0]) else s[:, None]


def _arlif_grid(inputs: q.SynapseInputs, sfmt: fx.SynapseFormat, n: int) -> _ARLIFGrid:
    """The input scaling of an AR-LIF layer whose weights round with the smaller error: a power of two (gain 1,
    the smallest exponent whose mantissas hold the clip; exact for a deploy-exact model's weights), or per neuron
    a free scale ``gain * 2**shift`` under one shift set by the clip (or one octave above it). The free gain maps a
    calibrated neuron's clip onto the largest mantissa, else it is :func:`_row_gains`'s least-error choice (one
    gain for the layer when a convolution feeds it). Gains have at most ``ARLIF_GAIN_BITS`` bits, fewer if
    ``worst * gain`` could overflow the program's int32 product."""
    one = ARLIF_ONE
    if inputs.clip <= 0:
        return _arlif_candidate(inputs, sfmt, np.ones(n, np.int64), fx.ACT_SHIFT)
    r = one * inputs.clip / sfmt.weight_max  # Q12 per mantissa step that maps the clip onto the largest mantissa
    rows = inputs.row_max()
    if inputs.row_clip is not None and rows is not None:  # calibrated per-neuron grids: kept as they are
        rows = inputs.row_clip
    r_rows = np.full(n, r) if rows is None else one * np.minimum(rows, inputs.clip) / sfmt.weight_max
    search = rows is not None and inputs.row_clip is None  # a calibrated clip is what the largest mantissa means
    limit = ARLIF_SHIFT_LIMIT
    e = int(np.clip(np.ceil(np.log2(r) - q.LOG2_TOLERANCE), -limit, limit))
    candidates = [_arlif_candidate(inputs, sfmt, np.ones(n, np.int64), e)]
    for bits in range(ARLIF_GAIN_BITS, 0, -1):
        shift = int(np.floor(np.log2(r))) - (bits - 1)
        if int(np.ceil(r / 2.0**shift - q.LOG2_TOLERANCE)) >= 1 << bits:  # r rounds up to 2**bits: the next octave
            shift += 1
        fits = []
        for sh in (shift, shift + 1) if search else (shift,):  # shift + 1: for weights on a grid one octave up
            if abs(sh) > limit:
                continue
            gain = _row_gains(inputs, sfmt, r_rows, sh, bits) if search else _gains(r_rows, sh, bits)
            free = _arlif_candidate(inputs, sfmt, gain, sh)
            if np.all(free.worst * free.gain < 1 << 31):
                fits.append(free)
        if fits:
            candidates += fits
            break
    return min(candidates, key=lambda c: _arlif_rounding_error(inputs, c))  # ties: the power of two (listed first)


def _gains(step: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """Per neuron, the smallest gain (at most ``bits`` bits) whose step ``gain * 2**shift`` is at least ``step``
    (the Q12 step that puts the neuron's largest weight on the mantissa it is meant to reach)."""
    return np.clip(np.ceil(step / 2.0**shift - q.LOG2_TOLERANCE), 1, (1 << bits) - 1).astype(np.int64)


def _row_gains(inputs: q.SynapseInputs, sfmt: fx.SynapseFormat, r_rows: np.ndarray, shift: int,
               bits: int) -> np.ndarray:
    """Per neuron, the gain whose grid rounds its weights with the least squared error, among those that put its
    largest weight on mantissa ``top`` for ``top`` from the largest mantissa down to half of it (the largest, the
    finest grid, on ties). Float weights nearly always keep the finest; weights already on a per-neuron grid whose
    largest mantissa is below the limit (error-minimising rounding, a QAT model) find that grid again, so quantizing
    them is exact and idempotent."""
    hi = sfmt.weight_max
    best = _gains(r_rows, shift, bits)
    best_err = _row_errors(inputs, sfmt, best, shift)
    for top in range(hi - 1, hi // 2, -1):
        gain = _gains(r_rows * hi / top, shift, bits)
        err = _row_errors(inputs, sfmt, gain, shift)
        better = err < best_err
        best, best_err = np.where(better, gain, best), np.where(better, err, best_err)
    return best


def _row_errors(inputs: q.SynapseInputs, sfmt: fx.SynapseFormat, gain: np.ndarray, shift: int) -> np.ndarray:
    """Per neuron, the squared rounding error of its dense weights on the grid ``gain * 2**shift``."""
    scale = (ARLIF_ONE / (gain * 2.0**shift))[:, None]
    err = np.zeros(gain.size)
    for w in inputs.weights.values():
        m = np.clip(np.round(w * scale), sfmt.weight_min, sfmt.weight_max)
        err += np.sum((m / scale - w) ** 2, axis=1)
    return err


def _arlif_candidate(inputs: q.SynapseInputs, sfmt: fx.SynapseFormat, gain: np.ndarray, shift: int) -> _ARLIFGrid:
    mantissas = inputs.mantissas(_row_scale(gain, shift), sfmt)
    return _ARLIFGrid(gain, shift, mantissas, inputs.worst_per_neuron(mantissas))


def _arlif_rounding_error(inputs: q.SynapseInputs, grid: _ARLIFGrid) -> float:
    """Sum of squared differences between the float weights and their deployed values."""
    return float(sum(np.sum((m / grid.row_scale - inputs.weights[s]) ** 2) for s, m in grid.mantissas.items()))


