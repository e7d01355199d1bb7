"""KLIF: a LIF whose leak and input gain are scaled by a learned per-layer ``k``, with a ReLU floor at 0.

Semantics of spikingjelly's ``KLIFNode`` with ``v_reset = 0`` and ``scale_reset = False`` (seed_neurons.md §2.3)::

    h = v + (x - v) / tau        (decay_input=True)     or   h = v - v / tau + x   (decay_input=False)
    f = relu(k * h)
    s = f > threshold            (strict, like Loihi; spikingjelly fires at equality)
    v = f * (1 - s)   (reset="zero")    or    v = f - s * threshold   (reset="subtract")

Equivalently (§2.5), with ``beta = k (1 - 1/tau)`` and ``gamma = k / tau`` (``gamma = k`` without decay_input):
``v = max(beta * v + gamma * x, 0)``: a plain LIF with decay ``beta``, input gain ``gamma`` and a voltage floor at
0, which is how the compiler deploys it (read :attr:`KLIF.decay`, :attr:`KLIF.gain`, ``threshold``, ``reset``;
the floor is ``v_min = 0``).

``k`` is clamped in the forward pass to ``[K_MIN, k_max(tau)]`` so that ``0 < beta <= 1`` (a negative ``k``
would invert the ReLU, ``beta > 1`` is not a decay); ``k_max`` is ``tau / (tau - 1)`` on the float32 grid of the
parameter (:mod:`snncc.families.klif.bounds`, the one definition the lowering checks too). The clamp is
straight-through: a plain clamp has zero gradient outside the range, so one optimizer step past a bound would
freeze ``k`` there for good.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from snncc.families.klif import bounds
from snncc.families.klif.bounds import K_MIN
from snncc.families.klif.nodes import KLIFNeuron
from snncc.families.lif.module import deploy_params, deployed_step
from snncc.nn.spiking import SpikingModule
from snncc.nn.surrogate import clamp_ste, spike

RESET_MODES = ("zero", "subtract")


class KLIF(SpikingModule):
    """KLIF neuron layer (Jiang & Zhang 2023), one time step per call; ``k`` is one learned scalar per layer."""

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.klif.KLIF",)  # where snncc 0.1 pickled it
    STATE: ClassVar[tuple[str, ...]] = ("v", "u")

    def __init__(
        self,
        tau: float = 2.0,
        k: float = 1.0,
        threshold: float = 1.0,
        reset: str = "zero",
        decay_input: bool = True,
        learn_k: bool = True,
        surrogate_slope: float = 5.0,
        detach_reset: bool = False,
    ) -> None:
        super().__init__()
        if reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
        if not tau > 1.0:
            raise ValueError(f"tau must be > 1 (spikingjelly's KLIF requires it), got {tau}")
        held = bounds.held_k(k, tau)  # k = tau/(tau-1) is held as k_max, its float32 rounded down
        if bounds.k_problem(held, tau):
            raise ValueError(f"KLIF: {bounds.k_problem(k, tau)}")
        if threshold <= 0:
            raise ValueError(f"threshold must be positive, got {threshold}")
        self.tau = float(tau)
        self.reset = reset
        self.decay_input = bool(decay_input)
        self.surrogate_slope = float(surrogate_slope)
        self.detach_reset = bool(detach_reset)
        self.k = nn.Parameter(torch.tensor(held), requires_grad=learn_k)
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=False)
        self.v: torch.Tensor | None = None
        self.u: torch.Tensor | None = None  # integer current in deploy-exact mode
        self.deploy_params: dict | None = None  # deploy-exact mode: the compiled (LIF) layer's integers

    @property
    def k_max(self) -> float:
        """Largest effective ``k``: ``tau/(tau-1)`` (``beta = 1``) on the parameter's float32 grid."""
        return bounds.k_max(self.tau)

    def effective_k(self) -> torch.Tensor:
        """``k`` clamped to ``[K_MIN, k_max]`` (the value the forward pass uses; a model saved with ``k`` one float32
        step past ``tau/(tau-1)`` runs at the bound)."""
        return clamp_ste(self.k, K_MIN, self.k_max)

    @property
    def decay(self) -> float:
        """``beta = k (1 - 1/tau)``: the voltage retention of the equivalent LIF (in ``(0, 1]``)."""
        return bounds.decay(float(self.effective_k().detach()), self.tau)

    @property
    def gain(self) -> float:
        """``gamma``: the input gain of the equivalent LIF (``k / tau``, or ``k`` without decay_input)."""
        return bounds.gain(float(self.effective_k().detach()), self.tau, self.decay_input)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.start_state(x)
        if getattr(self, "deploy_params", None) is not None:  # integer LIF with floor, as compiled
            self.u, self.v, s = deployed_step(self.deploy_params, self.u, self.v, x, self.surrogate_slope)
            return s
        v = self.v
        h = v + (x - v) / self.tau if self.decay_input else v - v / self.tau + x
        f = torch.relu(self.effective_k() * h)
        s = spike(f - self.threshold, self.surrogate_slope)
        r = s.detach() if self.detach_reset else s
        self.v = f * (1.0 - r) if self.reset == "zero" else f - r * self.threshold
        return s

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        return [("", KLIFNeuron(threshold=np.full(n, float(self.threshold.detach())), bias=np.zeros(n),
                                k=float(self.effective_k().detach()), tau=self.tau, decay_input=self.decay_input,
                                reset=self.reset))]

    def deploy_gain(self) -> float:
        return self.gain

    def enter_deploy_mode(self, node: Any, gain: float, neuron_format: Any) -> None:
        self.deploy_params = deploy_params(node, gain, neuron_format)

    def leave_deploy_mode(self) -> None:
        self.deploy_params = None

    def extra_repr(self) -> str:
        return (f"tau={self.tau:.4g}, k={float(self.k.detach()):.4g}, threshold={float(self.threshold):.4g}, "
                f"reset={self.reset!r}, decay_input={self.decay_input}")


MODULES = (KLIF,)
