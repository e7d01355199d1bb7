"""What every snncc neuron module is: one call is one time step, state across calls, a tracing rule, and a
deploy-exact mode that computes the compiled network's integer arithmetic.

Each neuron family's torch modules derive from :class:`SpikingModule`, so the tracer, the deploy-exact mode, QAT
and :func:`reset_states` treat them alike without listing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn


class Stateful(nn.Module):
    """A module that keeps state from one step (one call) to the next: :func:`reset_states` clears it."""

    STATE: ClassVar[tuple[str, ...]] = ()  # the attributes holding its state across steps (None until a first step)

    def reset_state(self) -> None:
        """Forget the state (call before each new sample or batch)."""
        for name in self.STATE:
            setattr(self, name, None)

    def start_state(self, x: torch.Tensor) -> None:
        """Zero state shaped as the input ``x`` at a sample's first step (or when the batch's shape changes)."""
        first = getattr(self, self.STATE[0], None)
        if first is None or first.shape != x.shape:
            for name in self.STATE:
                setattr(self, name, torch.zeros_like(x))


class SpikingModule(Stateful):
    """Base of the neuron modules of the families."""

    FOLD_SUFFIX: ClassVar[str | None] = None  # the IR suffix of a part its tracing rule puts before the neurons,
    # which the deploy-exact mode folds into the feeding nn.Linear (fold_into)

    def ir_nodes(self, n: int) -> list[tuple[str, Any]]:
        """The tracing rule: the IR nodes this layer of ``n`` neurons becomes, in order, as ``(suffix, node)``
        pairs (the node named after the module gets the suffix ``""``; one before it, e.g. a folded
        normalization, ``"_norm"``)."""
        raise NotImplementedError

    def deploy_gain(self) -> float:
        """The input gain the compiler folds into this layer's weights (what one unit of the torch input is worth
        in the compiled layer's input, before its scale); 1 unless the family rewrites the layer."""
        return 1.0

    def enter_deploy_mode(self, node: Any, gain: float, neuron_format: Any) -> None:
        """Compute, from now on, what the compiled integer layer ``node`` computes: ``gain`` turns the float
        synaptic input into the integer layer's voltage units."""
        raise NotImplementedError

    def leave_deploy_mode(self) -> None:
        """Back to the float model."""
        raise NotImplementedError

    def fold_into(self, linear: nn.Linear) -> None:
        """Fold what the layer applies before its neurons (an eval-mode normalization) into the ``nn.Linear`` that
        feeds it, in place, making that part of the layer an exact identity (only layers that have one)."""
        raise NotImplementedError(f"{type(self).__name__} has nothing to fold")


def reset_states(model: nn.Module) -> None:
    """Clear the state of every snncc neuron module (and every recurrent wrapper) in ``model``."""
    for m in model.modules():
        if isinstance(m, Stateful):
            m.reset_state()


def run_sequence(model: nn.Module, inputs: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """Run ``model`` over a sequence shaped (T, batch, ...) from a fresh state; returns outputs (T, batch, ...)."""
    reset_states(model)
    return torch.stack([model(x) for x in inputs])
