"""The AR-LIF family on Lava: snncc's :class:`ARLIFNeuron` process, running the family's integer program.

Its ProcessModel runs :func:`~snncc.families.arlif.integer.arlif_step`, the same function the reference simulator
runs, on the process's Vars ``v`` and ``m`` (the reset memory), with the reset clock and send window every custom
neuron has (:mod:`snncc.families.lava_clock`). A package of its own: Lava looks for a process's models by executing
every ``.py`` file of the process's folder as an anonymous module, and here there is none but this one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc import fixedpoint as fx
from snncc.compat.lava import import_lava
from snncc.families.arlif.integer import arlif_input, arlif_step
from snncc.families.lava_clock import ResetClock, check_clock

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

LAVA_FORMAT = fx.DEFAULT_FORMAT


class ARLIFNeuron(AbstractProcess):
    """The integer AR-LIF program (a ``QARLIF``): voltage ``v``, reset memory ``m``, binary spikes.

    Vars ``v``, ``m``, ``bias`` (per neuron, Q12, added unshifted), ``gain`` (per neuron) and ``dv``, ``vth``,
    ``amp``, ``gate`` (one per population); ``reset_interval``, ``reset_offset``, ``window`` and ``input_shift``
    are process parameters. The input current is ``x = round(a * gain * 2**input_shift) + bias``.
    """

    def __init__(self, *, shape: tuple[int, ...], dv: int, vth: int, amp: int, gate: int, bias: np.ndarray | int,
                 reset_interval: int, reset_offset: int, window: int | None = None, input_shift: int = 6,
                 input_gain: np.ndarray | int = 1, name: str | None = None) -> None:
        check_clock(reset_interval, reset_offset, window)
        super().__init__(shape=shape, reset_interval=reset_interval, reset_offset=reset_offset, window=window,
                         input_shift=int(input_shift), name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v = Var(shape=shape, init=0)
        self.m = Var(shape=shape, init=0)
        self.bias = Var(shape=shape, init=bias)
        self.gain = Var(shape=shape, init=input_gain)
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.amp = Var(shape=(1,), init=amp)
        self.gate = Var(shape=(1,), init=gate)


@implements(proc=ARLIFNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyARLIFModelFixed(PyLoihiProcessModel):
    """One step of the AR-LIF neuron program (:func:`arlif_step`) per time step."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    m: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32)
    gain: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=12)
    dv: int = LavaPyType(int, np.int32, precision=12)
    vth: int = LavaPyType(int, np.int32)
    amp: int = LavaPyType(int, np.int32)
    gate: int = LavaPyType(int, np.int32)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.clock = ResetClock(proc_params)
        self.input_shift = int(proc_params["input_shift"])

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if self.clock.resets(self.time_step):
            self.v *= 0
            self.m *= 0
        x = arlif_input(a_in_data, self.gain, self.input_shift, self.bias)
        v, m, s = arlif_step(self.v, self.m, x, int(self.dv), int(self.vth), int(self.amp), int(self.gate),
                             LAVA_FORMAT)
        self.v[:] = v
        self.m[:] = m
        self.s_out.send(s if self.clock.sends(self.time_step) else np.zeros_like(s))


def build(node: Any, name: str, process: type, clock: Any) -> Any:
    """The Lava process of ``QARLIF`` layer ``name``."""
    return process(shape=(node.size,), dv=node.dv, vth=node.vth, amp=node.amp, gate=node.gate,
                   bias=node.bias.astype(np.int32), input_shift=node.input_shift,
                   input_gain=node.input_gain.astype(np.int32), window=clock.window, name=f"arlif:{name}",
                   reset_interval=clock.interval, reset_offset=clock.offset)
