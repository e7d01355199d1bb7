"""LIF and IF training modules: discrete time, stateful over steps, surrogate gradient.

One call of ``forward`` is one time step, as in SpikingJelly or snnTorch with hidden state: the module keeps its
membrane state between calls; :func:`reset_states` clears it before a new sample. The update is exactly the
:class:`snncc.ir.nodes.LIFNeuron` semantics the compiler deploys::

    i = current_decay * i + x          # x: output of the preceding layer (its bias included)
    v = beta * v + i
    s = v > threshold                  # strict, like Loihi
    v = 0 (reset="zero")   or   v -= threshold (reset="subtract")

``beta``, ``threshold`` and ``current_decay`` are per layer (one scalar each), trainable on request.
"""

from __future__ import annotations

import torch
from torch import nn

from . import integer
from .surrogate import spike

RESET_MODES = ("zero", "subtract")


class LIF(nn.Module):
    """Leaky integrate-and-fire neuron layer (current-based when ``current_decay > 0``)."""

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
        if not 0.0 <= current_decay < 1.0:
            raise ValueError(f"current_decay must lie in [0, 1), got {current_decay}")
        if threshold <= 0:
            raise ValueError(f"threshold must be positive, got {threshold}")
        self.reset = reset
        self.surrogate_slope = float(surrogate_slope)
        self.detach_reset = bool(detach_reset)
        self.beta = nn.Parameter(torch.tensor(float(beta)), requires_grad=learn_beta)
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=learn_threshold)
        self.current_decay = nn.Parameter(torch.tensor(float(current_decay)), requires_grad=False)
        self.i: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.deploy_params: dict | None = None  # set by snncc.neurons.deploy_exact: integer mode

    def reset_state(self) -> None:
        """Forget the membrane state (call before each new sample or batch)."""
        self.i = None
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.v is None or self.v.shape != x.shape:
            self.i = torch.zeros_like(x)
            self.v = torch.zeros_like(x)
        if getattr(self, "deploy_params", None) is not None:  # the compiled integer step (i: the integer current)
            self.i, self.v, s = integer.lif_step(integer.DeployParams(**self.deploy_params), self.i, self.v, x,
                                                 self.surrogate_slope)
            return s
        beta = self.beta.clamp(0.0, 1.0)
        self.i = self.current_decay * self.i + x
        v = beta * self.v + self.i
        s = spike(v - self.threshold, self.surrogate_slope)
        r = s.detach() if self.detach_reset else s
        self.v = v * (1.0 - r) if self.reset == "zero" else v - r * self.threshold
        return s

    def extra_repr(self) -> str:
        return (f"beta={float(self.beta):.4g}, threshold={float(self.threshold):.4g}, reset={self.reset!r}, "
                f"current_decay={float(self.current_decay):.4g}")


class IF(LIF):
    """Integrate-and-fire neuron layer: a LIF without leak (``beta = 1``, ``current_decay = 0``)."""

    def __init__(self, threshold: float = 1.0, reset: str = "zero", learn_threshold: bool = False,
                 surrogate_slope: float = 5.0, detach_reset: bool = True) -> None:
        super().__init__(beta=1.0, threshold=threshold, reset=reset, learn_threshold=learn_threshold,
                         surrogate_slope=surrogate_slope, detach_reset=detach_reset)

    def extra_repr(self) -> str:
        return f"threshold={float(self.threshold):.4g}, reset={self.reset!r}"
