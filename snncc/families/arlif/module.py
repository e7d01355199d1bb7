"""AR-LIF: adaptive-reset LIF (Huang et al. 2025) with an input-dependent threshold and a reset memory ``m``.

One call is one time step; the order is exactly :class:`snncc.ir.nodes.ARLIFNeuron`'s (the authors' main code,
``XLIF``, with ``m`` carried across time; seed_neurons.md §1.3)::

    v   = decay * v + x
    thr = threshold + tanh(a) * tanh(x)
    s   = v > thr                                     (strict, like Loihi; the authors fire at equality)
    g   = sigmoid(c * x)
    m   = max(m, 0) * g + min(m, 0) * (1 - g)
    m   = m + (2 s - 1) * sigmoid(x)
    v   = v - s * (thr + sigmoid(m))

``a`` and ``c`` are learned per-layer scalars; the spike uses the authors' rectangle surrogate (height 1, width 1
around ``v = thr``) and nothing is detached, as in their code.

``deploy_exact=True`` makes the forward value exactly :func:`snncc.families.arlif.integer.arlif_step` on the Q12 grid
(``ARLIF_FRAC = 12``): the input is rounded half up to the grid, as the compiled network's input scaling
``round(a * gain * 2**shift)`` does (a no-op when it already lies on it), the state is Q12, the nonlinearities
are the program's table sigmoid and tanh, products truncate, with the integer parameters of
:meth:`ARLIF.quantized`. Gradients still flow through the float formula, evaluated at the exact state and with
the exact spikes (straight-through), so the mode is usable for quantization-aware fine-tuning.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from snncc.families.arlif.integer import ARLIF_ONE, arlif_step
from snncc.families.arlif.nodes import ARLIFNeuron
from snncc.fixedpoint import float_decay_to_int
from snncc.ir import keys
from snncc.nn.spiking import SpikingModule
from snncc.nn.surrogate import rectangle_spike, straight_through

_ONE = ARLIF_ONE


def arlif_step_q(v: torch.Tensor, m: torch.Tensor, x: torch.Tensor, dv: int, vth: int, amp: int,
                 gate: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`snncc.families.arlif.integer.arlif_step` itself (the one definition of the program) on detached int64
    tensors, Q12 throughout; returns ``(v, m, s)``."""
    out = arlif_step(v.cpu().numpy(), m.cpu().numpy(), x.cpu().numpy(), dv, vth, amp, gate)
    return tuple(torch.from_numpy(np.asarray(o)).to(v.device) for o in out)


def _to_q(x: torch.Tensor) -> torch.Tensor:
    """Q12, rounding half up as the program's input scaling does (a no-op on values already on the Q12 grid)."""
    return torch.floor(x.detach().double() * _ONE + 0.5).to(torch.int64)


class ARLIF(SpikingModule):
    """AR-LIF neuron layer, one time step per call; ``a`` and ``c`` are learned per-layer scalars."""

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.arlif.ARLIF",)  # where snncc 0.1 pickled it
    STATE: ClassVar[tuple[str, ...]] = ("v", "m")  # membrane, reset memory

    def __init__(
        self,
        decay: float = 0.5,
        threshold: float = 1.0,
        a: float = 0.0,
        c: float = 1.0,
        learn: bool = True,
        deploy_exact: bool = False,
        surrogate_width: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must lie in [0, 1], got {decay}")
        if threshold <= 0:
            raise ValueError(f"threshold must be positive, got {threshold}")
        if not surrogate_width > 0:
            raise ValueError(f"surrogate_width must be positive, got {surrogate_width}")
        for name, value in (("a", a), ("c", c)):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        self.deploy_exact = bool(deploy_exact)
        self.surrogate_width = float(surrogate_width)
        self.decay = nn.Parameter(torch.tensor(float(decay)), requires_grad=False)
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=False)
        self.a = nn.Parameter(torch.tensor(float(a)), requires_grad=learn)
        self.c = nn.Parameter(torch.tensor(float(c)), requires_grad=learn)
        self.v: torch.Tensor | None = None
        self.m: torch.Tensor | None = None

    @property
    def amp(self) -> float:
        """``tanh(a)``: the amplitude of the input-dependent threshold shift (ARLIFNeuron.amp)."""
        return math.tanh(float(self.a.detach()))

    @property
    def gate(self) -> float:
        """``c``: the gain inside the memory gate ``sigmoid(c x)`` (ARLIFNeuron.gate)."""
        return float(self.c.detach())

    def quantized(self) -> dict[str, int]:
        """The integer parameters of :func:`arlif_step` (and QARLIF) this layer deploys with."""
        return {
            "dv": float_decay_to_int(float(self.decay)),
            "vth": int(round(float(self.threshold) * _ONE)),
            "amp": int(round(self.amp * _ONE)),
            "gate": int(round(self.gate * _ONE)),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.start_state(x)
        q = None
        if self.deploy_exact:
            p = self.quantized()
            q = arlif_step_q(_to_q(self.v), _to_q(self.m), _to_q(x), p["dv"], p["vth"], p["amp"], p["gate"])
        v = self.decay * self.v + x
        thr = self.threshold + torch.tanh(self.a) * torch.tanh(x)
        s = rectangle_spike(v - thr, self.surrogate_width)
        if q is not None:
            s = straight_through(s, q[2])
        g = torch.sigmoid(self.c * x)
        m = self.m.clamp(min=0) * g + self.m.clamp(max=0) * (1 - g)
        m = m + (2 * s - 1) * torch.sigmoid(x)
        v = v - s * (thr + torch.sigmoid(m))
        if q is not None:
            v = straight_through(v, q[0].double() / _ONE)
            m = straight_through(m, q[1].double() / _ONE)
        self.v, self.m = v, m
        return s

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        node = ARLIFNeuron(decay_v=np.full(n, float(self.decay.detach())),
                           threshold=np.full(n, float(self.threshold.detach())), bias=np.zeros(n), amp=self.amp,
                           gate=self.gate)
        if self.deploy_exact:  # trained on the integer program: its lowering is exact
            node.metadata[keys.DEPLOY_EXACT] = True
        return [("", node)]

    def enter_deploy_mode(self, node: Any, gain: float, neuron_format: Any) -> None:
        self.deploy_exact = True  # the program's integers come from the layer itself (:meth:`quantized`)

    def leave_deploy_mode(self) -> None:
        self.deploy_exact = False

    def extra_repr(self) -> str:
        return (f"decay={float(self.decay):.4g}, threshold={float(self.threshold):.4g}, "
                f"a={float(self.a.detach()):.4g}, c={float(self.c.detach()):.4g}, deploy_exact={self.deploy_exact}")


MODULES = (ARLIF,)
