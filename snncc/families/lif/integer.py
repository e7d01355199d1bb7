"""The LIF family's integer rule: the compartment's sub-threshold step, then a strict threshold and a reset.

Written once against :class:`snncc.fixedpoint.ExactArithmetic`: the reference simulator and snncc's custom Lava LIF
run it on int64 arrays, the torch deploy-exact mode on float64 tensors (:class:`snncc.nn.arith.DeployArithmetic`).
Lava's stock ``LIFReset`` implements the same rule with a hard reset (tested bit for bit).
"""

from __future__ import annotations

import numpy as np

from snncc import fixedpoint as fx


def lif_fire(v: np.ndarray, vth: int, soft_reset: bool, fmt: fx.NeuronFormat = fx.DEFAULT_FORMAT,
             v_min: int | None = None, ar: fx.ExactArithmetic = fx.EXACT) -> tuple[np.ndarray, np.ndarray]:
    """The spike and reset after the sub-threshold step; returns ``(v, spikes)``.

    ``v_min`` (snncc's custom LIF only) floors ``v`` before the spike test (KLIF's ReLU); the test is strict,
    ``v > vth << 6``; a spike sets ``v = 0`` (hard reset) or subtracts ``vth << 6`` (soft reset).
    """
    if v_min is not None:
        v = ar.maximum(v, v_min)
    vth_e = int(vth) << fmt.act_shift
    s = ar.above(v, vth_e)
    return ar.release(v, s, vth_e if soft_reset else v), s


def lif_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: int, dv: int, vth: int, bias: np.ndarray,
             soft_reset: bool, fmt: fx.NeuronFormat = fx.DEFAULT_FORMAT, v_min: int | None = None,
             ar: fx.ExactArithmetic = fx.EXACT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One time step of the fixed-point CUBA LIF; returns the new ``(u, v, spikes)``.

    ``a_in`` is the summed synaptic input of this step (already shifted by each synapse's exponent).
    """
    u, v = fx.compartment_update(u, v, a_in, du, dv, bias, fmt, ar)
    v, s = lif_fire(v, vth, soft_reset, fmt, v_min, ar)
    return u, v, s
