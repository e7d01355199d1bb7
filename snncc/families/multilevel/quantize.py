"""Quantize rule of the multi-level family: a float multi-level layer and its synapses -> a ``QMultiLevel``.

The layer takes the largest mantissa scale that makes its quantum ``theta`` a power of two, ``2**k``, in voltage
units (the graded primitive shifts by ``k``; ``k >= 6`` so that a population of binary neurons can stand in for it
on a target without graded spikes).
"""

from __future__ import annotations

import numpy as np

from snncc import fixedpoint as fx
from snncc.errors import QuantizationError
from snncc.families import quantization as qz
from snncc.families.base import RuleContext
from snncc.families.multilevel.nodes import MultiLevelNeuron, QMultiLevel
from snncc.ir import Graph, InputEncoding


def quantize_multilevel(g: Graph, name: str, node: MultiLevelNeuron, enc: InputEncoding, ctx: RuleContext,
                        resolution: str) -> dict:
    nfmt, sfmt = ctx.target.neuron_format, ctx.target.synapse_format
    q = qz.uniform(node.threshold, "threshold", name)
    beta = qz.uniform(node.decay_v, "voltage decay", name)
    alpha = qz.uniform(node.decay_i, "current decay", name)
    offset = qz.uniform(node.offset, "offset", name)
    if not q > 0:
        raise QuantizationError(f"threshold must be positive, got {q}", layer=name)
    inputs = qz.SynapseInputs(g, name, enc)
    # the largest mantissa scale 2**p / q not above weight_max / wmax: the quantum is then 2**(p + e + act_shift)
    # voltage units
    p = int(np.floor(np.log2(sfmt.weight_max / inputs.clip * q) + qz.LOG2_TOLERANCE)) if inputs.clip > 0 else 7
    e = 0 if p >= 0 else min(-p, sfmt.weight_exp_max)
    p = max(p, -e)  # k >= act_shift: a binary population can then represent the quantum (vth = 2**(k - 6))
    mant_scale = 2.0**p / q
    mantissas = inputs.mantissas(mant_scale, sfmt)
    worst = inputs.worst_case(mantissas)
    a_limit, a_int32 = qz.input_limits(nfmt)
    while e > sfmt.weight_exp_min and qz.shifted(worst, e) >= a_int32 and p + e > 0:
        e -= 1
    level_bits = int(np.ceil(np.log2(node.levels + 1)))

    def unrepresentable(e: int) -> bool:  # the top level's voltage or a bias beyond the neuron's formats
        return (p + e + nfmt.act_shift + level_bits > nfmt.state_bits - 1
                or qz.bias_encoding(node.bias * mant_scale * 2.0**e, nfmt, resolution) is None)

    # a threshold far above the weights (or a large bias) needs a coarser voltage unit: a negative weight
    # exponent gives it, as in the LIF rule (the quantum stays >= one weight unit: p + e >= 0)
    while e > sfmt.weight_exp_min and p + e > 0 and unrepresentable(e):
        e -= 1
    if e < 0 and inputs.has_conv:  # coarser mantissas instead of a negative exponent (Lava's Conv has none)
        p, e = p + e, 0
        mant_scale = 2.0**p / q
        mantissas = inputs.mantissas(mant_scale, sfmt)
        worst = inputs.worst_case(mantissas)
    k = p + e + nfmt.act_shift
    if k + level_bits > nfmt.state_bits - 1:
        raise QuantizationError(f"{node.levels} levels of quantum 2**{k} overflow the {nfmt.state_bits}-bit "
                                "voltage", layer=name, hint="fewer levels, or a threshold closer to the weights")
    qz.check_input_range(name, qz.shifted(worst, e), nfmt, ctx.warn)
    scale = mant_scale * 2.0**e
    bias = qz.bias_encoding(node.bias * scale, nfmt, resolution)
    if bias is None:
        raise QuantizationError(f"bias up to {float(np.abs(node.bias).max()):g} exceeds the "
                                f"{nfmt.bias_mant_bits}-bit mantissa", layer=name)
    du, dv = qz.decays(name, beta, alpha, nfmt, node)
    offset_int = int(round(offset * 2.0**k))
    stats = inputs.place(g, mantissas, e, scale)
    g.nodes[name] = QMultiLevel(du=du, dv=dv, bias_mant=bias[0], bias_exp=bias[1], theta_exp=k, offset=offset_int,
                                levels=node.levels,
                                metadata=qz.neuron_metadata(node, name, scale))
    return {"kind": "MultiLevel", "scale": scale, "weight_exp": e, "weight_max_abs": inputs.wmax,
            "weight_clip": inputs.clip,
            "theta_exp": k, "levels": node.levels, "offset": offset_int,
            "offset_error": abs(offset_int / 2.0**k - offset), **stats, "du": du, "dv": dv,
            "decay_v_error": abs(fx.decay_retention(dv, nfmt.decay_bits) - beta),
            "worst_case_input": qz.shifted(worst, e),
            "input_limit": a_limit}

