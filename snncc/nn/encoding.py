"""Input encoders that fix what the deployed network receives each step.

A model whose first module is :class:`GradedInput` is deployed with integer graded input (direct encoding): the
float input ``x`` in ``[0, 1]`` becomes the payload ``round(x * levels)``. A model without one receives binary
spikes (rate or event encoding is then done by the user's data pipeline).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from .surrogate import round_ste


class GradedInput(nn.Module):
    """Quantize a direct-encoded input to ``levels + 1`` integer levels (straight-through gradient).

    The forward pass returns ``round(clamp(x, 0, 1) * levels) / levels``, exactly what the chip receives as the
    payload ``round(x * levels)`` times the scale ``1 / levels`` folded into the first layer's weights.
    """

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.encoding.GradedInput",)  # where snncc 0.1 pickled it
    MAX_LEVELS: ClassVar[int] = 1 << 16

    def __init__(self, levels: int = 16) -> None:
        super().__init__()
        if not 1 <= int(levels) <= self.MAX_LEVELS:
            raise ValueError(f"levels must lie in [1, {self.MAX_LEVELS}], got {levels}")
        self.levels = int(levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return round_ste(x.clamp(0.0, 1.0) * self.levels) / self.levels

    def to_payload(self, x: torch.Tensor) -> torch.Tensor:
        """Integer payloads the deployed network receives for the float input ``x``."""
        return torch.round(x.clamp(0.0, 1.0) * self.levels).to(torch.int64)

    def extra_repr(self) -> str:
        return f"levels={self.levels}"
