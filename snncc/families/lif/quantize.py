"""Quantize rule of the LIF family: a float LIF layer and its synapses -> a QLIF and integer synapses.

With all incoming synapses sharing one scale ``s`` (float units -> weight units): weights
``m = round(W * weight_max / clip)`` (the clip: ``max|W|``, or calibrate's) with a per-layer exponent ``e``,
threshold ``vth = round(s * theta)`` (the neuron compares ``v > vth << 6``, ``v`` in units of ``1/(64 s)``), bias
``round(64 s b)`` as ``bias_mant << bias_exp``, a current bias ``round(s c)`` in synaptic-input units, decays
``dv = round(4096 (1 - beta))``, ``du = round(4096 (1 - alpha)) - 1``. ``e`` starts at 0 and is raised while
the threshold resolution is coarse (``vth < 256``) and the worst-case input cannot wrap the 24-bit current,
lowered while the threshold or a bias does not fit.
"""

from __future__ import annotations

import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import QuantizationError
from snncc.families import quantization as q
from snncc.families.base import RuleContext
from snncc.families.lif.nodes import QLIF, LIFNeuron
from snncc.ir import Graph, InputEncoding


def quantize_lif(g: Graph, name: str, node: LIFNeuron, enc: InputEncoding, ctx: RuleContext,
                 resolution: str) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    theta = q.uniform(node.threshold, "threshold", name)
    beta = q.uniform(node.decay_v, "voltage decay", name)
    alpha = q.uniform(node.decay_i, "current decay", name)
    if not theta > 0:
        raise QuantizationError(f"threshold must be positive, got {theta}", layer=name)
    inputs = q.SynapseInputs(g, name, enc)
    mant_scale = sfmt.weight_max / inputs.clip if inputs.clip > 0 else sfmt.weight_max / theta
    mantissas = inputs.mantissas(mant_scale, sfmt)
    worst = inputs.worst_case(mantissas)
    a_limit, a_int32 = q.input_limits(nfmt)

    def vth_at(e: int) -> int:
        return int(round(mant_scale * 2.0**e * theta))

    def bias_at(e: int) -> tuple[np.ndarray, np.ndarray] | None:
        return q.bias_encoding(node.bias * mant_scale * 2.0**e, nfmt, resolution)

    e = 0
    while (e < sfmt.weight_exp_max and vth_at(e) < q.VTH_RESOLUTION and vth_at(e + 1) <= nfmt.vth_max
           and q.shifted(worst, e + 1) < a_limit and bias_at(e + 1) is not None):
        e += 1
    while e > sfmt.weight_exp_min and (vth_at(e) > nfmt.vth_max or bias_at(e) is None
                                       or q.shifted(worst, e) >= a_int32):
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
    scale = mant_scale * 2.0**e
    current_bias = np.round(node.current_bias * scale).astype(np.int64)  # in synaptic-input units, added to a
    worst_input = q.shifted(worst, e) + int(np.max(np.abs(current_bias), initial=0))
    q.check_input_range(name, worst_input, nfmt, ctx.warn)
    bias = bias_at(e)
    if bias is None:
        raise QuantizationError(
            f"bias up to {float(np.abs(node.bias).max()):g} exceeds the {nfmt.bias_mant_bits}-bit mantissa with "
            f"exponent <= {nfmt.bias_exp_max}", layer=name)
    du, dv = q.decays(name, beta, alpha, nfmt, node)
    v_unit = (1 << nfmt.act_shift) * scale
    v_min = None if node.v_min is None else int(round(v_unit * node.v_min))
    stats = inputs.place(g, mantissas, e, scale)
    g.nodes[name] = QLIF(du=du, dv=dv, vth=vth, bias_mant=bias[0], bias_exp=bias[1], reset=node.reset,
                         fire_at_threshold=node.fire_at_threshold, current_bias=current_bias,
                         v_min=v_min, metadata=q.neuron_metadata(node, name, scale))
    bias_float = fx.bias_value(bias[0], bias[1]) / v_unit
    return {
        "kind": "LIF", "scale": scale, "weight_exp": e, "weight_max_abs": inputs.wmax, "weight_clip": inputs.clip,
        "vth": vth,
        "threshold_error": abs(vth / scale - theta) / theta, **stats,
        "bias_max_error": float(np.max(np.abs(bias_float - node.bias))) if node.bias.size else 0.0,
        "du": du, "dv": dv,
        "decay_v_error": abs(fx.decay_retention(dv, nfmt.decay_bits) - beta),
        "decay_i_error": abs(fx.decay_retention(du + 1, nfmt.decay_bits) - alpha),
        "current_bias_max_error": float(np.max(np.abs(current_bias / scale - node.current_bias), initial=0.0)),
        "worst_case_input": worst_input, "input_limit": a_limit,
    }
