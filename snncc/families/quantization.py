"""What every family's quantize rule shares: the float synapses into a layer, their mantissas on one grid, range
checks against the target's formats, bias and decay encodings.

A quantize rule turns one float neuron layer and the float synapses feeding it into integer nodes, in place. All of
the layer's incoming synapses share one scale ``s`` (float units -> weight units): weights become mantissas
``round(W * s / 2**e)`` with an exponent ``e`` per layer, and the layer's own integers (thresholds, biases) are
co-scaled. The rules differ in how they choose ``s`` and ``e`` (see each family); the pieces below are the same.
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.conv import nir_geometry
from snncc.errors import QuantizationError
from snncc.ir import Graph, InputEncoding, QConv, QDense, keys

LOG2_TOLERANCE = 1e-9  # a clip on an exact power-of-two grid (as calibrate writes) must not fall to the next one
VTH_RESOLUTION = 256  # raise the exponent while vth is below this (threshold error above ~0.2 %)
BIAS_RESOLUTIONS = ("weight", "fine")


class SynapseInputs:
    """The float synapses feeding one neuron layer, and what their sources can send."""

    def __init__(self, g: Graph, layer: str, enc: InputEncoding) -> None:
        self.names = g.predecessors(layer)
        self.weights = {s: np.asarray(g.nodes[s].weight, np.float64) for s in self.names}
        # convolutions: Lava's Conv ignores weight_exp, so their layer keeps e >= 0 (see the families' rules)
        self.geometry = {s: nir_geometry(g.nodes[s]) for s in self.names if isinstance(g.nodes[s], nir.Conv2d)}
        self.wmax = max((float(np.abs(w).max()) for w in self.weights.values() if w.size), default=0.0)
        # the |weight| the largest mantissa stands for: max |W|, or a calibrated clip (weights beyond it saturate
        # at the mantissa limit)
        clip = g.nodes[layer].metadata.get(keys.WEIGHT_CLIP) if getattr(g.nodes[layer], "metadata", None) else None
        self.row_clip = np.asarray(clip, np.float64) if isinstance(clip, (list, tuple, np.ndarray)) else None
        clip = float(np.max(clip)) if self.row_clip is not None and self.row_clip.size else clip
        self.clip = float(clip) if clip is not None and clip > 0 else self.wmax
        self.graded: dict[str, bool] = {}
        self.payload_max: dict[str, int] = {}
        for s in self.names:
            src = g.nodes[g.predecessors(s)[0]]
            if isinstance(src, nir.Input):
                self.graded[s], self.payload_max[s] = enc.graded, (enc.max_value if enc.graded else 1)
            else:
                levels = src.payload_levels
                self.graded[s], self.payload_max[s] = levels is not None, levels or 1

    def mantissas(self, mant_scale: float | np.ndarray, sfmt: fx.SynapseFormat) -> dict[str, np.ndarray]:
        return {s: np.clip(np.round(w * mant_scale), sfmt.weight_min, sfmt.weight_max).astype(np.int64)
                for s, w in self.weights.items()}

    @property
    def has_conv(self) -> bool:
        return bool(self.geometry)

    def worst_case(self, mantissas: dict[str, np.ndarray]) -> int:
        """Largest |sum of mantissa x payload| one neuron can receive in a step (before the exponent)."""
        worst = self.worst_per_neuron(mantissas)
        return int(np.max(worst)) if np.size(worst) else 0

    def worst_per_neuron(self, mantissas: dict[str, np.ndarray]) -> np.ndarray:
        """Per neuron, the largest |sum of mantissa x payload| it can receive in a step."""
        def per_neuron(s: str, m: np.ndarray) -> np.ndarray:
            if s not in self.geometry:
                return np.abs(m).sum(axis=1)
            _, ho, wo = self.geometry[s].out_shape  # every position of a channel sees at most the whole kernel
            return np.repeat(np.abs(m).sum(axis=(1, 2, 3)), ho * wo)

        return np.asarray(sum(per_neuron(s, m) * self.payload_max[s] for s, m in mantissas.items()), np.int64)

    def row_max(self) -> np.ndarray | None:
        """Per neuron, the largest |weight| feeding it (dense synapses only; None with a convolution)."""
        if self.has_conv or not self.names:
            return None
        return np.max([np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0])
                       for w in self.weights.values()], axis=0)

    def place(self, g: Graph, mantissas: dict[str, np.ndarray], e: int, scale: float,
              row_scale: np.ndarray | float | None = None) -> dict:
        """Replace the float synapses by integer ones; returns the weight-error statistics. ``row_scale`` (n, 1):
        per output row, the scale the mantissas were rounded with when it differs from row to row."""
        for s in self.names:
            meta = {keys.SOURCE: g.nodes[s].metadata.get(keys.SOURCE, s), keys.SCALE: scale}
            if g.is_recurrent(s):  # a feedback synapse stays one, with the delay it was trained with
                meta[keys.RECURRENT] = True
                if keys.FEEDBACK_DELAY in g.nodes[s].metadata:
                    meta[keys.FEEDBACK_DELAY] = g.nodes[s].metadata[keys.FEEDBACK_DELAY]
            if s in self.geometry:
                geom = self.geometry[s]
                g.nodes[s] = QConv(weight=mantissas[s], input_shape=geom.in_shape, stride=geom.stride,
                                   padding=geom.padding, dilation=geom.dilation, groups=geom.groups, weight_exp=e,
                                   graded=self.graded[s], metadata=meta)
            else:
                g.nodes[s] = QDense(weight=mantissas[s], weight_exp=e, graded=self.graded[s], metadata=meta)
        if not self.names:
            return {"weight_rms_error": 0.0, "weight_zeroed": 0, "weight_clipped": 0}
        rs = scale if row_scale is None else row_scale
        wq = np.concatenate([(mantissas[s] * 2.0**e / rs).ravel() for s in self.names])
        wf = np.concatenate([self.weights[s].ravel() for s in self.names])
        m_raw = np.concatenate([(self.weights[s] * rs / 2.0**e).ravel() for s in self.names])
        m = np.concatenate([mantissas[s].ravel() for s in self.names])
        return {"weight_rms_error": float(np.sqrt(np.mean((wq - wf) ** 2))) if wf.size else 0.0,
                "weight_zeroed": int(np.sum((np.round(m_raw) == 0) & (wf != 0))),
                "weight_clipped": int(np.sum(np.abs(np.round(m_raw)) > np.abs(m)))}


def weight_units(g: Graph, name: str) -> dict[str, float | np.ndarray]:
    """What one mantissa step of each quantized synapse feeding the integer layer ``name`` is worth in float units
    (the grid the float weights were rounded to; one unit per output row, shape ``(n, 1)``, for a layer that scales
    its input per neuron)."""
    node = g.nodes[name]
    return {s: node.weight_unit(g.nodes[s].weight_exp, float(g.nodes[s].metadata[keys.SCALE]))
            for s in g.predecessors(name)}


def effective_weights(g: Graph, name: str) -> dict[str, np.ndarray]:
    """What each quantized synapse feeding ``name`` is worth in float units: ``m * 2**e / scale``."""
    return {s: g.nodes[s].weight * unit for s, unit in weight_units(g, name).items()}


def neuron_metadata(node: Any, name: str, scale: float) -> dict:
    """The float layer's metadata (provenance, relay marks...) plus the scale its integers are worth."""
    meta = dict(getattr(node, "metadata", None) or {})
    return {**meta, keys.SOURCE: meta.get(keys.SOURCE, name), keys.SCALE: scale}


def uniform(values: np.ndarray, what: str, layer: str) -> float:
    """The one value of a per-neuron parameter (a Lava neuron process takes one per population)."""
    v = np.unique(np.asarray(values, np.float64))
    if v.size != 1:
        raise QuantizationError(
            f"{v.size} different {what} values in one layer; a Lava neuron process takes one per population",
            layer=layer, hint="use one value per layer (snncc.neurons modules do)")
    return float(v[0])


def shifted(worst: int, e: int) -> int:
    """A worst-case mantissa sum after the exponent ``e``."""
    return worst << e if e >= 0 else worst >> -e


def input_limits(nfmt: fx.NeuronFormat) -> tuple[int, int]:
    """(|a| below which u cannot wrap, |a| below which Lava's int32 ``a << 6`` cannot overflow)."""
    return 1 << (nfmt.state_bits - 1 - nfmt.act_shift), 1 << (31 - nfmt.act_shift)


def check_input_range(name: str, acc: int, nfmt: fx.NeuronFormat, warn: Any) -> None:
    """QuantizationError when the worst-case input overflows Lava's int32 scaling; a warning when it can wrap u."""
    a_limit, a_int32 = input_limits(nfmt)
    if acc >= a_int32:
        raise QuantizationError(
            f"worst-case synaptic input {acc} reaches 2**{31 - nfmt.act_shift}, where Lava's int32 input "
            "scaling overflows", layer=name, hint="reduce the fan-in or the weight range")
    if acc >= a_limit:
        warn(f"layer '{name}': worst-case synaptic input {acc} can wrap the {nfmt.state_bits}-bit "
             f"current (limit {a_limit}); the deployed layer then differs from the float model")


def decays(name: str, beta: float, alpha: float, nfmt: fx.NeuronFormat, node: Any = None) -> tuple[int, int]:
    """(du, dv): the nearest integer decays, or the calibrated ones (``keys.DECAY_INT``: rounding-corrected)."""
    du = fx.float_decay_to_int(alpha, nfmt.decay_bits) - 1
    dv = fx.float_decay_to_int(beta, nfmt.decay_bits)
    corrected = (getattr(node, "metadata", None) or {}).get(keys.DECAY_INT)
    if corrected:
        du, dv = int(corrected.get("du", du)), int(corrected.get("dv", dv))
    one = 1 << nfmt.decay_bits
    if not (0 <= dv <= one and -1 <= du < one):
        raise QuantizationError(f"decays (voltage {beta:g}, current {alpha:g}) must lie in [0, 1]; they give "
                                f"dv={dv}, du={du} outside the {nfmt.decay_bits}-bit range", layer=name)
    return du, dv


def bias_encoding(b_weight_units: np.ndarray, nfmt: fx.NeuronFormat,
                  resolution: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-neuron (mantissa, exponent) for a bias given in weight units; None if one does not fit. ``resolution``
    ``weight`` keeps biases in weight units (``bias_exp >= act_shift``, as lava-dl does), ``fine`` in 1/64 of
    them."""
    b_w = np.asarray(b_weight_units, np.float64)
    if resolution == "weight":
        b_int = np.round(b_w) * (1 << nfmt.act_shift)
        lowest = max(nfmt.bias_exp_min, nfmt.act_shift)
    else:
        b_int = np.round(b_w * (1 << nfmt.act_shift))
        lowest = nfmt.bias_exp_min
    mant = np.zeros(b_int.shape, np.int64)
    exp = np.full(b_int.shape, lowest, np.int64)
    todo = np.ones(b_int.shape, bool)
    for e in range(lowest, nfmt.bias_exp_max + 1):
        m = np.round(b_int / 2.0**e)
        ok = todo & (np.abs(m) <= nfmt.bias_mant_max)
        mant[ok], exp[ok] = m[ok].astype(np.int64), e
        todo &= ~ok
    if np.any(todo):
        return None
    return mant, exp
