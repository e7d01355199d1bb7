"""The multi-level spiking neuron family: one graded soft-reset neuron for multi-level, ASN/NASN and Group Neurons.

One call is one time step; the update is exactly :class:`snncc.ir.nodes.MultiLevelNeuron`'s::

    v = beta * v + x
    z = clip(floor(v / theta + offset), 0, levels)      (integer spike count; offset 0.5 rounds to nearest)
    v = v - z * theta                                   (soft reset)
    out = z * out_scale                                 (out_scale defaults to theta: the output is theta * z)

With ``theta = 2**k`` in integer voltage units this is :func:`snncc.fixedpoint.multilevel_step` (offset
``offset * 2**k``), so it deploys exactly as a graded spike with payload ``z``.

Gradient (multi-level §3.2 leaves it open; this is the LSQ/QCFS choice): the floor is straight-through and the
clip is a box on the unquantized level ``w = v / theta``, so ``dz/dv = 1/theta`` for ``0 <= w <= levels`` and 0
outside; ``theta`` receives the autograd gradient of that relaxation, which for ``out = theta * z`` is LSQ's
``z - v/theta`` inside the box, ``levels`` above it and 0 below. By default the reset term is detached (as
:class:`snncc.neurons.LIF` does): with a straight-through floor the residual ``v - z theta`` has zero gradient in
``v``, which would cut every gradient path through time.
"""

from __future__ import annotations

import torch
from torch import nn

from . import integer
from .surrogate import straight_through

THETA_MIN = 1e-6
"""Smallest threshold (quantum) the forward pass uses: a learned theta must stay positive."""


def quantize_levels(v: torch.Tensor, theta: torch.Tensor, offset: float, levels: int) -> torch.Tensor:
    """``clip(floor(v/theta + offset), 0, levels)`` with the box straight-through gradient of the module doc."""
    w = v / theta
    return straight_through(w.clamp(0.0, float(levels)), torch.floor(w.detach() + offset).clamp(0, levels))


class MultiLevel(nn.Module):
    """Multi-level (graded) soft-reset neuron layer (Castagnetti et al. 2025), one time step per call."""

    def __init__(
        self,
        levels: int = 4,
        threshold: float = 1.0,
        beta: float = 1.0,
        offset: float = 0.0,
        learn_threshold: bool = True,
        out_scale: float | None = None,
        learn_beta: bool = False,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(levels, bool) or int(levels) != levels or levels < 1:
            raise ValueError(f"levels must be an integer >= 1, got {levels}")
        if threshold <= 0:
            raise ValueError(f"threshold must be positive, got {threshold}")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must lie in [0, 1], got {beta}")
        if not 0.0 <= offset < 1.0:
            raise ValueError(f"offset must lie in [0, 1), got {offset}")
        if out_scale is not None and not out_scale > 0:
            raise ValueError(f"out_scale must be positive or None (= threshold), got {out_scale}")
        self.levels = int(levels)
        self.offset = float(offset)
        self.fixed_out_scale = None if out_scale is None else float(out_scale)
        self.detach_reset = bool(detach_reset)
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=learn_threshold)
        self.beta = nn.Parameter(torch.tensor(float(beta)), requires_grad=learn_beta)
        self.v: torch.Tensor | None = None
        self.u: torch.Tensor | None = None  # integer current in deploy-exact mode
        self.deploy_params: dict | None = None  # set by snncc.neurons.deploy_exact: integer mode

    @property
    def decay(self) -> float:
        """The voltage retention ``beta`` the forward pass uses (clamped to [0, 1])."""
        return float(self.beta.detach().clamp(0.0, 1.0))

    @property
    def out_scale(self) -> float:
        """What one output level is worth: ``out = z * out_scale`` (the threshold unless fixed)."""
        if self.fixed_out_scale is not None:
            return self.fixed_out_scale
        return float(self.threshold.detach().clamp(min=THETA_MIN))

    def reset_state(self) -> None:
        """Forget the membrane state (call before each new sample or batch)."""
        self.v = None
        self.u = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.v is None or self.v.shape != x.shape:
            self.v = torch.zeros_like(x)
            self.u = torch.zeros_like(x)
        if getattr(self, "deploy_params", None) is not None:  # the compiled graded neuron's integer step
            self.u, self.v, z = integer.multilevel_step(integer.DeployParams(**self.deploy_params), self.u, self.v, x)
            return z * self.out_scale
        theta = self.threshold.clamp(min=THETA_MIN)
        v = self.beta.clamp(0.0, 1.0) * self.v + x
        z = quantize_levels(v, theta, self.offset, self.levels)
        r = z.detach() if self.detach_reset else z
        self.v = v - r * theta
        return z * (theta if self.fixed_out_scale is None else self.fixed_out_scale)

    def extra_repr(self) -> str:
        scale = "threshold" if self.fixed_out_scale is None else f"{self.fixed_out_scale:.4g}"
        return (f"levels={self.levels}, threshold={float(self.threshold.detach()):.4g}, "
                f"beta={float(self.beta.detach()):.4g}, offset={self.offset:.4g}, out_scale={scale}")


class ASN(MultiLevel):
    """Adaptive spiking neuron (Zhou et al. 2026), reconstructed as a leaky I-LIF (seed_neurons.md §5.3).

    ``z = clip(round(v / theta), 0, levels)`` (offset 0.5: round half up) after ``v = beta v + x``, soft reset,
    learnable leak ``beta`` (clamped to [0, 1]) and quantum ``theta``. Output convention: ``z * theta`` (the
    quantized membrane, as in the rest of the family); I-LIF's normalized ``z / levels`` is ``out_scale=1/levels``.
    It is a :class:`MultiLevel`, so the compiler sees one family.
    """

    def __init__(
        self,
        levels: int = 4,
        threshold: float = 1.0,
        beta: float = 0.9,
        learn_beta: bool = True,
        learn_threshold: bool = True,
        out_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(levels=levels, threshold=threshold, beta=beta, offset=0.5, learn_threshold=learn_threshold,
                         out_scale=out_scale, learn_beta=learn_beta, detach_reset=detach_reset)


class NASN(nn.Module):
    """ASN preceded by a per-feature normalization with running statistics (NASN, reconstructed, §5.3).

    Training mode normalizes like ``BatchNorm1d`` (batch statistics, updating the running ones: each call is a
    time step, so a sequence of T steps updates them T times). Eval mode applies the per-feature affine
    ``x * scale + shift`` of :meth:`folded_affine` (running statistics), which the compiler folds into the
    preceding Linear: the deployed layer computes the same thing. The neuron itself is ``self.neuron`` (an ASN).
    """

    def __init__(
        self,
        levels: int,
        features: int,
        threshold: float = 1.0,
        beta: float = 0.9,
        learn_beta: bool = True,
        learn_threshold: bool = True,
        out_scale: float | None = None,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(features, bool) or int(features) != features or features < 1:
            raise ValueError(f"features must be an integer >= 1, got {features}")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.norm = nn.BatchNorm1d(int(features), eps=eps, momentum=momentum, affine=affine)
        self.neuron = ASN(levels=levels, threshold=threshold, beta=beta, learn_beta=learn_beta,
                          learn_threshold=learn_threshold, out_scale=out_scale)

    def _affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        bn = self.norm
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = bn.weight * scale
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = bn.bias + shift
        return scale, shift

    def folded_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-feature ``(scale, shift)`` with ``norm(x) == x * scale + shift`` in eval mode (what to fold)."""
        scale, shift = self._affine()
        return scale.detach().clone(), shift.detach().clone()

    @property
    def features(self) -> int:
        return self.norm.num_features

    @property
    def levels(self) -> int:
        return self.neuron.levels

    @property
    def threshold(self) -> nn.Parameter:
        return self.neuron.threshold

    @property
    def decay(self) -> float:
        return self.neuron.decay

    @property
    def offset(self) -> float:
        return self.neuron.offset

    @property
    def out_scale(self) -> float:
        return self.neuron.out_scale

    def reset_state(self) -> None:
        """Forget the neuron's membrane state (the running statistics are kept: they are parameters)."""
        self.neuron.reset_state()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if getattr(self.neuron, "deploy_params", None) is not None:
            return self.neuron(x)  # deploy-exact: deploy_exact() folded the normalization into the Linear before
        if self.training:
            y = self.norm(x)
        else:
            scale, shift = self._affine()
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = x * scale.view(shape) + shift.view(shape)
        return self.neuron(y)
