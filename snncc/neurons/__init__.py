"""PyTorch training modules whose semantics the compiler deploys exactly: the public face of the neuron families.

Each module lives with its family (``snncc.families.<family>.module``); this package gathers them under one name
for users (``from snncc import neurons as N; N.LIF(...)``), with the input encoding, residual blocks, state
helpers and the deploy-exact switch.
"""

from __future__ import annotations

from torch import nn

from ..families.arlif.module import ARLIF
from ..families.klif.module import KLIF
from ..families.lif.module import IF, LIF
from ..families.multilevel.conversion import convert_to_snn
from ..families.multilevel.module import ASN, NASN, QCFS, GroupNeuron, MultiLevel
from ..nn import (
    GradedInput,
    Recurrent,
    Residual,
    SelfConnection,
    SpikingModule,
    reset_states,
    round_ste,
    run_sequence,
    spike,
)

__all__ = [
    "ARLIF", "ASN", "GradedInput", "GroupNeuron", "IF", "KLIF", "LIF", "MultiLevel", "NASN", "QCFS", "Recurrent",
    "Residual", "SelfConnection", "SpikingModule", "convert_to_snn", "deploy_exact", "reset_states", "round_ste",
    "run_sequence", "spike",
]


def deploy_exact(model: nn.Module, target: str = "loihi2", enable: bool = True) -> nn.Module:
    """Put ``model`` into deploy-exact mode for ``target`` (or back to float mode); see
    :func:`snncc.training.deploy_exact`."""
    from ..training import deploy_exact as switch

    return switch(model, target, enable)
