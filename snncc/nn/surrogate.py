"""Surrogate and straight-through gradients: exact forward values (Heaviside, round, floor), chosen backward."""

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


class _RectangleSpike(torch.autograd.Function):
    """Forward ``z > 0``; backward ``1/width`` for ``|z| <= width/2``, else 0 (the AR-LIF authors' default)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, width: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(z)
        ctx.width = width
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (z,) = ctx.saved_tensors
        return grad * (z.abs() <= ctx.width / 2).to(grad.dtype) / ctx.width, None


def rectangle_spike(z: torch.Tensor, width: float = 1.0) -> torch.Tensor:
    """Heaviside of ``z`` (strict) with a rectangle surrogate of the given width and area 1."""
    return _RectangleSpike.apply(z, width)


class _FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    """Floor with a straight-through (identity) gradient."""
    return _FloorSTE.apply(x)


class _Replace(torch.autograd.Function):
    """Forward: the exact value; backward: the gradient of the relaxed value (``f + (e - f).detach()`` is inexact)."""

    @staticmethod
    def forward(ctx, relaxed: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return exact.to(relaxed.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad, None


def straight_through(relaxed: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Return ``exact``'s values (bit for bit) with ``relaxed``'s gradient."""
    return _Replace.apply(relaxed, exact)


class _ClampSTE(torch.autograd.Function):
    """Forward ``clamp(x, lo, hi)``; backward identity, so a parameter beyond a bound can still come back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:  # type: ignore[override]
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        return grad, None, None


def clamp_ste(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Clamp with a straight-through (identity) gradient."""
    return _ClampSTE.apply(x, lo, hi)


def trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """Truncation toward zero with a straight-through gradient."""
    return x + (torch.trunc(x) - x).detach()
