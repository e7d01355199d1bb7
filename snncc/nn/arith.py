"""The integer rules of :mod:`snncc.fixedpoint` in torch, with straight-through gradients (deploy-exact mode).

:class:`DeployArithmetic` implements the interface of :class:`snncc.fixedpoint.ExactArithmetic` on float64
tensors holding integers (exact below 2**53): the neuron steps of the families, written once against that
interface, then compute in torch exactly the values the reference simulator and Lava compute, while rounding,
truncation and wrapping pass gradients straight through and the spike test uses the module's surrogate.

Two things differ from the integer model by construction, not by value: the synaptic input arrives as a float
current ``x`` (from the snapped weights) and is turned into voltage units by ``round(x * gain)`` (``gain`` includes
``2**act_shift``, the layer's scale and the bias, which the float model carries in ``x``); and the spike's surrogate
gradient is taken in float units (``(v - vth) / gain``).
"""

from __future__ import annotations

import torch

from .. import fixedpoint as fx
from .surrogate import round_ste, spike, trunc_ste


class DeployArithmetic:
    """Loihi's integer rules on float64 tensors with straight-through gradients (see the module docstring)."""

    def __init__(self, gain: float, slope: float = 5.0) -> None:
        self.gain = float(gain)
        self.slope = float(slope)

    def decay(self, x: torch.Tensor, d: int, decay_bits: int) -> torch.Tensor:
        one = float(1 << decay_bits)
        return trunc_ste(x * ((one - d) / one))

    def wrap(self, u: torch.Tensor, state_bits: int) -> torch.Tensor:
        m = float(1 << (state_bits - 1))
        return u - 2 * m * ((u > m).to(u.dtype) - (u <= -m).to(u.dtype))

    def saturate(self, v: torch.Tensor, state_bits: int) -> torch.Tensor:
        m = float((1 << (state_bits - 1)) - 1)
        return v.clamp(-m, m)

    def scale_input(self, x: torch.Tensor, act_shift: int) -> torch.Tensor:
        return round_ste(x * self.gain)  # the gain holds 2**act_shift

    def maximum(self, v: torch.Tensor, floor: int) -> torch.Tensor:
        return v.clamp(min=float(floor))

    def above(self, v: torch.Tensor, vth: int) -> torch.Tensor:
        return spike((v - float(vth)) / self.gain, self.slope)

    def levels(self, v: torch.Tensor, offset: int, shift: int, levels: int) -> torch.Tensor:
        """``clip(floor((v + offset) / 2**shift), 0, levels)``; gradient of the clipped level (a box)."""
        level = (v + offset) / float(1 << shift)
        box = level.clamp(0.0, float(levels))
        return box + (torch.floor(level).clamp(0, levels) - box).detach()

    def release(self, v: torch.Tensor, count: torch.Tensor, amount: torch.Tensor | float) -> torch.Tensor:
        return v - count.detach() * amount


FORMAT_FIELDS = ("state_bits", "decay_bits", "act_shift")  # the NeuronFormat fields a deploy-mode layer uses


def format_fields(fmt: fx.NeuronFormat) -> dict[str, int]:
    """The neuron format as plain ints (a module's ``deploy_params`` must stay loadable by the safe unpickler)."""
    return {k: int(getattr(fmt, k)) for k in FORMAT_FIELDS}


def format_of(params: dict) -> fx.NeuronFormat:
    """The neuron format stored by :func:`format_fields` (Loihi's where a saved model predates it)."""
    return fx.NeuronFormat(**{k: int(params[k]) for k in FORMAT_FIELDS if k in params})


def require_float64(x: torch.Tensor) -> None:
    if x.dtype != torch.float64:
        raise ValueError("deploy-exact mode computes integer states in float64: call model.double() "
                         "(snncc.training.deploy_exact does)")
