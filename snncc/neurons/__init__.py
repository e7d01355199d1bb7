"""PyTorch training modules whose semantics the compiler deploys exactly."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .arlif import ARLIF
from .conversion import QCFS, GroupNeuron, convert_to_snn
from .deploy import deploy_exact
from .encoding import GradedInput
from .klif import KLIF
from .lif import IF, LIF
from .multilevel import ASN, NASN, MultiLevel
from .residual import Residual
from .surrogate import round_ste, spike

__all__ = [
    "ARLIF", "ASN", "GradedInput", "GroupNeuron", "IF", "KLIF", "LIF", "MultiLevel", "NASN", "QCFS",
    "Residual", "CONTAINER_TYPES",
    "convert_to_snn", "deploy_exact", "reset_states", "run_sequence", "round_ste", "spike", "MODULE_TYPES",
    "STATEFUL_TYPES",
]

MODULE_TYPES: tuple[type[nn.Module], ...] = (
    LIF, IF, GradedInput, KLIF, ARLIF, MultiLevel, ASN, NASN, GroupNeuron, QCFS,
)
"""snncc's neuron and encoding modules: the tracer keeps them opaque (and they are on the safe-loading allow-list)."""

CONTAINER_TYPES: tuple[type[nn.Module], ...] = (Residual,)
"""snncc's containers: safe to load, traced through like nn.Sequential."""

STATEFUL_TYPES: tuple[type[nn.Module], ...] = (LIF, KLIF, ARLIF, MultiLevel, NASN)
"""Modules that keep state across time steps; each has ``reset_state()``."""


def reset_states(model: nn.Module) -> None:
    """Clear the state of every stateful snncc module in ``model``."""
    for m in model.modules():
        if isinstance(m, STATEFUL_TYPES):
            m.reset_state()


def run_sequence(model: nn.Module, inputs: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """Run ``model`` over a sequence shaped (T, batch, ...) from a fresh state; returns outputs (T, batch, ...)."""
    reset_states(model)
    return torch.stack([model(x) for x in inputs])
