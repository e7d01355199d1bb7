"""The range of a KLIF's ``k``, written once: the torch module's constructor and clamp and the lowering all use it.

``beta = k (1 - 1/tau)`` must lie in ``(0, 1]``, so ``k`` in ``[K_MIN, tau/(tau-1)]``. The module holds ``k`` as a
float32 parameter, and the float32 nearest ``tau/(tau-1)`` often lies above it (tau = 4: 1.33333337 > 4/3, beta =
1.00000003). The upper bound is therefore :func:`k_max`, ``tau/(tau-1)`` rounded down onto the float32 grid until
:func:`decay` is at most 1; a ``k`` requested at the bound (within float32 rounding) is held as ``k_max``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

K_MIN = 1e-3
"""Smallest effective ``k``: keeps ``beta`` and ``gamma`` strictly positive (a zero gain would silence the layer)."""


def decay(k: float, tau: float) -> float:
    """``beta = k (1 - 1/tau)``: the voltage retention of the equivalent LIF."""
    return float(k) * (1.0 - 1.0 / float(tau))


def gain(k: float, tau: float, decay_input: bool) -> float:
    """``gamma``: the input gain of the equivalent LIF (``k / tau``, or ``k`` without decay_input)."""
    return float(k) / float(tau) if decay_input else float(k)


@lru_cache(maxsize=256)  # the forward pass clamps with it every step
def k_max(tau: float) -> float:
    """Largest ``k`` for ``tau``: the largest float32 at most ``tau/(tau-1)`` whose :func:`decay` is at most 1."""
    k = np.float32(tau / (tau - 1.0))
    while decay(float(k), tau) > 1.0:
        k = np.nextafter(k, np.float32(0.0))
    return float(k)


def held_k(k: float, tau: float) -> float:
    """The ``k`` a KLIF holds when asked for ``k``: its float32, except that the float32 just above :func:`k_max`
    (where ``tau/(tau-1)`` itself rounds to) is ``k_max``, the bound it was meant to be."""
    k32, top = np.float32(k), np.float32(k_max(tau))
    return float(top) if k32 == np.nextafter(top, np.float32(np.inf)) else float(k32)


def k_problem(k: float, tau: float) -> str | None:
    """Why ``k`` is outside ``[K_MIN, k_max(tau)]`` (so that ``0 < beta <= 1``), or None when it is inside."""
    if K_MIN <= k <= k_max(tau):
        return None
    return (f"k={k:.9g} is outside [{K_MIN:g}, {k_max(tau):.9g}], the range that keeps beta = k(1-1/tau) in "
            f"(0, 1] for tau={tau:g} (here beta = {decay(k, tau):.9g})")
