"""Surrogate-gradient spike functions: exact Heaviside forward, smooth backward."""

from __future__ import annotations

import torch


class _FastSigmoidSpike(torch.autograd.Function):
    """Forward ``x > 0`` (strict, as Loihi fires on ``v > vth``); backward ``1 / (1 + slope*|x|)**2``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()) ** 2, None


def spike(x: torch.Tensor, slope: float = 5.0) -> torch.Tensor:
    """Heaviside spike of ``x = v - threshold`` with a fast-sigmoid surrogate gradient of the given slope."""
    return _FastSigmoidSpike.apply(x, slope)


class _StraightThroughRound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to nearest with a straight-through (identity) gradient."""
    return _StraightThroughRound.apply(x)
