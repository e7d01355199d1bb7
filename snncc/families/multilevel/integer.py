"""The multi-level family's integer rule: the compartment's sub-threshold step, then a graded spike and soft reset.

``z = clip((v + offset) >> theta_exp, 0, levels)`` (arithmetic shift: floor), ``v -= z << theta_exp``; ``z`` is sent
as a graded payload. With ``levels = 1`` and ``offset = 0`` it is a soft-reset LIF firing on ``v >= 2**theta_exp``
(the floor fires at equality, as the papers' neurons do). Written once against
:class:`snncc.fixedpoint.ExactArithmetic` (reference, Lava models) and run in torch by the deploy-exact mode.
"""

from __future__ import annotations

import numpy as np

from snncc import fixedpoint as fx


def multilevel_fire(v: np.ndarray, theta_exp: int, offset: int, levels: int,
                    ar: fx.ExactArithmetic = fx.EXACT) -> tuple[np.ndarray, np.ndarray]:
    """The graded spike and the soft reset after the sub-threshold step; returns ``(v, z)``."""
    z = ar.levels(v, offset, theta_exp, levels)
    return ar.release(v, z, 1 << int(theta_exp)), z


def multilevel_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: int, dv: int, bias: np.ndarray,
                    theta_exp: int, offset: int, levels: int, fmt: fx.NeuronFormat = fx.DEFAULT_FORMAT,
                    ar: fx.ExactArithmetic = fx.EXACT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the graded soft-reset neuron shared by the multi-level family; returns ``(u, v, z)``."""
    u, v = fx.compartment_update(u, v, a_in, du, dv, bias, fmt, ar)
    v, z = multilevel_fire(v, theta_exp, offset, levels, ar)
    return u, v, z
