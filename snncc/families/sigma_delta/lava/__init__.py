"""The sigma-delta family on Lava: :class:`SnnccSigmaDelta`, lava-nc's ``Sigma``/``Delta``/``SigmaDelta`` with the
families' reset clock.

Lava's stock sigma-delta processes never reset, so consecutive samples would share their state; this process runs
the family's own rule (:func:`~snncc.families.sigma_delta.integer.sigma_delta_step`, the function the reference
simulator runs) and clears ``sigma``, ``act``, ``residue`` and ``error`` at the clock's resets, so that all samples
run back to back in one Lava run. ``snncc verify`` compares the rule with netx's stock processes as well. A package
of its own: Lava executes every ``.py`` file beside a process while looking for its models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.compat.lava import import_lava
from snncc.families.lava_clock import ResetClock, check_clock
from snncc.families.sigma_delta.integer import sigma_delta_step

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402

WORDS = ("sigma", "act", "residue", "error")


class SnnccSigmaDelta(AbstractProcess):
    """A ``QSigmaDelta`` layer: Vars ``sigma``, ``act``, ``residue``, ``error``, ``bias``; ``mode``, ``vth``,
    ``act_mode``, ``cum_error``, ``spike_exp``, ``state_exp`` and the clock are process parameters."""

    def __init__(self, *, shape: tuple[int, ...], vth: int, bias: np.ndarray, mode: str, act_mode: str,
                 cum_error: bool, spike_exp: int, state_exp: int, reset_interval: int, reset_offset: int,
                 window: int | None = None, name: str | None = None) -> None:
        check_clock(reset_interval, reset_offset, window)
        super().__init__(shape=shape, vth=int(vth), mode=mode, act_mode=act_mode, cum_error=bool(cum_error),
                         spike_exp=int(spike_exp), state_exp=int(state_exp), reset_interval=reset_interval,
                         reset_offset=reset_offset, window=window, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        for word in WORDS:
            setattr(self, word, Var(shape=shape, init=0))
        self.bias = Var(shape=shape, init=bias)


@implements(proc=SnnccSigmaDelta, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySnnccSigmaDeltaModel(PyLoihiProcessModel):
    """The family's integer rule on int32 Vars, cleared at the clock's resets."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    sigma: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    act: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    residue: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    error: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.params = {k: proc_params[k] for k in ("mode", "vth", "act_mode", "cum_error", "spike_exp", "state_exp")}
        self.clock = ResetClock(proc_params)

    def run_spk(self) -> None:
        a = self.a_in.recv()
        if self.clock.resets(self.time_step):
            for word in WORDS:
                getattr(self, word)[:] = 0
        state = {w: getattr(self, w).astype(np.int64) for w in WORDS}
        s = sigma_delta_step(state, a, bias=self.bias, **self.params)
        for word in WORDS:
            getattr(self, word)[:] = state[word]
        self.s_out.send(s.astype(np.int32) if self.clock.sends(self.time_step) else np.zeros(s.shape, np.int32))


def build(node: Any, name: str, process: type, clock: Any) -> Any:
    """The Lava process of ``QSigmaDelta`` layer ``name``."""
    return process(shape=(node.size,), vth=node.vth, bias=node.bias.astype(np.int32), mode=node.mode,
                   act_mode=node.act_mode, cum_error=node.cum_error, spike_exp=node.spike_exp,
                   state_exp=node.state_exp, reset_interval=clock.interval, reset_offset=clock.offset,
                   window=clock.window, name=f"sigma_delta:{name}")
