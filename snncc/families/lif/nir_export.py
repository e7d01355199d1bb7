"""The LIF family's float neuron -> standard NIR's LIF, IF or CubaLIF (``snncc export --nir``).

The inverse of :func:`snncc.families.lif.nir.from_nir`: forward Euler with the export's ``dt``, ``tau = dt/(1 -
decay)``, and ``r`` (CubaLIF: ``w_in``) chosen so that the input gain is exactly 1, as snnTorch and SpikingJelly
write it; a NIR tool that follows the forward-Euler contract then computes snncc's step. Every parameter is moved
by whole ulps towards the value for which ``from_nir`` gives back the layer's own decays, gain and bias bit for bit,
so snncc's re-import is the same float graph (within an ulp where no single float value does it). What NIR cannot
say about the layer is a row of ``FEATURES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nir
import numpy as np

from snncc.errors import UnsupportedLayerError
from snncc.families.base import EXPRESSED, METADATA, REFUSED, NirFeature
from snncc.families.lif.nir import from_nir
from snncc.families.lif.nodes import LIFNeuron
from snncc.ir import keys
from snncc.ir.semantics import NeuronSemantics

TYPE = LIFNeuron.TYPE
ULP_STEPS = 64  # how far a parameter may move to make the re-import exact (it takes 0-2 steps in practice)


def _is_if(n: LIFNeuron) -> np.ndarray:
    return n.decay_v == 1.0


FEATURES: tuple[NirFeature, ...] = (
    NirFeature(TYPE, "decay_i = 0, decay_v < 1", EXPRESSED,
               "nir.LIF: tau = dt/(1-decay_v), r = tau/dt (input gain 1), v_leak = 0"),
    NirFeature(TYPE, "decay_i = 0, decay_v = 1", EXPRESSED, "nir.IF: r = 1/dt (input gain 1)"),
    NirFeature(TYPE, "decay_i > 0, decay_v < 1", EXPRESSED,
               "nir.CubaLIF: tau_syn = dt/(1-decay_i), tau_mem = dt/(1-decay_v), r = tau_mem/dt, w_in = tau_syn/dt"),
    NirFeature(TYPE, "bias", EXPRESSED,
               "the bias of the input synapse (Linear becomes Affine; a Conv2d's per-channel bias) when it can carry "
               "it and decay_i = 0, else v_leak = bias tau/dt (LIF, CubaLIF)"),
    NirFeature(TYPE, "current_bias (a bias into the decaying current)", EXPRESSED,
               "the bias of the input synapse (nir.CubaLIF takes the synapse's output into its current); refused when "
               "no synapse can carry it",
               applies=lambda n: bool(np.any(n.current_bias))),
    NirFeature(TYPE, "threshold (spike when v > threshold)", EXPRESSED, "v_threshold"),
    NirFeature(TYPE, "reset = zero", EXPRESSED, "v_reset = 0"),
    NirFeature(TYPE, "reset = subtract or subtract_after_leak", METADATA,
               "NIR resets only to v_reset; written as v_reset = 0 and node metadata snncc.reset, which snncc's "
               "import reads back and other NIR tools ignore (they reset to zero)",
               applies=lambda n: n.reset != "zero", record=lambda n: {keys.NODE_RESET: n.reset}),
    NirFeature(TYPE, "spike when v >= threshold", METADATA,
               "NIR spikes on v > v_threshold; written as node metadata snncc.fire_at_threshold = true, which "
               "snncc's import reads back and other NIR tools ignore (they spike one step later at v = threshold)",
               applies=lambda n: n.fire_at_threshold, record=lambda n: {keys.NODE_FIRE_AT_THRESHOLD: True}),
    NirFeature(TYPE, "v_min (a voltage floor)", REFUSED, "NIR's neurons have no lower bound on v",
               applies=lambda n: n.v_min is not None),
    NirFeature(TYPE, "decay_v = 1 with decay_i > 0 (a current-based IF)", REFUSED,
               "nir.IF has no synaptic current and nir.CubaLIF needs a finite tau_mem",
               applies=lambda n: bool(np.any(_is_if(n) & (n.decay_i != 0)))),
    NirFeature(TYPE, "decay_i = 1 (a current that never decays)", REFUSED, "nir.CubaLIF needs a finite tau_syn",
               applies=lambda n: bool(np.any(n.decay_i == 1.0))),
    NirFeature(TYPE, "decay_v = 1 and decay_v < 1 in one layer", REFUSED,
               "a NIR node is one neuron type: split the layer into IF and LIF neurons",
               applies=lambda n: bool(np.any(_is_if(n)) and not np.all(_is_if(n)))),
    NirFeature(TYPE, "bias on an IF layer whose input synapse cannot carry it", REFUSED,
               "nir.IF has no leak or bias term (a convolution's bias is one value per channel)"),
)


def to_nir(node: LIFNeuron, dt: float, name: str, shape: tuple[int, ...], synapse_bias: bool) -> tuple[Any, Any]:
    """``(nir neuron, bias for the input synapse or None)``; see the module docstring."""
    n = node.threshold.size
    bias = node.bias.copy()
    fixed = {"v_threshold": node.threshold.copy(), "v_reset": np.zeros(n)}
    cuba = bool(np.any(node.decay_i != 0))
    on_synapse = synapse_bias and not cuba and bool(np.any(bias != 0))
    current = np.asarray(node.current_bias, np.float64)
    into_current = cuba and bool(np.any(current != 0))  # CubaLIF's input enters its current: the synapse carries it
    if into_current and not synapse_bias:
        raise UnsupportedLayerError("standard NIR cannot say this layer's bias into its decaying current: no input "
                                    "synapse can carry it", layer=name)
    if bool(np.all(_is_if(node))):
        if np.any(bias != 0) and not on_synapse:
            raise UnsupportedLayerError("standard NIR cannot say a bias on an IF layer whose input synapse cannot "
                                        "carry it (nir.IF has no bias term)", layer=name)
        make = lambda p: nir.IF(r=p["r"], v_threshold=p["v_threshold"], v_reset=p["v_reset"])  # noqa: E731
        p = {"r": np.full(n, 1.0 / dt), **fixed}
        p = _solve(make, p, "r", keys.INPUT_GAIN, np.ones(n), dt, name)
    else:
        p = {"tau": dt / (1.0 - node.decay_v), "v_leak": np.zeros(n), **fixed}
        if cuba:
            p["tau_syn"] = dt / (1.0 - node.decay_i)
            make = lambda p: nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau"], r=p["r"],  # noqa: E731
                                         v_leak=p["v_leak"], v_threshold=p["v_threshold"], v_reset=p["v_reset"],
                                         w_in=p["w_in"])
        else:
            make = lambda p: nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["v_leak"],  # noqa: E731
                                     v_threshold=p["v_threshold"], v_reset=p["v_reset"])
        p["r"], p["w_in"] = p["tau"] / dt, (p["tau_syn"] / dt if cuba else None)
        p = _solve(make, p, "tau", "decay_v", node.decay_v, dt, name)
        if cuba:
            p = _solve(make, p, "tau_syn", "decay_i", node.decay_i, dt, name)
        p["r"] = p["tau"] / dt
        if cuba:
            p["w_in"] = p["tau_syn"] / dt
        p = _solve(make, p, "w_in" if cuba else "r", keys.INPUT_GAIN, np.ones(n), dt, name)
        if not on_synapse:
            p["v_leak"] = bias * p["tau"] / dt
            p = _solve(make, p, "v_leak", "bias", bias, dt, name)
    made = make({k: (v.reshape(shape) if isinstance(v, np.ndarray) else v) for k, v in p.items()})
    return made, (bias if on_synapse else current if into_current else None)


def _solve(make: Callable[[dict], Any], p: dict, param: str, field: str, want: np.ndarray, dt: float,
           name: str) -> dict:
    """``p`` with ``p[param]`` moved by whole ulps, per neuron, until ``from_nir`` gives ``field == want`` (within
    an ulp where no float value does); every quantity from_nir derives grows with its parameter."""
    p = dict(p)
    for _ in range(ULP_STEPS):
        got = _imported(make(p), dt, name, field)
        off = got != want
        if not off.any():
            break
        p[param] = np.where(off, np.nextafter(p[param], np.where(got < want, np.inf, -np.inf)), p[param])
    return p


def _imported(made: Any, dt: float, name: str, field: str) -> np.ndarray:
    back = from_nir(made, NeuronSemantics(dt, "zero", False, "euler"), name)
    if field == keys.INPUT_GAIN:
        return np.asarray(back.metadata[keys.INPUT_GAIN], np.float64)
    return getattr(back, field)

