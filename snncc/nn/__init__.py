"""snncc's torch building blocks that are not a neuron family: input encoding, residual and recurrent blocks, surrogate
gradients, the base of every neuron module, and the integer rules in torch (deploy-exact mode)."""

from .encoding import GradedInput
from .recurrent import Recurrent, SelfConnection
from .residual import Residual
from .spiking import SpikingModule, Stateful, reset_states, run_sequence
from .surrogate import floor_ste, round_ste, spike, straight_through

SAFE_MODULES = (GradedInput, Recurrent, Residual, SelfConnection)
"""The modules of this package a model file may hold (the safe loader's allow-list)."""

__all__ = ["GradedInput", "Recurrent", "Residual", "SAFE_MODULES", "SelfConnection", "SpikingModule", "Stateful",
           "floor_ste", "reset_states", "round_ste", "run_sequence", "spike", "straight_through"]
