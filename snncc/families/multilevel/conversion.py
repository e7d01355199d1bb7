"""ANN-to-SNN conversion with QCFS activations and Group Neurons (Lv et al. 2024; seed_neurons.md §4).

Train an ANN whose activations are :class:`QCFS`, then :func:`convert_to_snn` swaps each QCFS for a
:class:`GroupNeuron` with ``members = levels`` and the trained ``theta``. A Group Neuron is a configuration of
:class:`~snncc.families.multilevel.module.MultiLevel` (``levels=m, threshold=theta/m, beta=1, offset=0.5``), so the
compiler sees one family. At T=1 the converted network computes exactly the QCFS ANN; fed the same input for T steps,
its time-averaged output refines the quantization (``m T + 1`` levels) toward the theta-clipped ReLU network.
"""

from __future__ import annotations

import copy

from torch import nn

from snncc.errors import UnsupportedLayerError
from snncc.families.multilevel.module import QCFS, GroupNeuron

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
