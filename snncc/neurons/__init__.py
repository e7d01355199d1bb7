"""PyTorch training modules whose semantics the compiler deploys exactly."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .encoding import GradedInput
from .lif import IF, LIF
from .surrogate import round_ste, spike

__all__ = ["GradedInput", "IF", "LIF", "reset_states", "run_sequence", "round_ste", "spike", "MODULE_TYPES"]

MODULE_TYPES: tuple[type[nn.Module], ...] = (LIF, IF, GradedInput)


def reset_states(model: nn.Module) -> None:
    """Clear the state of every stateful snncc module in ``model``."""
    for m in model.modules():
        if isinstance(m, LIF):
            m.reset_state()


def run_sequence(model: nn.Module, inputs: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """Run ``model`` over a sequence shaped (T, batch, ...) from a fresh state; returns outputs (T, batch, ...)."""
    reset_states(model)
    return torch.stack([model(x) for x in inputs])
