"""Recurrence as a module snncc can trace, deploy and load safely: a block whose own spikes come back into it.

``Recurrent(body, n)`` runs ``body`` (a neuron layer, or an ``nn.Sequential`` that starts and ends with one) with
feedback: at step ``t`` the body's input is ``x[t] + feedback(y[t - delay])``, ``y`` being what the body returned
and ``feedback`` an ``nn.Linear`` (all-to-all, ``connectivity="all"``) or a :class:`SelfConnection` (each neuron
onto itself only, ``connectivity="self"``). With a single neuron layer as the body that is a recurrent layer
(snnTorch's ``RLeaky``); with ``nn.Sequential(LIF(), nn.Linear(n1, n2), LIF())`` it is feedback from a later layer
into an earlier one.

On the chip every synapse takes one step, so a loop through ``k`` synapse layers (the feedback synapse included)
brings spikes back ``k`` steps later. ``delay`` is the number of steps the trained model takes: a layer's own
recurrence has ``k = 1`` (the default delay); a loop across layers is deployable as trained when ``delay`` is at
least its ``k`` (longer delays are made up with relay layers), and the compiler names the loop otherwise (see
docs/semantics.md, Timing).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional

from .spiking import Stateful

CONNECTIVITIES = ("all", "self")
MAX_DELAY = 64  # steps; every step beyond the loop's own synapses costs a relay layer on the chip


class SelfConnection(nn.Linear):
    """An ``n x n`` linear map that connects each neuron to itself only (a diagonal weight): the entries off the
    diagonal are masked out of the forward pass, so they get no gradient and stay zero."""

    def __init__(self, n: int) -> None:
        super().__init__(n, n, bias=False)
        self.register_buffer("mask", torch.eye(n))
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.linear(x, self.weight * self.mask)

    def masked_weight(self) -> torch.Tensor:
        """The weight the layer applies (what the compiler deploys)."""
        return (self.weight * self.mask).detach()


class Recurrent(Stateful):
    """``body`` with its output of ``delay`` steps ago fed back through ``feedback`` into its input."""

    STATE: ClassVar[tuple[str, ...]] = ("history",)  # the body's last ``delay`` outputs, oldest first

    def __init__(self, body: nn.Module, in_features: int, out_features: int | None = None,
                 connectivity: str = "all", delay: int = 1) -> None:
        super().__init__()
        out_features = in_features if out_features is None else out_features
        for what, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what} must be a positive integer, got {value!r}")
        if connectivity not in CONNECTIVITIES:
            raise ValueError(f"connectivity must be one of {CONNECTIVITIES}, got {connectivity!r}")
        if connectivity == "self" and in_features != out_features:
            raise ValueError(f"self connections need as many outputs as inputs, got {out_features} and "
                             f"{in_features}")
        if isinstance(delay, bool) or not isinstance(delay, int) or not 1 <= delay <= MAX_DELAY:
            raise ValueError(f"delay must be an integer number of steps in [1, {MAX_DELAY}], got {delay!r}")
        self.body = body
        self.in_features, self.out_features = in_features, out_features
        self.connectivity, self.delay = connectivity, delay
        self.feedback = SelfConnection(in_features) if connectivity == "self" else nn.Linear(
            out_features, in_features, bias=False)
        self.history: list[torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.history is None or self.history[0].shape[0] != x.shape[0]:
            self.history = [x.new_zeros((x.shape[0], self.out_features))] * self.delay
        y = self.body(x + self.feedback(self.history[0]))
        if y.shape != self.history[0].shape:
            raise ValueError(f"the body returned shape {tuple(y.shape)}; Recurrent(out_features="
                             f"{self.out_features}) feeds back (batch, {self.out_features})")
        self.history = [*self.history[1:], y]
        return y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"connectivity={self.connectivity!r}, delay={self.delay}")
