"""Lava processes written by snncc: a soft-reset LIF and file-backed recorders.

* :class:`SoftResetLIF` is Lava's ``LIFReset`` with a subtractive reset (``v -= vth << 6`` on a spike), the
  ``reset='subtract'`` QLIF. Its only model is fixed point and mirrors ``PyLifResetModelBitAcc`` line for line;
  :func:`snncc.fixedpoint.lif_step` is its specification.
* :class:`FileSink` and :class:`FileProbe` record an OutPort's messages / a Var's value at every step into a
  preallocated array and ``np.save`` it at the last step. Reading results back through ``Var.get()`` or
  ``sink.data.get()`` moves one scalar at a time through the runtime pipe (~20 us per value), which would cost
  more than the simulation itself.

Lava finds a process's models by scanning the directory of the module that defines the process and executing
every ``.py`` file there as a top-level module; the modules of this package therefore use absolute imports only.
"""

from __future__ import annotations

import numpy as np

from snncc.compat.lava import import_lava

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort, PyRefPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, RefPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import LIFReset  # noqa: E402

__all__ = ["FileProbe", "FileSink", "PyFileProbeModel", "PyFileSinkModel", "PySoftResetLIFModelFixed",
           "SoftResetLIF"]


class SoftResetLIF(LIFReset):
    """``LIFReset`` (same Vars, ports and arguments) whose spike subtracts the threshold instead of zeroing v."""


@implements(proc=SoftResetLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySoftResetLIFModelFixed(AbstractPyLifModelFixed):
    """``PyLifResetModelBitAcc`` with ``v[s] -= vth << 6``: same periodic state reset, same sub-threshold path."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.effective_vth = 0
        self.reset_interval = proc_params["reset_interval"]
        self.reset_offset = proc_params["reset_offset"] % self.reset_interval

    def scale_threshold(self) -> None:
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.effective_vth

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        self.v[spike_vector] -= self.effective_vth

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if (self.time_step % self.reset_interval) == self.reset_offset:
            self.u *= 0
            self.v *= 0
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=a_in_data)
        s_out = self.spiking_activation()
        self.reset_voltage(spike_vector=s_out)
        self.s_out.send(s_out)


class FileSink(AbstractProcess):
    """Records what arrives at ``a_in`` in each of ``num_steps`` steps; saves a (num_steps, *shape) .npy at the end.

    ``dtype`` is the array's numpy dtype name (``int8`` suffices for binary spikes).
    """

    def __init__(self, *, shape: tuple[int, ...], num_steps: int, path: str, dtype: str = "int32",
                 name: str | None = None) -> None:
        super().__init__(shape=shape, num_steps=num_steps, path=path, dtype=dtype, name=name)
        self.a_in = InPort(shape=shape)


@implements(proc=FileSink, protocol=LoihiProtocol)
@requires(CPU)
class PyFileSinkModel(PyLoihiProcessModel):
    """Untagged (like Lava's Monitor), so it is selected under any ``select_tag``."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.num_steps = int(proc_params["num_steps"])
        self.path = proc_params["path"]
        self.buffer = np.zeros((self.num_steps, *proc_params["shape"]), dtype=proc_params["dtype"])

    def run_spk(self) -> None:
        data = self.a_in.recv()
        if self.time_step <= self.num_steps:
            self.buffer[self.time_step - 1] = data
        if self.time_step == self.num_steps:
            np.save(self.path, self.buffer)


class FileProbe(AbstractProcess):
    """Reads ``var`` after the spike phase of each of ``num_steps`` steps (as Lava's Monitor does, through a RefPort
    in post-management) and saves a (num_steps, *var.shape) int64 .npy at the end."""

    def __init__(self, *, var: Var, num_steps: int, path: str, name: str | None = None) -> None:
        super().__init__(shape=var.shape, num_steps=num_steps, path=path, name=name)
        self.ref = RefPort(shape=var.shape)
        self.ref.connect_var(var)


@implements(proc=FileProbe, protocol=LoihiProtocol)
@requires(CPU)
class PyFileProbeModel(PyLoihiProcessModel):
    ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.num_steps = int(proc_params["num_steps"])
        self.path = proc_params["path"]
        self.buffer = np.zeros((self.num_steps, *proc_params["shape"]), dtype=np.int64)

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        data = self.ref.read()
        if self.time_step <= self.num_steps:
            self.buffer[self.time_step - 1] = data
        if self.time_step == self.num_steps:
            np.save(self.path, self.buffer)

