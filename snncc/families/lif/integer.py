"""The LIF family's integer rule: the compartment's sub-threshold step, then the threshold test and a reset.

Written once against :class:`snncc.fixedpoint.ExactArithmetic`: the reference simulator and snncc's custom Lava LIF
run it on int64 arrays, the torch deploy-exact mode on float64 tensors (:class:`snncc.nn.arith.DeployArithmetic`).
Lava's stock ``LIFReset`` implements the same rule with a hard reset and the strict test (tested bit for bit).

The test is ``v > vth << 6``, or ``v >= vth << 6`` (``fire_at_threshold``), which in integers is
``v > (vth << 6) - 1``: exact, no rounding. Resets (:data:`snncc.ir.nodes.RESET_MODES`): ``zero`` sets ``v = 0``;
``subtract`` subtracts ``vth << 6`` at once; ``subtract_after_leak`` (snnTorch's) keeps ``v`` and subtracts
``vth << 6`` from the next step's leaked voltage. That needs no extra state: the voltage stored after the spike is
the one the test saw, so the next step repeats the test on it.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from snncc import fixedpoint as fx
from snncc.ir.nodes import RESET_MODES

SUBTRACT_AFTER_LEAK = "subtract_after_leak"
ZERO, SUBTRACT, AFTER_LEAK = (RESET_MODES.index(m) for m in ("zero", "subtract", SUBTRACT_AFTER_LEAK))


def reset_code(reset: str | int) -> int:
    """The reset mode as its index in :data:`snncc.ir.nodes.RESET_MODES`: the rules below compare codes, so that
    numba's element kernels (which are handed the code, :mod:`snncc.families.lif.kernel`) test integers."""
    return RESET_MODES.index(reset) if isinstance(reset, str) else int(reset)


@register_jitable
def lif_threshold(vth: int, fmt: fx.NeuronFormat, fire_at_threshold: bool) -> int:
    """The value ``v`` must exceed to spike: ``vth << act_shift``, one less when a neuron at it fires."""
    return (int(vth) << fmt.act_shift) - int(bool(fire_at_threshold))


@register_jitable
def lif_fire(v: np.ndarray, vth: int, reset: str, fmt: fx.NeuronFormat = fx.DEFAULT_FORMAT,
             v_min: int | None = None, ar: fx.ExactArithmetic = fx.EXACT,
             fire_at_threshold: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The spike and reset after the sub-threshold step; returns ``(v, spikes)``.

    ``v_min`` (snncc's custom LIF only) floors ``v`` before the spike test (KLIF's ReLU).
    """
    if v_min is not None:
        v = ar.maximum(v, v_min)
    s = ar.above(v, lif_threshold(vth, fmt, fire_at_threshold))
    mode = reset_code(reset)
    if mode == ZERO:
        return ar.release(v, s, v), s
    if mode == SUBTRACT:
        return ar.release(v, s, int(vth) << fmt.act_shift), s
    return v, s


@register_jitable
def lif_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: int, dv: int, vth: int, bias: np.ndarray,
             reset: str, fmt: fx.NeuronFormat = fx.DEFAULT_FORMAT, v_min: int | None = None,
             ar: fx.ExactArithmetic = fx.EXACT,
             fire_at_threshold: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One time step of the fixed-point CUBA LIF; returns the new ``(u, v, spikes)``.

    ``a_in`` is the summed synaptic input of this step (already shifted by each synapse's exponent).
    """
    if reset_code(reset) == AFTER_LEAK:
        carried = ar.above(v, lif_threshold(vth, fmt, fire_at_threshold))
        u, v = fx.compartment_update(u, v, a_in, du, dv, bias, fmt, ar)
        v = ar.release(v, carried, int(vth) << fmt.act_shift)
    else:
        u, v = fx.compartment_update(u, v, a_in, du, dv, bias, fmt, ar)
    v, s = lif_fire(v, vth, reset, fmt, v_min, ar, fire_at_threshold)
    return u, v, s
