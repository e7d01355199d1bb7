"""The signed relay on Lava: :class:`SignedRelay`, a memoryless neuron process re-emitting its summed input.

lava-nc's stock ``lava.proc.graded.GradedVec`` with ``vth=0`` sends the same values, but it has no reset clock or
send window, and it clears its ``v`` before a probe can read it; this process runs the family's own rule
(:func:`~snncc.families.partial_sum.integer.relay_step`, the function the reference simulator runs), keeps the value
it sent in ``v`` (``u`` stays 0) and sends only inside the clock's window, like every custom neuron of the families.
``s_out`` carries int32 payloads: connect it to a ``Dense``/``Sparse``/``Conv`` with ``num_message_bits > 0`` (a
binary relay's 0/1 payloads read the same through a binary synapse). A package of its own: Lava executes every
``.py`` file beside a process while looking for its models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.compat.lava import import_lava
from snncc.families.lava_clock import ResetClock, check_clock
from snncc.families.partial_sum.integer import relay_step

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


class SignedRelay(AbstractProcess):
    """A ``QRelay`` layer: Vars ``u`` (0) and ``v`` (the value sent); the clock is a process parameter."""

    def __init__(self, *, shape: tuple[int, ...], reset_interval: int, reset_offset: int, window: int | None = None,
                 name: str | None = None) -> None:
        check_clock(reset_interval, reset_offset, window)
        super().__init__(shape=shape, reset_interval=reset_interval, reset_offset=reset_offset, window=window,
                         name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=0)


@implements(proc=SignedRelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySignedRelayModel(PyLoihiProcessModel):
    """The family's relay rule on int32 Vars, sending inside the clock's window only."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.clock = ResetClock(proc_params)

    def run_spk(self) -> None:
        a = self.a_in.recv()
        if self.clock.resets(self.time_step):
            self.v[:] = 0
        self.v[:] = relay_step(a)
        s = self.v.astype(np.int32) if self.clock.sends(self.time_step) else np.zeros(self.v.shape, np.int32)
        self.s_out.send(s)


def build(node: Any, name: str, process: type, clock: Any) -> Any:
    """The Lava process of ``QRelay`` layer ``name``."""
    return process(shape=(node.size,), reset_interval=clock.interval, reset_offset=clock.offset,
                   window=clock.window, name=f"relay:{name}")
