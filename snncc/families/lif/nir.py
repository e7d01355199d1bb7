"""NIR's continuous-time LIF, IF and CubaLIF -> the LIF family's discrete-time float LIF.

The graph's :class:`~snncc.ir.semantics.NeuronSemantics` say how: forward Euler (``decay = 1 - dt/tau``, input
gain ``dt r / tau``; the convention of snnTorch, SpikingJelly, Norse and the NIR paper graphs) or the exact step
(``decay = exp(-dt/tau)``, gain ``(1 - decay) r``; Sinabs); which reset; whether ``v = threshold`` fires. A
CubaLIF's current takes ``w_in`` times the current's own gain. The input gain is recorded on the node
(``keys.INPUT_GAIN``) for canonicalize to fold into the weights.
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

from snncc.errors import GraphError, UnsupportedLayerError
from snncc.families.lif.nodes import LIFNeuron
from snncc.ir import keys
from snncc.ir.nodes import RESET_MODES
from snncc.ir.semantics import NeuronSemantics

NIR_TYPES = (nir.LIF, nir.IF, nir.CubaLIF)


def step_of(tau: np.ndarray, dt: float, discretization: str) -> tuple[np.ndarray, np.ndarray]:
    """``(decay, gain per unit drive)`` of ``tau dx/dt = -x + drive`` over one step of ``dt``."""
    if discretization == "exact":
        decay = np.exp(-dt / tau)
        return decay, 1.0 - decay
    return 1.0 - dt / tau, dt / tau


def from_nir(node: Any, sem: NeuronSemantics, name: str) -> LIFNeuron:
    dt = sem.dt
    reset = node.metadata.get(keys.NODE_RESET, sem.reset)  # what snncc's export recorded for the layer wins
    if reset not in RESET_MODES:
        raise GraphError(f"metadata {keys.NODE_RESET} = {reset!r} is not one of {RESET_MODES}", layer=name)
    at_threshold = node.metadata.get(keys.NODE_FIRE_AT_THRESHOLD, sem.fire_at_threshold)
    if not isinstance(at_threshold, (bool, np.bool_)):
        raise GraphError(f"metadata {keys.NODE_FIRE_AT_THRESHOLD} = {at_threshold!r} is not true or false",
                         layer=name)
    thr = np.asarray(node.v_threshold, np.float64).reshape(-1)
    v_reset = np.asarray(node.v_reset if node.v_reset is not None else 0.0, np.float64)
    if np.any(v_reset != 0):
        raise UnsupportedLayerError("reset to a non-zero v_reset is not supported", layer=name,
                                    hint="shift v_leak, v_reset and v_threshold by -v_reset")
    r = np.broadcast_to(np.asarray(node.r, np.float64).reshape(-1), thr.shape)
    if isinstance(node, nir.IF):
        decay_v, decay_i, gain, bias = np.ones_like(thr), np.zeros_like(thr), dt * r, np.zeros_like(thr)
    else:
        tau = np.asarray(node.tau if isinstance(node, nir.LIF) else node.tau_mem, np.float64).reshape(-1)
        decay_v, unit = step_of(tau, dt, sem.discretization)
        gain = unit * r
        bias = unit * np.asarray(node.v_leak, np.float64).reshape(-1)
        decay_i = np.zeros_like(thr)
        if isinstance(node, nir.CubaLIF):
            decay_i, unit_syn = step_of(np.asarray(node.tau_syn, np.float64).reshape(-1), dt, sem.discretization)
            gain = gain * np.asarray(node.w_in, np.float64).reshape(-1) * unit_syn
    for what, val in (("decay_v", decay_v), ("decay_i", decay_i)):
        if np.any(val < 0) or np.any(val > 1):
            raise GraphError(f"dt={dt} gives {what} outside [0, 1] (dt larger than a time constant?)", layer=name,
                             hint="Norse 1.1 writes tau = dt * tau_mem (norse#411): --from norse repairs it")
    meta = dict(node.metadata)
    meta[keys.INPUT_GAIN] = np.broadcast_to(gain, thr.shape).astype(np.float64)
    meta.setdefault(keys.SOURCE, f"{name} (nir.{type(node).__name__})")
    return LIFNeuron(decay_v=decay_v, decay_i=decay_i, threshold=thr, bias=np.broadcast_to(bias, thr.shape),
                     reset=reset, fire_at_threshold=bool(at_threshold), metadata=meta)
