"""ANN-to-SNN conversion with QCFS activations and Group Neurons (Lv et al. 2024; seed_neurons.md §4).

Train an ANN whose activations are :class:`QCFS`, then :func:`convert_to_snn` swaps each QCFS for a
:class:`GroupNeuron` with ``members = levels`` and the trained ``theta``. A Group Neuron is a configuration of
:class:`~snncc.neurons.multilevel.MultiLevel` (``levels=m, threshold=theta/m, beta=1, offset=0.5``), so the compiler
sees one family. At T=1 the converted network computes exactly the QCFS ANN; fed the same input for T steps, its
time-averaged output refines the quantization (``m T + 1`` levels) toward the theta-clipped ReLU network.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import UnsupportedLayerError
from .multilevel import MultiLevel
from .surrogate import floor_ste


class QCFS(nn.Module):
    """Quantization-clip-floor-shift activation: ``y = q * clip(floor(x/q + 0.5), 0, L)`` with ``q = theta/L``.

    This is ``theta/L * clip(floor(x L/theta + 0.5), 0, L)`` written with the quantum ``q`` so that a Group Neuron
    (which divides by its threshold ``q``) reproduces it bit for bit. Gradient as the authors' code: floor
    straight-through, zero outside the clip, autograd into ``theta`` (one trainable scalar per layer, init ``L``).
    """

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

    def extra_repr(self) -> str:
        return f"levels={self.levels}, theta={float(self.theta.detach()):.4g}"


class GroupNeuron(MultiLevel):
    """Group Neuron: ``members`` IF neurons sharing one membrane, i.e. a multi-level IF neuron.

    ``z = clip(floor(v m/theta + 0.5), 0, m)``, ``v -= z theta/m``, output ``z theta/m`` (the code's initial
    voltage ``theta/(2m)`` is the offset 0.5). Not trained (conversion needs no SNN training).
    """

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


_REJECTED = {
    nn.ReLU: "the ANN must use snncc.neurons.QCFS activations (replace every ReLU by QCFS and train)",
    nn.ReLU6: "the ANN must use snncc.neurons.QCFS activations (replace every ReLU6 by QCFS and train)",
    nn.MaxPool1d: "max pooling does not commute with time averaging; train with AvgPool instead",
    nn.MaxPool2d: "max pooling does not commute with time averaging; train with AvgPool instead",
    nn.MaxPool3d: "max pooling does not commute with time averaging; train with AvgPool instead",
}


def convert_to_snn(ann: nn.Module, members: int | None = None) -> nn.Module:
    """A deep copy of ``ann`` with every :class:`QCFS` replaced by a :class:`GroupNeuron` of the same ``theta``.

    ``members`` defaults to each QCFS's ``levels`` (the setting in which T=1 reproduces the ANN exactly). A ReLU
    (or a max pooling) in the ANN is refused with an error naming it: its converted network would be wrong.
    """
    if members is not None and (isinstance(members, bool) or int(members) != members or members < 1):
        raise ValueError(f"members must be an integer >= 1 or None, got {members}")
    for name, mod in ann.named_modules():
        for kind, hint in _REJECTED.items():
            if type(mod) is kind:
                raise UnsupportedLayerError(f"{kind.__name__} cannot be converted to a spiking layer",
                                            layer=name or type(ann).__name__, hint=hint)
    snn = copy.deepcopy(ann)
    if isinstance(snn, QCFS):
        return _group_neuron(snn, members, type(ann).__name__)
    converted = _swap(snn, members, "")
    if converted == 0:
        raise UnsupportedLayerError("the ANN has no QCFS activation: there is nothing to convert",
                                    hint="use snncc.neurons.QCFS as the activation of every hidden layer")
    return snn


def _group_neuron(q: QCFS, members: int | None, name: str) -> GroupNeuron:
    theta = float(q.theta.detach())
    if not theta > 0:
        raise UnsupportedLayerError(f"QCFS theta must be positive to convert, got {theta}", layer=name)
    return GroupNeuron(members=q.levels if members is None else int(members), theta=theta)


def _swap(parent: nn.Module, members: int | None, prefix: str) -> int:
    count = 0
    for child_name, child in parent.named_children():
        full = f"{prefix}.{child_name}" if prefix else child_name
        if isinstance(child, QCFS):
            setattr(parent, child_name, _group_neuron(child, members, full))
            count += 1
        else:
            count += _swap(child, members, full)
    return count
