"""The multi-level spiking neuron family: one graded soft-reset neuron for multi-level, ASN/NASN and Group Neurons.

One call is one time step; the update is exactly :class:`snncc.ir.nodes.MultiLevelNeuron`'s::

    v = beta * v + x
    z = clip(floor(v / theta + offset), 0, levels)      (integer spike count; offset 0.5 rounds to nearest)
    v = v - z * theta                                   (soft reset)
    out = z * out_scale                                 (out_scale defaults to theta: the output is theta * z)

With ``theta = 2**k`` in integer voltage units this is :func:`snncc.families.multilevel.integer.multilevel_step`
(offset
``offset * 2**k``), so it deploys exactly as a graded spike with payload ``z``.

Gradient (multi-level §3.2 leaves it open; this is the LSQ/QCFS choice): the floor is straight-through and the
clip is a box on the unquantized level ``w = v / theta``, so ``dz/dv = 1/theta`` for ``0 <= w <= levels`` and 0
outside; ``theta`` receives the autograd gradient of that relaxation, which for ``out = theta * z`` is LSQ's
``z - v/theta`` inside the box, ``levels`` above it and 0 below. By default the reset term is detached (as
:class:`snncc.neurons.LIF` does): with a straight-through floor the residual ``v - z theta`` has zero gradient in
``v``, which would cut every gradient path through time.
"""

from __future__ import annotations

from typing import Any, ClassVar

import nir
import numpy as np
import torch
from torch import nn

from snncc.errors import UnsupportedLayerError
from snncc.families.multilevel.integer import multilevel_step
from snncc.families.multilevel.nodes import MultiLevelNeuron
from snncc.ir import keys
from snncc.nn.arith import DeployArithmetic, format_fields, format_of, require_float64
from snncc.nn.spiking import SpikingModule
from snncc.nn.surrogate import floor_ste, straight_through

THETA_MIN = 1e-6
"""Smallest threshold (quantum) the forward pass uses: a learned theta must stay positive."""


def quantize_levels(v: torch.Tensor, theta: torch.Tensor, offset: float, levels: int) -> torch.Tensor:
    """``clip(floor(v/theta + offset), 0, levels)`` with the box straight-through gradient of the module doc."""
    w = v / theta
    return straight_through(w.clamp(0.0, float(levels)), torch.floor(w.detach() + offset).clamp(0, levels))


class MultiLevel(SpikingModule):
    """Multi-level (graded) soft-reset neuron layer (Castagnetti et al. 2025), one time step per call."""

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.multilevel.MultiLevel",)  # snncc 0.1's pickles
    STATE: ClassVar[tuple[str, ...]] = ("v", "u")

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
        self.deploy_params: dict | None = None  # deploy-exact mode: the compiled layer's integers

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.start_state(x)
        if getattr(self, "deploy_params", None) is not None:  # the compiled graded neuron's integer step
            p = self.deploy_params
            require_float64(x)
            self.u, self.v, z = multilevel_step(self.u, self.v, x, p["du"], p["dv"], 0.0, p["theta_exp"], p["offset"],
                                                p["levels"], format_of(p), ar=DeployArithmetic(p["gain"]))
            return z * self.out_scale
        theta = self.threshold.clamp(min=THETA_MIN)
        v = self.beta.clamp(0.0, 1.0) * self.v + x
        z = quantize_levels(v, theta, self.offset, self.levels)
        r = z.detach() if self.detach_reset else z
        self.v = v - r * theta
        return z * (theta if self.fixed_out_scale is None else self.fixed_out_scale)

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        return [("", multilevel_node(self, n))]

    def enter_deploy_mode(self, node: Any, gain: float, neuron_format: Any) -> None:
        self.deploy_params = {"gain": float(gain), "du": node.du, "dv": node.dv, "theta_exp": node.theta_exp,
                              "offset": node.offset, "levels": node.levels, **format_fields(neuron_format)}

    def leave_deploy_mode(self) -> None:
        self.deploy_params = None

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

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.multilevel.ASN",)

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


class NASN(SpikingModule):
    """ASN preceded by a per-feature normalization with running statistics (NASN, reconstructed, §5.3).

    Training mode normalizes like ``BatchNorm1d`` (batch statistics, updating the running ones: each call is a
    time step, so a sequence of T steps updates them T times). Eval mode applies the per-feature affine
    ``x * scale + shift`` of :meth:`folded_affine` (running statistics), which the compiler folds into the
    preceding Linear: the deployed layer computes the same thing. The neuron itself is ``self.neuron`` (an ASN).
    """

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.multilevel.NASN",)
    FOLD_SUFFIX: ClassVar[str | None] = "_norm"

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

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        scale, shift = (t.double().numpy() for t in self.folded_affine())
        norm = nir.Affine(weight=np.diag(scale), bias=shift,
                          metadata={keys.SOURCE: "eval-mode normalization (folded)"})
        return [(self.FOLD_SUFFIX, norm), ("", multilevel_node(self, n))]

    def enter_deploy_mode(self, node: Any, gain: float, neuron_format: Any) -> None:
        self.neuron.enter_deploy_mode(node, gain, neuron_format)

    def leave_deploy_mode(self) -> None:
        self.neuron.leave_deploy_mode()

    def fold_into(self, linear: nn.Linear) -> None:
        """Fold the eval-mode normalization into ``linear`` (the deployed form: canonicalize merges the same affine
        into the same Linear) and make the normalization an exact identity."""
        with torch.no_grad():
            scale, shift = (t.to(linear.weight.dtype) for t in self.folded_affine())
            linear.weight.mul_(scale[:, None])
            if linear.bias is None:
                linear.bias = nn.Parameter(torch.zeros_like(scale))
            linear.bias.mul_(scale).add_(shift)
            bn = self.norm
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # x / sqrt(var + eps) is then x, exactly
            if bn.weight is not None:
                bn.weight.fill_(1.0)
                bn.bias.zero_()


class QCFS(nn.Module):
    """Quantization-clip-floor-shift activation: ``y = q * clip(floor(x/q + 0.5), 0, L)`` with ``q = theta/L``.

    This is ``theta/L * clip(floor(x L/theta + 0.5), 0, L)`` written with the quantum ``q`` so that a Group Neuron
    (which divides by its threshold ``q``) reproduces it bit for bit. Gradient as the authors' code: floor
    straight-through, zero outside the clip, autograd into ``theta`` (one trainable scalar per layer, init ``L``).
    """

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.conversion.QCFS",)  # where snncc 0.1 pickled it

    def __init__(self, levels: int = 8, theta: float | None = None, learn_theta: bool = True) -> None:
        super().__init__()
        if isinstance(levels, bool) or int(levels) != levels or levels < 1:
            raise ValueError(f"levels must be an integer >= 1, got {levels}")
        theta = float(levels) if theta is None else float(theta)
        if not theta > 0:
            raise ValueError(f"theta must be positive, got {theta}")
        self.levels = int(levels)
        self.theta = nn.Parameter(torch.tensor(theta), requires_grad=learn_theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.theta / self.levels
        return torch.clamp(floor_ste(x / q + 0.5), 0, self.levels) * q

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        """The tracing rule of an ANN activation: refused, with what to do instead."""
        raise UnsupportedLayerError("QCFS is an ANN activation",
                                    hint="convert the trained ANN with snncc.neurons.convert_to_snn() first")

    def extra_repr(self) -> str:
        return f"levels={self.levels}, theta={float(self.theta.detach()):.4g}"


class GroupNeuron(MultiLevel):
    """Group Neuron: ``members`` IF neurons sharing one membrane, i.e. a multi-level IF neuron.

    ``z = clip(floor(v m/theta + 0.5), 0, m)``, ``v -= z theta/m``, output ``z theta/m`` (the code's initial
    voltage ``theta/(2m)`` is the offset 0.5). Not trained (conversion needs no SNN training).
    """

    LEGACY_PATHS: ClassVar[tuple[str, ...]] = ("snncc.neurons.conversion.GroupNeuron",)

    def __init__(self, members: int = 4, theta: float = 1.0) -> None:
        if isinstance(members, bool) or int(members) != members or members < 1:
            raise ValueError(f"members must be an integer >= 1, got {members}")
        if not theta > 0:
            raise ValueError(f"theta must be positive, got {theta}")
        super().__init__(levels=int(members), threshold=float(theta) / int(members), beta=1.0, offset=0.5,
                         learn_threshold=False, out_scale=None, learn_beta=False)

    @property
    def members(self) -> int:
        return self.levels

    @property
    def theta(self) -> float:
        """The group's full range ``theta = members * threshold`` (the QCFS theta it was converted from)."""
        return float(self.threshold.detach()) * self.levels


def multilevel_node(mod: MultiLevel | NASN, n: int) -> MultiLevelNeuron:
    """The IR node of a multi-level module's ``n`` neurons (its parameters as the forward pass uses them)."""
    theta = float(mod.threshold.detach().clamp(min=THETA_MIN))
    return MultiLevelNeuron(decay_v=np.full(n, mod.decay), decay_i=np.zeros(n), threshold=np.full(n, theta),
                            bias=np.zeros(n), offset=np.full(n, mod.offset), out_scale=np.full(n, mod.out_scale),
                            levels=mod.levels)


MODULES = (MultiLevel, ASN, NASN, GroupNeuron, QCFS)
