"""The sigma-delta family's integer rule: lava-nc 0.10.0's ``lava.proc.sdn`` fixed-point models, written once.

Read in ``lava/proc/sdn/models.py`` (``PySigmaModelFixed``, ``PyDeltaModelFixed``, ``PySigmaDeltaModelFixed``):

* ``sigma``: ``sigma += a``; sends ``sigma`` (netx's ``sigma_output`` decoder);
* ``delta``: ``x = a << (spike_exp + state_exp)``; ``delta = x - act + residue``; then the spike test, and
  ``act = x`` (netx's input encoder);
* ``sigma_delta``: ``sigma += a``; ``act' = relu(sigma + (bias << (spike_exp + state_exp)))`` (``unit``: no relu);
  ``delta = act' - act + residue``; the spike test; ``act = act'``;
* the spike test: ``s = delta where |delta| >= vth << (spike_exp + state_exp)`` (not strict), or with ``cum_error``
  ``error += delta``, ``s = delta where |error| >= vth...``, ``error = 0 where s != 0``; then ``residue = delta - s``
  and the layer sends ``s >> state_exp`` (arithmetic: floor).

Lava keeps these in int32 numpy arrays without saturation; the rule here uses int64 and is exact while no value
leaves int32 (the compile's activity run reports the largest state reached).
"""

from __future__ import annotations

import numpy as np

MODES = ("sigma", "delta", "sigma_delta")
ACTIVATIONS = ("relu", "unit")


def delta_fire(delta: np.ndarray, residue_error: tuple[np.ndarray, np.ndarray], vth_scaled: int, cum_error: bool,
               state_exp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The delta encoder's spike test; returns ``(payload sent, residue, error)``."""
    _, error = residue_error
    if cum_error:
        error = error + delta
        s = np.where(np.abs(error) >= vth_scaled, delta, 0)
        error = error * (1 - (np.abs(s) > 0))
    else:
        s = np.where(np.abs(delta) >= vth_scaled, delta, 0)
    return s >> state_exp, delta - s, error


def sigma_delta_step(state: dict[str, np.ndarray], a: np.ndarray, mode: str, vth: int, bias: np.ndarray,
                     act_mode: str, cum_error: bool, spike_exp: int, state_exp: int) -> np.ndarray:
    """One step of a sigma, delta or sigma-delta layer on the summed synaptic input ``a``, updating ``state``
    (``sigma``, ``act``, ``residue``, ``error``) in place; returns what the layer sends."""
    a = np.asarray(a, dtype=np.int64)
    shift = spike_exp + state_exp
    if mode == "sigma":
        state["sigma"] = state["sigma"] + a
        return state["sigma"].copy()
    if mode == "delta":
        act = a << shift
    else:
        state["sigma"] = state["sigma"] + a
        act = state["sigma"] + (np.asarray(bias, dtype=np.int64) << shift)
        if act_mode == "relu":
            act = np.maximum(act, 0)
    delta = act - state["act"] + state["residue"]
    s, state["residue"], state["error"] = delta_fire(delta, (state["residue"], state["error"]), int(vth) << shift,
                                                     cum_error, state_exp)
    state["act"] = act
    return s
