"""A residual block as a module snncc can load safely: ``body(x) + shortcut(x)``.

A ResNet written as a custom ``nn.Module`` class can only be unpickled by running code from the file; built from
``Residual`` (and ``nn.Sequential``) it loads with the safe loader like any torch.nn model. The tracer sees through
it, so both residual forms of the spiking ResNets compile:

* **current addition** (spiking ResNet): the body ends with a convolution (+ BatchNorm) and a neuron follows the
  block, ``LIF(conv(...) + x)``;
* **spike addition** (SEW ResNet): the body ends with a neuron, and the summed spikes (0, 1, 2...) feed the next
  synapse, or a "barrier" neuron that re-quantizes the sum (Sparse-ResNet).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn


class Residual(nn.Module):
    """``body(x) + shortcut(x)``, the shortcut being the identity when not given (e.g. a 1x1 convolution that
    downsamples otherwise)."""

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.residual.Residual",)  # where snncc 0.1 pickled it

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)
