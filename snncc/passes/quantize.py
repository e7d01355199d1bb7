"""quantize: canonical float graph -> integer primitives in the target's formats (QDense, QLIF).

For each neuron layer, with all of its incoming synapses sharing one scale ``s`` (float units -> weight units):

* weights: ``m = round(W * 127 / max|W|)`` (target ``weight_bits``; a calibrated clip ``snncc.weight_clip`` from
  the calibrate pass replaces ``max|W|``, and larger weights saturate) with a per-synapse exponent ``e``, so the
  effective integer weight is ``m * 2**e`` and ``s = 2**e * 127 / max|W|``;
* threshold ``vth = round(s * theta)`` (the neuron compares ``v > vth << 6``, and ``v`` is kept in units of
  ``1/(64 s)``), so thresholds are co-scaled with the weights;
* bias ``round(64 * s * b)`` as ``bias_mant << bias_exp`` (by default in weight units, ``bias_exp >= 6``, as lava-dl
  does, which keeps the layer expressible in netx); decays ``dv = round(4096 (1 - beta))``,
  ``du = round(4096 (1 - alpha)) - 1`` (Lava's current decay is ``du + 1``).

Multi-level layers instead take the largest mantissa scale that makes their quantum ``theta`` a power of two,
``2**k``, in voltage units (the graded primitive shifts by ``k``; ``k >= 6`` so that a population of binary neurons
can stand in for it). AR-LIF layers keep the Q12 state of the integer AR-LIF program; their synapses are unshifted
and the program scales the summed input by ``gain * 2**shift``: a power of two when the weights lie on such a grid
(a deploy-exact model), else per neuron a 12-bit gain under one shared shift that maps the neuron's largest weight
(at most the clip) onto the largest mantissa, whichever rounds the weights with the smaller error.

The exponent ``e`` starts at 0 and is raised while the threshold resolution is coarse (``vth < 256``) and the
worst-case input cannot wrap the 24-bit current, and lowered while the threshold or a bias does not fit. Values
that cannot be represented raise :class:`QuantizationError` naming the layer and the limit; a possible current
wrap is a warning. Per-layer statistics go to ``ctx.notes['quantize']`` for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from .. import fixedpoint as fx
from ..conv import nir_geometry
from ..errors import QuantizationError
from ..ir import (
    INT_NEURONS,
    QARLIF,
    QLIF,
    ARLIFNeuron,
    Graph,
    InputEncoding,
    LIFNeuron,
    MultiLevelNeuron,
    QConv,
    QDense,
    QMultiLevel,
)
from .base import Pass, PassContext
from .canonicalize import check_canonical

# neuron metadata set by calibrate: the |weight| mapped to the largest mantissa (a list: one per neuron, for an AR-LIF
# layer whose per-neuron grids calibrate rounded onto)
CLIP_KEY = "snncc.weight_clip"
DECAY_KEY = "snncc.decay_int"  # neuron metadata set by calibrate: {"du": int, "dv": int}, rounding-corrected
LOG2_TOLERANCE = 1e-9  # a clip on an exact power-of-two grid (as calibrate writes) must not fall to the next one
VTH_RESOLUTION = 256  # raise the exponent while vth is below this (threshold error above ~0.2 %)
BIAS_RESOLUTIONS = ("weight", "fine")


class Quantize(Pass):
    name = "quantize"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        resolution = ctx.options.get("bias_resolution", "weight")
        if resolution not in BIAS_RESOLUTIONS:
            raise QuantizationError(f"bias_resolution must be one of {BIAS_RESOLUTIONS}, got {resolution!r}")
        enc = InputEncoding.from_metadata(g.metadata)
        notes: dict[str, dict] = {}
        for name in g.topological_order():
            node = g.nodes[name]
            if isinstance(node, (LIFNeuron, MultiLevelNeuron, ARLIFNeuron)):
                notes[name] = quantize_layer(g, name, enc, ctx, resolution)
            elif not isinstance(node, (nir.Input, nir.Output, nir.Linear, nir.Conv2d)):
                raise QuantizationError(f"cannot quantize a {type(node).__name__} (run lower-neurons first)",
                                        layer=name)
        g.metadata["quantized"] = True
        g.metadata["target"] = ctx.target.name
        ctx.notes["quantize"] = notes
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if not isinstance(node, (nir.Input, nir.Output, QDense, QConv, *INT_NEURONS)):
                raise QuantizationError(f"node left unquantized: {type(node).__name__}", layer=name)


def quantize_layer(g: Graph, name: str, enc: InputEncoding, ctx: PassContext, resolution: str = "weight") -> dict:
    """Quantize one float neuron layer and the synapses feeding it, in ``g`` (in place); returns its statistics.

    The calibrate pass calls this on a small sub-graph to score candidate weight clips with the real quantizer.
    """
    node = g.nodes[name]
    if isinstance(node, LIFNeuron):
        return _quantize_lif(g, name, node, enc, ctx, resolution)
    if isinstance(node, MultiLevelNeuron):
        return _quantize_multilevel(g, name, node, enc, ctx, resolution)
    return _quantize_arlif(g, name, node, enc, ctx)


def weight_units(g: Graph, name: str) -> dict[str, float | np.ndarray]:
    """What one mantissa step of each quantized synapse feeding ``name`` is worth in float units
    (``2**e / scale``: the grid the float weights were rounded to). An AR-LIF layer with per-neuron input gains
    gives, for its dense synapses, one unit per output row, shape ``(n, 1)``."""
    node = g.nodes[name]
    if isinstance(node, QARLIF) and np.any(node.input_gain != node.input_gain[0]):
        rows = node.input_gain[:, None] * 2.0**node.input_shift / fx.ARLIF_ONE
        return {s: rows * 2.0 ** g.nodes[s].weight_exp for s in g.predecessors(name)}
    return {s: 2.0 ** g.nodes[s].weight_exp / float(g.nodes[s].metadata["snncc.scale"]) for s in g.predecessors(name)}


def effective_weights(g: Graph, name: str) -> dict[str, np.ndarray]:
    """What each quantized synapse feeding ``name`` is worth in float units: ``m * 2**e / scale``."""
    return {s: g.nodes[s].weight * unit for s, unit in weight_units(g, name).items()}


def _neuron_meta(node: object, name: str, scale: float) -> dict:
    """The float layer's metadata (provenance, relay marks...) plus the scale its integers are worth."""
    meta = dict(getattr(node, "metadata", None) or {})
    return {**meta, "snncc.source": meta.get("snncc.source", name), "snncc.scale": scale}


def _uniform(values: np.ndarray, what: str, layer: str) -> float:
    v = np.unique(np.asarray(values, np.float64))
    if v.size != 1:
        raise QuantizationError(
            f"{v.size} different {what} values in one layer; a Lava neuron process takes one per population",
            layer=layer, hint="use one value per layer (snncc.neurons modules do)")
    return float(v[0])


class _Inputs:
    """The float synapses feeding one neuron layer, and what their sources can send."""

    def __init__(self, g: Graph, layer: str, enc: InputEncoding) -> None:
        self.names = g.predecessors(layer)
        self.weights = {s: np.asarray(g.nodes[s].weight, np.float64) for s in self.names}
        # convolutions: Lava's Conv ignores weight_exp, so their layer keeps e >= 0 (see the e < 0 branches below)
        self.geometry = {s: nir_geometry(g.nodes[s]) for s in self.names if isinstance(g.nodes[s], nir.Conv2d)}
        self.wmax = max((float(np.abs(w).max()) for w in self.weights.values() if w.size), default=0.0)
        # the |weight| the largest mantissa stands for: max |W|, or a calibrated clip (weights beyond it saturate
        # at the mantissa limit)
        clip = g.nodes[layer].metadata.get(CLIP_KEY) if getattr(g.nodes[layer], "metadata", None) else None
        self.row_clip = np.asarray(clip, np.float64) if isinstance(clip, (list, tuple, np.ndarray)) else None
        clip = float(np.max(clip)) if self.row_clip is not None and self.row_clip.size else clip
        self.clip = float(clip) if clip is not None and clip > 0 else self.wmax
        self.graded: dict[str, bool] = {}
        self.payload_max: dict[str, int] = {}
        for s in self.names:
            src = g.nodes[g.predecessors(s)[0]]
            if isinstance(src, nir.Input):
                self.graded[s], self.payload_max[s] = enc.graded, (enc.max_value if enc.graded else 1)
            elif isinstance(src, (MultiLevelNeuron, QMultiLevel)):
                self.graded[s], self.payload_max[s] = True, int(src.levels)
            else:
                self.graded[s], self.payload_max[s] = False, 1

    def mantissas(self, mant_scale: float, sfmt: fx.SynapseFormat) -> dict[str, np.ndarray]:
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
              row_scale: np.ndarray | None = None) -> dict:
        """Replace the float synapses by QDense nodes; returns the weight-error statistics. ``row_scale`` (n, 1):
        per output row, the scale the mantissas were rounded with when it differs from row to row."""
        for s in self.names:
            meta = {"snncc.source": g.nodes[s].metadata.get("snncc.source", s), "snncc.scale": scale}
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


def _acc(worst: int, e: int) -> int:
    return worst << e if e >= 0 else worst >> -e


def _limits(nfmt: fx.NeuronFormat) -> tuple[int, int]:
    """(|a| below which u cannot wrap, |a| below which Lava's int32 ``a << 6`` cannot overflow)."""
    return 1 << (nfmt.state_bits - 1 - nfmt.act_shift), 1 << (31 - nfmt.act_shift)


def _check_input_range(name: str, acc: int, nfmt: fx.NeuronFormat, ctx: PassContext) -> None:
    a_limit, a_int32 = _limits(nfmt)
    if acc >= a_int32:
        raise QuantizationError(
            f"worst-case synaptic input {acc} reaches 2**{31 - nfmt.act_shift}, where Lava's int32 input "
            "scaling overflows", layer=name, hint="reduce the fan-in or the weight range")
    if acc >= a_limit:
        ctx.warn(f"layer '{name}': worst-case synaptic input {acc} can wrap the {nfmt.state_bits}-bit "
                 f"current (limit {a_limit}); the deployed layer then differs from the float model")


def _decays(name: str, beta: float, alpha: float, nfmt: fx.NeuronFormat, node: object = None) -> tuple[int, int]:
    """(du, dv): the nearest 12-bit decays, or the calibrated ones (``DECAY_KEY``: rounding-corrected)."""
    du = fx.float_decay_to_int(alpha, nfmt.decay_bits) - 1
    dv = fx.float_decay_to_int(beta, nfmt.decay_bits)
    corrected = (getattr(node, "metadata", None) or {}).get(DECAY_KEY)
    if corrected:
        du, dv = int(corrected.get("du", du)), int(corrected.get("dv", dv))
    one = 1 << nfmt.decay_bits
    if not (0 <= dv <= one and -1 <= du < one):
        raise QuantizationError(f"decays (voltage {beta:g}, current {alpha:g}) must lie in [0, 1]; they give "
                                f"dv={dv}, du={du} outside the {nfmt.decay_bits}-bit range", layer=name)
    return du, dv


def _quantize_lif(g: Graph, name: str, node: LIFNeuron, enc: InputEncoding, ctx: PassContext,
                  resolution: str) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    theta = _uniform(node.threshold, "threshold", name)
    beta = _uniform(node.decay_v, "voltage decay", name)
    alpha = _uniform(node.decay_i, "current decay", name)
    if not theta > 0:
        raise QuantizationError(f"threshold must be positive, got {theta}", layer=name)
    inputs = _Inputs(g, name, enc)
    mant_scale = sfmt.weight_max / inputs.clip if inputs.clip > 0 else sfmt.weight_max / theta
    mantissas = inputs.mantissas(mant_scale, sfmt)
    worst = inputs.worst_case(mantissas)
    a_limit, a_int32 = _limits(nfmt)

    def vth_at(e: int) -> int:
        return int(round(mant_scale * 2.0**e * theta))

    def bias_at(e: int) -> tuple[np.ndarray, np.ndarray] | None:
        return _bias(node.bias * mant_scale * 2.0**e, nfmt, resolution)

    e = 0
    while (e < sfmt.weight_exp_max and vth_at(e) < VTH_RESOLUTION and vth_at(e + 1) <= nfmt.vth_max
           and _acc(worst, e + 1) < a_limit and bias_at(e + 1) is not None):
        e += 1
    while e > sfmt.weight_exp_min and (vth_at(e) > nfmt.vth_max or bias_at(e) is None
                                       or _acc(worst, e) >= a_int32):
        e -= 1
    vth = vth_at(e)
    if vth > nfmt.vth_max:
        raise QuantizationError(
            f"threshold {theta:g} needs vth={vth} at the lowest weight exponent {e}, above the "
            f"{nfmt.vth_bits}-bit limit {nfmt.vth_max}", layer=name,
            hint="the threshold is far larger than the weights")
    if e < 0 and inputs.has_conv:  # the same values with coarser mantissas and e = 0 (Lava's Conv has no exponent)
        mant_scale *= 2.0**e
        mantissas = inputs.mantissas(mant_scale, sfmt)
        worst, e = inputs.worst_case(mantissas), 0
    _check_input_range(name, _acc(worst, e), nfmt, ctx)
    bias = bias_at(e)
    if bias is None:
        raise QuantizationError(
            f"bias up to {float(np.abs(node.bias).max()):g} exceeds the {nfmt.bias_mant_bits}-bit mantissa with "
            f"exponent <= {nfmt.bias_exp_max}", layer=name)
    scale = mant_scale * 2.0**e
    du, dv = _decays(name, beta, alpha, nfmt, node)
    v_min = None if node.v_min is None else int(round(fx.ACT_SHIFT_SCALE * scale * node.v_min))
    stats = inputs.place(g, mantissas, e, scale)
    g.nodes[name] = QLIF(du=du, dv=dv, vth=vth, bias_mant=bias[0], bias_exp=bias[1], reset=node.reset,
                         v_min=v_min, metadata=_neuron_meta(node, name, scale))
    bias_float = fx.bias_value(bias[0], bias[1]) / (fx.ACT_SHIFT_SCALE * scale)
    return {
        "kind": "LIF", "scale": scale, "weight_exp": e, "weight_max_abs": inputs.wmax, "weight_clip": inputs.clip,
        "vth": vth,
        "threshold_error": abs(vth / scale - theta) / theta, **stats,
        "bias_max_error": float(np.max(np.abs(bias_float - node.bias))) if node.bias.size else 0.0,
        "du": du, "dv": dv,
        "decay_v_error": abs((1 - dv / 4096) - beta), "decay_i_error": abs((1 - (du + 1) / 4096) - alpha),
        "worst_case_input": _acc(worst, e), "input_limit": a_limit,
    }


def _quantize_multilevel(g: Graph, name: str, node: MultiLevelNeuron, enc: InputEncoding, ctx: PassContext,
                         resolution: str) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    q = _uniform(node.threshold, "threshold", name)
    beta = _uniform(node.decay_v, "voltage decay", name)
    alpha = _uniform(node.decay_i, "current decay", name)
    offset = _uniform(node.offset, "offset", name)
    if not q > 0:
        raise QuantizationError(f"threshold must be positive, got {q}", layer=name)
    inputs = _Inputs(g, name, enc)
    # the largest mantissa scale 2**p / q not above weight_max / wmax: the quantum is then 2**(p + e + 6) v-units
    p = int(np.floor(np.log2(sfmt.weight_max / inputs.clip * q) + LOG2_TOLERANCE)) if inputs.clip > 0 else 7
    e = 0 if p >= 0 else min(-p, sfmt.weight_exp_max)
    p = max(p, -e)  # k = p + e + 6 >= 6: a binary population can then represent the quantum (vth = 2**(k-6))
    mant_scale = 2.0**p / q
    mantissas = inputs.mantissas(mant_scale, sfmt)
    worst = inputs.worst_case(mantissas)
    a_limit, a_int32 = _limits(nfmt)
    while e > sfmt.weight_exp_min and _acc(worst, e) >= a_int32 and p + e + 6 > 6:
        e -= 1
    if e < 0 and inputs.has_conv:  # coarser mantissas instead of a negative exponent (Lava's Conv has none)
        p, e = p + e, 0
        mant_scale = 2.0**p / q
        mantissas = inputs.mantissas(mant_scale, sfmt)
        worst = inputs.worst_case(mantissas)
    k = p + e + 6
    if k + int(np.ceil(np.log2(node.levels + 1))) > nfmt.state_bits - 1:
        raise QuantizationError(f"{node.levels} levels of quantum 2**{k} overflow the {nfmt.state_bits}-bit "
                                "voltage", layer=name, hint="fewer levels, or a threshold closer to the weights")
    _check_input_range(name, _acc(worst, e), nfmt, ctx)
    scale = mant_scale * 2.0**e
    bias = _bias(node.bias * scale, nfmt, resolution)
    if bias is None:
        raise QuantizationError(f"bias up to {float(np.abs(node.bias).max()):g} exceeds the "
                                f"{nfmt.bias_mant_bits}-bit mantissa", layer=name)
    du, dv = _decays(name, beta, alpha, nfmt, node)
    offset_int = int(round(offset * 2.0**k))
    stats = inputs.place(g, mantissas, e, scale)
    g.nodes[name] = QMultiLevel(du=du, dv=dv, bias_mant=bias[0], bias_exp=bias[1], theta_exp=k, offset=offset_int,
                                levels=node.levels,
                                metadata=_neuron_meta(node, name, scale))
    return {"kind": "MultiLevel", "scale": scale, "weight_exp": e, "weight_max_abs": inputs.wmax,
            "weight_clip": inputs.clip,
            "theta_exp": k, "levels": node.levels, "offset": offset_int,
            "offset_error": abs(offset_int / 2.0**k - offset), **stats, "du": du, "dv": dv,
            "decay_v_error": abs((1 - dv / 4096) - beta), "worst_case_input": _acc(worst, e),
            "input_limit": a_limit}


def _quantize_arlif(g: Graph, name: str, node: ARLIFNeuron, enc: InputEncoding, ctx: PassContext) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    one = fx.ARLIF_ONE
    theta = _uniform(node.threshold, "threshold", name)
    lam = _uniform(node.decay_v, "voltage decay", name)
    inputs = _Inputs(g, name, enc)
    grid = _arlif_grid(inputs, sfmt, node.bias.size)
    x_worst = int(np.max(fx.shift_round(grid.worst * grid.gain, grid.shift), initial=0))
    _check_input_range(name, x_worst >> fx.ACT_SHIFT, nfmt, ctx)
    values = {"vth": theta, "amp": node.amp, "gate": node.gate}
    ints = {k: int(round(v * one)) for k, v in values.items()}
    limit = nfmt.state_max
    for k, v in ints.items():
        if abs(v) > limit:
            raise QuantizationError(f"AR-LIF {k} {values[k]:g} exceeds the Q12 range of the "
                                    f"{nfmt.state_bits}-bit state", layer=name)
    bias = np.round(node.bias * one).astype(np.int64)
    _, dv = _decays(name, lam, 0.0, nfmt)
    stats = inputs.place(g, grid.mantissas, 0, float(np.min(grid.mant_scale)), grid.row_scale)
    exact = bool(node.metadata.get("snncc.deploy_exact"))
    ctx.notes.setdefault("lowering", {})[name] = {
        "from": "AR-LIF", "to": "integer AR-LIF program (table sigmoid/tanh, Q12)", "exact": exact,
        "against": "float model",
        "note": "trained in deploy-exact mode" if exact else "the table approximates sigmoid/tanh (error <= 0.0018)"}
    scale = one / (1 << fx.ACT_SHIFT)  # v is Q12: 64 * scale voltage units per float unit, as a LIF's v
    g.nodes[name] = QARLIF(dv=dv, vth=ints["vth"], amp=ints["amp"], gate=ints["gate"], bias=bias,
                           input_shift=grid.shift, input_gain=grid.gain, metadata=_neuron_meta(node, name, scale))
    gains = np.unique(grid.gain)
    return {"kind": "AR-LIF", "scale": scale, "weight_exp": 0,
            "input_gain": int(gains[0]) if gains.size == 1 else [int(gains.min()), int(gains.max())],
            "input_shift": grid.shift, "weight_max_abs": inputs.wmax, "weight_clip": inputs.clip, "vth": ints["vth"],
            "threshold_error": abs(ints["vth"] / one - theta) / abs(theta or 1.0), "amp": ints["amp"],
            "gate": ints["gate"], **stats, "dv": dv, "decay_v_error": abs((1 - dv / 4096) - lam),
            "worst_case_input": x_worst >> fx.ACT_SHIFT, "input_limit": _limits(nfmt)[0]}


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
        return fx.ARLIF_ONE / (self.gain * 2.0**self.shift)

    @property
    def row_scale(self) -> np.ndarray | float:
        return _row_scale(self.gain, self.shift)


def _row_scale(gain: np.ndarray, shift: int) -> np.ndarray | float:
    """Mantissa steps per float weight unit in the shape that broadcasts against the weights: a scalar when every
    neuron shares it (always so with a convolution), else per output row ``(n, 1)``."""
    s = fx.ARLIF_ONE / (gain * 2.0**shift)
    return float(s[0]) if s.size and np.all(s == s[0]) else s[:, None]


def _arlif_grid(inputs: _Inputs, sfmt: fx.SynapseFormat, n: int) -> _ARLIFGrid:
    """The input scaling of an AR-LIF layer whose weights round with the smaller error: a power of two (gain 1,
    the smallest exponent whose mantissas hold the clip; exact for a deploy-exact model's weights), or per neuron
    a free scale ``gain * 2**shift`` under one shift set by the clip (or one octave above it). The free gain maps a
    calibrated neuron's clip onto the largest mantissa, else it is :func:`_row_gains`'s least-error choice (one
    gain for the layer when a convolution feeds it). Gains have at most ``ARLIF_GAIN_BITS`` bits, fewer if
    ``worst * gain`` could overflow the program's int32 product."""
    one = fx.ARLIF_ONE
    if inputs.clip <= 0:
        return _arlif_candidate(inputs, sfmt, np.ones(n, np.int64), fx.ACT_SHIFT)
    r = one * inputs.clip / sfmt.weight_max  # Q12 per mantissa step that maps the clip onto the largest mantissa
    rows = inputs.row_max()
    if inputs.row_clip is not None and rows is not None:  # calibrated per-neuron grids: kept as they are
        rows = inputs.row_clip
    r_rows = np.full(n, r) if rows is None else one * np.minimum(rows, inputs.clip) / sfmt.weight_max
    search = rows is not None and inputs.row_clip is None  # a calibrated clip is what the largest mantissa means
    limit = fx.ARLIF_SHIFT_LIMIT
    e = int(np.clip(np.ceil(np.log2(r) - LOG2_TOLERANCE), -limit, limit))
    candidates = [_arlif_candidate(inputs, sfmt, np.ones(n, np.int64), e)]
    for bits in range(fx.ARLIF_GAIN_BITS, 0, -1):
        shift = int(np.floor(np.log2(r))) - (bits - 1)
        if int(np.ceil(r / 2.0**shift - LOG2_TOLERANCE)) >= 1 << bits:  # r rounds up to 2**bits: the next octave
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
    return np.clip(np.ceil(step / 2.0**shift - LOG2_TOLERANCE), 1, (1 << bits) - 1).astype(np.int64)


def _row_gains(inputs: _Inputs, sfmt: fx.SynapseFormat, r_rows: np.ndarray, shift: int, bits: int) -> np.ndarray:
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


def _row_errors(inputs: _Inputs, sfmt: fx.SynapseFormat, gain: np.ndarray, shift: int) -> np.ndarray:
    """Per neuron, the squared rounding error of its dense weights on the grid ``gain * 2**shift``."""
    scale = (fx.ARLIF_ONE / (gain * 2.0**shift))[:, None]
    err = np.zeros(gain.size)
    for w in inputs.weights.values():
        m = np.clip(np.round(w * scale), sfmt.weight_min, sfmt.weight_max)
        err += np.sum((m / scale - w) ** 2, axis=1)
    return err


def _arlif_candidate(inputs: _Inputs, sfmt: fx.SynapseFormat, gain: np.ndarray, shift: int) -> _ARLIFGrid:
    mantissas = inputs.mantissas(_row_scale(gain, shift), sfmt)
    return _ARLIFGrid(gain, shift, mantissas, inputs.worst_per_neuron(mantissas))


def _arlif_rounding_error(inputs: _Inputs, grid: _ARLIFGrid) -> float:
    """Sum of squared differences between the float weights and their deployed values."""
    return float(sum(np.sum((m / grid.row_scale - inputs.weights[s]) ** 2) for s, m in grid.mantissas.items()))


def _bias(b_weight_units: np.ndarray, nfmt: fx.NeuronFormat, resolution: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-neuron (mantissa, exponent) for a bias given in weight units; None if one does not fit."""
    b_w = np.asarray(b_weight_units, np.float64)
    if resolution == "weight":
        b_int = np.round(b_w) * (1 << fx.ACT_SHIFT)
        lowest = max(nfmt.bias_exp_min, fx.ACT_SHIFT)
    else:
        b_int = np.round(b_w * (1 << fx.ACT_SHIFT))
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
