"""NIR's continuous-time LIF, IF and CubaLIF -> the LIF family's discrete-time float LIF.

Forward Euler with the graph's ``dt`` (the convention snnTorch, SpikingJelly and the NIR paper graphs follow); the
input gain ``dt r / tau`` (CubaLIF: times ``w_in dt / tau_syn``) is recorded on the node (``keys.INPUT_GAIN``) for
canonicalize to fold into the weights.
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

from snncc.errors import GraphError, UnsupportedLayerError
from snncc.families.lif.nodes import LIFNeuron
from snncc.ir import keys
from snncc.ir.nodes import RESET_MODES

NIR_TYPES = (nir.LIF, nir.IF, nir.CubaLIF)


def from_nir(node: Any, dt: float, reset: str, name: str) -> LIFNeuron:
    reset = node.metadata.get(keys.NODE_RESET, reset)  # what snncc's export recorded for the layer wins
    if reset not in RESET_MODES:
        raise GraphError(f"metadata {keys.NODE_RESET} = {reset!r} is not one of {RESET_MODES}", layer=name)
    thr = np.asarray(node.v_threshold, np.float64).reshape(-1)
    v_reset = np.asarray(node.v_reset if node.v_reset is not None else 0.0, np.float64)
    if np.any(v_reset != 0):
        raise UnsupportedLayerError("reset to a non-zero v_reset is not supported", layer=name)
    r = np.broadcast_to(np.asarray(node.r, np.float64).reshape(-1), thr.shape)
    if isinstance(node, nir.IF):
        decay_v, decay_i, gain, bias = np.ones_like(thr), np.zeros_like(thr), dt * r, np.zeros_like(thr)
    else:
        tau = np.asarray(node.tau if isinstance(node, nir.LIF) else node.tau_mem, np.float64).reshape(-1)
        decay_v = 1.0 - dt / tau
        gain = dt * r / tau
        bias = dt * np.asarray(node.v_leak, np.float64).reshape(-1) / tau
        decay_i = np.zeros_like(thr)
        if isinstance(node, nir.CubaLIF):
            tau_syn = np.asarray(node.tau_syn, np.float64).reshape(-1)
            decay_i = 1.0 - dt / tau_syn
            gain = gain * np.asarray(node.w_in, np.float64).reshape(-1) * dt / tau_syn
    for what, val in (("decay_v", decay_v), ("decay_i", decay_i)):
        if np.any(val < 0) or np.any(val > 1):
            raise GraphError(f"dt={dt} gives {what} outside [0, 1] (dt larger than a time constant?)", layer=name)
    meta = dict(node.metadata)
    meta[keys.INPUT_GAIN] = np.broadcast_to(gain, thr.shape).astype(np.float64)
    meta.setdefault(keys.SOURCE, f"{name} (nir.{type(node).__name__})")
    return LIFNeuron(decay_v=decay_v, decay_i=decay_i, threshold=thr, bias=bias, reset=reset, metadata=meta)
