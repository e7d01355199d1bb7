"""quantize: canonical float graph -> integer primitives in the target's formats (QDense, QLIF).

For each neuron layer, with all of its incoming synapses sharing one scale ``s`` (float units -> weight units):

* weights: ``m = round(W * 127 / max|W|)`` (target ``weight_bits``) with a per-synapse exponent ``e``, so the
  effective integer weight is ``m * 2**e`` and ``s = 2**e * 127 / max|W|``;
* threshold ``vth = round(s * theta)`` (the neuron compares ``v > vth << 6``, and ``v`` is kept in units of
  ``1/(64 s)``), so thresholds are co-scaled with the weights;
* bias ``round(64 * s * b)`` as ``bias_mant << bias_exp`` (by default in weight units, ``bias_exp >= 6``, as lava-dl
  does, which keeps the layer expressible in netx); decays ``dv = round(4096 (1 - beta))``,
  ``du = round(4096 (1 - alpha)) - 1`` (Lava's current decay is ``du + 1``).

The exponent ``e`` starts at 0 and is raised while the threshold resolution is coarse (``vth < 256``) and the
worst-case input cannot wrap the 24-bit current, and lowered while the threshold or a bias does not fit. Values
that cannot be represented raise :class:`QuantizationError` naming the layer and the limit; a possible current
wrap is a warning. Per-layer statistics go to ``ctx.notes['quantize']`` for the report.
"""

from __future__ import annotations

import nir
import numpy as np

from .. import fixedpoint as fx
from ..errors import QuantizationError
from ..ir import QLIF, Graph, InputEncoding, LIFNeuron, QDense
from .base import Pass, PassContext
from .canonicalize import check_canonical

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
            if isinstance(node, LIFNeuron):
                notes[name] = _quantize_layer(g, name, node, enc, ctx, resolution)
        g.metadata["quantized"] = True
        g.metadata["target"] = ctx.target.name
        ctx.notes["quantize"] = notes
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if not isinstance(node, (nir.Input, nir.Output, QDense, QLIF)):
                raise QuantizationError(f"node left unquantized: {type(node).__name__}", layer=name)


def _uniform(values: np.ndarray, what: str, layer: str) -> float:
    v = np.unique(np.asarray(values, np.float64))
    if v.size != 1:
        raise QuantizationError(
            f"{v.size} different {what} values in one layer; a Lava LIF process takes one per population",
            layer=layer, hint="use one value per layer (snncc.neurons modules do)")
    return float(v[0])


def _quantize_layer(g: Graph, name: str, node: LIFNeuron, enc: InputEncoding, ctx: PassContext,
                    resolution: str) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    theta = _uniform(node.threshold, "threshold", name)
    beta = _uniform(node.decay_v, "voltage decay", name)
    alpha = _uniform(node.decay_i, "current decay", name)
    if not theta > 0:
        raise QuantizationError(f"threshold must be positive, got {theta}", layer=name)
    synapses = g.predecessors(name)
    weights = {s: np.asarray(g.nodes[s].weight, np.float64) for s in synapses}
    wmax = max((float(np.abs(w).max()) for w in weights.values() if w.size), default=0.0)
    mant_scale = sfmt.weight_max / wmax if wmax > 0 else sfmt.weight_max / theta
    mantissas = {s: np.clip(np.round(w * mant_scale), sfmt.weight_min, sfmt.weight_max).astype(np.int64)
                 for s, w in weights.items()}
    payload_max = {s: (enc.max_value if enc.graded and g.predecessors(s) == g.input_names else 1) for s in synapses}
    worst = sum(np.abs(m).sum(axis=1) * payload_max[s] for s, m in mantissas.items())
    worst_max = int(np.max(worst)) if np.size(worst) else 0
    a_limit = 1 << (nfmt.state_bits - 1 - nfmt.act_shift)  # |a| below this cannot wrap u (for du = 4095)
    # Lava computes a << 6 in int32: beyond this the simulator overflows where the chip (and the reference) wrap
    a_int32 = 1 << (31 - nfmt.act_shift)

    def vth_at(e: int) -> int:
        return int(round(mant_scale * 2.0**e * theta))

    def bias_at(e: int) -> tuple[np.ndarray, np.ndarray] | None:
        return _bias(node.bias * mant_scale * 2.0**e, nfmt, resolution)

    def acc_at(e: int) -> int:
        return worst_max << e if e >= 0 else worst_max >> -e

    e = 0
    while (e < sfmt.weight_exp_max and vth_at(e) < VTH_RESOLUTION and vth_at(e + 1) <= nfmt.vth_max
           and acc_at(e + 1) < a_limit and bias_at(e + 1) is not None):
        e += 1
    while e > sfmt.weight_exp_min and (vth_at(e) > nfmt.vth_max or bias_at(e) is None or acc_at(e) >= a_int32):
        e -= 1
    vth = vth_at(e)
    if vth > nfmt.vth_max:
        raise QuantizationError(
            f"threshold {theta:g} needs vth={vth} at the lowest weight exponent {e}, above the "
            f"{nfmt.vth_bits}-bit limit {nfmt.vth_max}", layer=name,
            hint="the threshold is far larger than the weights")
    if acc_at(e) >= a_int32:
        raise QuantizationError(
            f"worst-case synaptic input {acc_at(e)} reaches 2**{31 - nfmt.act_shift}, where Lava's int32 input "
            "scaling overflows", layer=name, hint="reduce the fan-in or the weight range")
    bias = bias_at(e)
    if bias is None:
        raise QuantizationError(
            f"bias up to {float(np.abs(node.bias).max()):g} exceeds the {nfmt.bias_mant_bits}-bit mantissa with "
            f"exponent <= {nfmt.bias_exp_max}", layer=name)
    if acc_at(e) >= a_limit:
        ctx.warn(f"layer '{name}': worst-case synaptic input {acc_at(e)} can wrap the {nfmt.state_bits}-bit "
                 f"current (limit {a_limit}); the deployed layer then differs from the float model")
    scale = mant_scale * 2.0**e
    du = fx.float_decay_to_int(alpha, nfmt.decay_bits) - 1
    dv = fx.float_decay_to_int(beta, nfmt.decay_bits)
    one = 1 << nfmt.decay_bits
    if not (0 <= dv <= one and -1 <= du < one):
        raise QuantizationError(f"decays (voltage {beta:g}, current {alpha:g}) must lie in [0, 1]; they give "
                                f"dv={dv}, du={du} outside the {nfmt.decay_bits}-bit range", layer=name)
    source = node.metadata.get("snncc.source", name)
    for s in synapses:
        graded = enc.graded and g.predecessors(s) == g.input_names
        g.nodes[s] = QDense(weight=mantissas[s], weight_exp=e, graded=graded,
                            metadata={"snncc.source": g.nodes[s].metadata.get("snncc.source", s),
                                      "snncc.scale": scale})
    g.nodes[name] = QLIF(du=du, dv=dv, vth=vth, bias_mant=bias[0], bias_exp=bias[1], reset=node.reset,
                         metadata={"snncc.source": source, "snncc.scale": scale})
    wq = np.concatenate([(m * 2.0**e / scale).ravel() for m in mantissas.values()]) if mantissas else np.zeros(0)
    wf = np.concatenate([w.ravel() for w in weights.values()]) if weights else np.zeros(0)
    bias_float = fx.bias_value(bias[0], bias[1]) / (64.0 * scale)
    return {
        "scale": scale, "weight_exp": e, "weight_max_abs": wmax, "vth": vth,
        "threshold_error": abs(vth / scale - theta) / theta,
        "weight_rms_error": float(np.sqrt(np.mean((wq - wf) ** 2))) if wf.size else 0.0,
        "weight_zeroed": int(np.sum((np.round(wf * mant_scale) == 0) & (wf != 0))),
        "bias_max_error": float(np.max(np.abs(bias_float - node.bias))) if node.bias.size else 0.0,
        "du": du, "dv": dv,
        "decay_v_error": abs((1 - dv / 4096) - beta), "decay_i_error": abs((1 - (du + 1) / 4096) - alpha),
        "worst_case_input": acc_at(e), "input_limit": a_limit,
    }


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
