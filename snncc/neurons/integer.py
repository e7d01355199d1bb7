"""Deploy-exact neuron steps in torch: the compiled network's integer arithmetic, with straight-through gradients.

A neuron module in deploy-exact mode (see :func:`snncc.neurons.deploy.deploy_exact`) holds a :class:`DeployParams`
and steps its state in integer voltage units exactly as :func:`snncc.fixedpoint.lif_step` and
:func:`snncc.fixedpoint.multilevel_step` do: 12-bit decays truncated toward zero, 24-bit saturation, strict
``v > vth << 6``, the floor, the graded soft reset. Values are integers held in float64 tensors (exact below
2**53); rounding and truncation pass gradients straight through, the spike uses the module's surrogate in float
units. The synaptic input ``x`` (float, from snapped weights) is turned into voltage units by ``round(x * gain)``,
which includes the bias; the one thing not reproduced is the 24-bit wrap of a current that overflows, which the
compiler warns about.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .surrogate import round_ste, spike

STATE_MAX = float((1 << 23) - 1)


@dataclass(frozen=True)
class DeployParams:
    """Integer parameters of one deployed neuron layer (read from the compiler's quantized graph)."""

    gain: float  # float input -> integer voltage units: w = round(x * gain) (= 64 * scale * input gain)
    du: int
    dv: int
    soft_reset: bool = False
    vth: int | None = None  # LIF: threshold mantissa (compared as v > vth << 6)
    v_min: int | None = None
    theta_exp: int | None = None  # multi-level: quantum 2**theta_exp
    offset: int = 0
    levels: int = 1


def _trunc_ste(t: torch.Tensor) -> torch.Tensor:
    return t + (torch.trunc(t) - t).detach()


def decay(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x * (4096 - d) / 4096`` truncated toward zero (exact in float64 for 24-bit states)."""
    return _trunc_ste(x * ((4096 - d) / 4096.0))


def _check(x: torch.Tensor) -> None:
    if x.dtype != torch.float64:
        raise ValueError("deploy-exact mode computes integer states in float64: call model.double() "
                         "(snncc.neurons.deploy_exact does)")


def lif_step(p: DeployParams, u: torch.Tensor, v: torch.Tensor, x: torch.Tensor,
             slope: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One integer LIF step (``fixedpoint.lif_step`` with the bias carried in ``x``); returns ``(u, v, spikes)``."""
    _check(x)
    w = round_ste(x * p.gain)
    u = decay(u, p.du + 1) + w
    v = (decay(v, p.dv) + u).clamp(-STATE_MAX, STATE_MAX)
    if p.v_min is not None:
        v = v.clamp(min=float(p.v_min))
    vth_e = float(p.vth << 6)
    s = spike((v - vth_e) / p.gain, slope)
    r = s.detach()
    v = v - r * vth_e if p.soft_reset else v * (1.0 - r)
    return u, v, s


def multilevel_step(p: DeployParams, u: torch.Tensor, v: torch.Tensor,
                    x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One integer graded step (``fixedpoint.multilevel_step``); returns ``(u, v, z)`` with ``z`` the integer level."""
    _check(x)
    q = float(1 << p.theta_exp)
    w = round_ste(x * p.gain)
    u = decay(u, p.du + 1) + w
    v = (decay(v, p.dv) + u).clamp(-STATE_MAX, STATE_MAX)
    level = (v + p.offset) / q
    z = level.clamp(0.0, float(p.levels)) + (torch.floor(level).clamp(0, p.levels) - level.clamp(0.0, float(p.levels))
                                             ).detach()
    return u, v - z.detach() * q, z
