"""LIF and IF training modules: discrete time, stateful over steps, surrogate gradient.

One call of ``forward`` is one time step, as in SpikingJelly or snnTorch with hidden state: the module keeps its
membrane state between calls; :func:`snncc.nn.reset_states` clears it before a new sample. The update is exactly
the :class:`snncc.families.lif.nodes.LIFNeuron` semantics the compiler deploys::

    i = current_decay * i + x          # x: output of the preceding layer (its bias included)
    v = beta * v + i
    s = v > threshold                  # strict, like Loihi
    v = 0 (reset="zero")   or   v -= threshold (reset="subtract")

``beta``, ``threshold`` and ``current_decay`` are per layer (one scalar each), trainable on request. In deploy-exact
mode (``deploy_params`` set by :func:`snncc.training.deploy_exact`) the layer runs the compiled integer step,
:func:`snncc.families.lif.integer.lif_step`, with straight-through gradients.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from snncc.families.lif.integer import lif_step
from snncc.families.lif.nodes import LIFNeuron
from snncc.nn.arith import DeployArithmetic, format_fields, format_of, require_float64
from snncc.nn.spiking import SpikingModule
from snncc.nn.surrogate import spike

RESET_MODES = ("zero", "subtract")


def _check_current_decay(value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"current_decay must lie in [0, 1), got {value}")


class LIF(SpikingModule):
    """Leaky integrate-and-fire neuron layer (current-based when ``current_decay > 0``)."""

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.lif.LIF",)  # where snncc 0.1 pickled it
    STATE: ClassVar[tuple[str, ...]] = ("i", "v")  # current, membrane

    def __init__(
        self,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "zero",
        current_decay: float = 0.0,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        surrogate_slope: float = 5.0,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        if reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must lie in [0, 1], got {beta}")
        _check_current_decay(current_decay)
        if threshold <= 0:
            raise ValueError(f"threshold must be positive, got {threshold}")
        self.reset = reset
        self.surrogate_slope = float(surrogate_slope)
        self.detach_reset = bool(detach_reset)
        self.beta = torch.nn.Parameter(torch.tensor(float(beta)), requires_grad=learn_beta)
        self.threshold = torch.nn.Parameter(torch.tensor(float(threshold)), requires_grad=learn_threshold)
        self.current_decay = torch.nn.Parameter(torch.tensor(float(current_decay)), requires_grad=False)
        self.i: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.deploy_params: dict | None = None  # deploy-exact mode: the compiled layer's integers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.start_state(x)
        if getattr(self, "deploy_params", None) is not None:  # the compiled integer step (i: the integer current)
            self.i, self.v, s = deployed_step(self.deploy_params, self.i, self.v, x, self.surrogate_slope)
            return s
        beta = self.beta.clamp(0.0, 1.0)
        self.i = self.current_decay * self.i + x
        v = beta * self.v + self.i
        s = spike(v - self.threshold, self.surrogate_slope)
        r = s.detach() if self.detach_reset else s
        self.v = v * (1.0 - r) if self.reset == "zero" else v - r * self.threshold
        return s

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        _check_current_decay(float(self.current_decay))  # a saved model's value may not be the constructor's
        return [("", LIFNeuron(decay_v=np.full(n, float(self.beta.detach().clamp(0.0, 1.0))),
                               decay_i=np.full(n, float(self.current_decay.detach())),
                               threshold=np.full(n, float(self.threshold.detach())), bias=np.zeros(n),
                               reset=self.reset))]

    def enter_deploy_mode(self, node: Any, gain: float, neuron_format: Any) -> None:
        self.deploy_params = deploy_params(node, gain, neuron_format)

    def leave_deploy_mode(self) -> None:
        self.deploy_params = None

    def extra_repr(self) -> str:
        return (f"beta={float(self.beta):.4g}, threshold={float(self.threshold):.4g}, reset={self.reset!r}, "
                f"current_decay={float(self.current_decay):.4g}")


class IF(LIF):
    """Integrate-and-fire neuron layer: a LIF without leak (``beta = 1``, ``current_decay = 0``)."""

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.lif.IF",)

    def __init__(self, threshold: float = 1.0, reset: str = "zero", learn_threshold: bool = False,
                 surrogate_slope: float = 5.0, detach_reset: bool = True) -> None:
        super().__init__(beta=1.0, threshold=threshold, reset=reset, learn_threshold=learn_threshold,
                         surrogate_slope=surrogate_slope, detach_reset=detach_reset)

    def extra_repr(self) -> str:
        return f"threshold={float(self.threshold):.4g}, reset={self.reset!r}"


def deploy_params(node: Any, gain: float, neuron_format: Any) -> dict:
    """What a module needs to run the integer LIF ``node`` (a QLIF): plain numbers, so a saved model stays safe to
    load. ``gain``: float input -> voltage units (``2**act_shift * scale`` times the family's own input gain)."""
    if node.reset not in RESET_MODES or node.fire_at_threshold:
        raise ValueError(f"snncc's torch LIF resets by {RESET_MODES} and fires on v > threshold; the layer resets "
                         f"by {node.reset!r}{' and fires at the threshold' if node.fire_at_threshold else ''}")
    return {"gain": float(gain), "du": node.du, "dv": node.dv, "soft_reset": node.reset == "subtract",
            "vth": node.vth, "v_min": node.v_min, **format_fields(neuron_format)}


def deployed_step(p: dict, u: torch.Tensor, v: torch.Tensor, x: torch.Tensor,
                  slope: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`lif_step` in torch (the bias is carried in ``x``); returns ``(u, v, spikes)``."""
    require_float64(x)
    return lif_step(u, v, x, p["du"], p["dv"], p["vth"], 0.0, "subtract" if p["soft_reset"] else "zero",
                    format_of(p), p["v_min"],
                    ar=DeployArithmetic(p["gain"], slope))


MODULES = (LIF, IF)
