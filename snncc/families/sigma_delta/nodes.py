"""The sigma-delta family's integer node: a layer of lava-nc's ``Sigma``, ``Delta`` or ``SigmaDelta`` neurons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snncc import fixedpoint as fx
from snncc.families.sigma_delta.integer import ACTIVATIONS, MODES, sigma_delta_step
from snncc.ir.nodes import IntegerNeuron, NeuronState, vec

STATE_WORDS = ("sigma", "act", "residue", "error")


@dataclass
class SigmaDeltaState(NeuronState):
    """``u`` is the layer's ``sigma``, ``v`` its ``act`` (the Vars recorded as traces); plus the delta encoder's
    ``residue`` and ``error``."""

    residue: np.ndarray | None = None
    error: np.ndarray | None = None


@dataclass(eq=False)
class QSigmaDelta(IntegerNeuron):
    """Integer sigma-delta layer with lava-nc's fixed-point semantics (:mod:`snncc.families.sigma_delta.integer`).

    ``mode``: ``sigma_delta`` (a hidden SDNN layer), ``delta`` (netx's input encoder) or ``sigma`` (netx's
    ``sigma_output`` decoder); ``vth`` and ``bias`` are unscaled (Lava scales both by ``2**(spike_exp +
    state_exp)``); it sends signed graded payloads of up to ``message_bits`` bits.
    """

    TYPE: ClassVar[str] = "snncc.QSigmaDelta"
    RESET: ClassVar[str] = "none"
    vth: int
    bias: np.ndarray
    mode: str = "sigma_delta"
    act_mode: str = "relu"
    cum_error: bool = False
    spike_exp: int = 6
    state_exp: int = 6
    message_bits: int = 16

    def __post_init__(self) -> None:
        self.bias = vec(self.bias, np.int64)
        self.vth, self.spike_exp, self.state_exp = int(self.vth), int(self.spike_exp), int(self.state_exp)
        self.message_bits, self.cum_error = int(self.message_bits), bool(self.cum_error)
        self.mode = self.mode.decode() if isinstance(self.mode, bytes) else str(self.mode)
        self.act_mode = self.act_mode.decode() if isinstance(self.act_mode, bytes) else str(self.act_mode)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.act_mode not in ACTIVATIONS:
            raise ValueError(f"act_mode must be one of {ACTIVATIONS}, got {self.act_mode!r}")
        if self.spike_exp < 0 or self.state_exp < 0 or self.vth < 0:
            raise ValueError("vth, spike_exp and state_exp must be >= 0")

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.bias.shape

    out_shape = in_shape

    @property
    def payload_levels(self) -> int:
        return (1 << (self.message_bits - 1)) - 1

    def bias_values(self) -> np.ndarray:
        return self.bias << (self.spike_exp + self.state_exp)

    def integer_state(self, batch: int) -> SigmaDeltaState:
        z = np.zeros((batch, self.size), np.int64)
        return SigmaDeltaState(u=z.copy(), v=z.copy(), bias=self.bias_values(), residue=z.copy(), error=z.copy())

    def integer_step(self, state: NeuronState, a: np.ndarray, fmt: fx.NeuronFormat) -> np.ndarray:
        words = {"sigma": state.u, "act": state.v, "residue": state.residue, "error": state.error}
        s = sigma_delta_step(words, a, self.mode, self.vth, self.bias, self.act_mode, self.cum_error,
                             self.spike_exp, self.state_exp)
        state.u, state.v, state.residue, state.error = (words[k] for k in STATE_WORDS)
        return s

    def summary(self) -> str:
        return (f"mode={self.mode} vth={self.vth} act={self.act_mode} spike_exp={self.spike_exp} "
                f"state_exp={self.state_exp} cum_error={self.cum_error}")
