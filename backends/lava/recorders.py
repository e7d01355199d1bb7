"""File-backed recorders for Lava runs: :class:`FileSink` (an OutPort's messages) and :class:`FileProbe` (a Var).

Each records into a preallocated array at every step and ``np.save``s it at the last step. Reading results back
through ``Var.get()`` or ``sink.data.get()`` moves one scalar at a time through the runtime pipe (~20 us per value),
which would cost more than the simulation itself. Lava executes the files of this folder as top-level modules when it
looks for process models: absolute imports only.
"""

from __future__ import annotations

import numpy as np

from snncc.compat.lava import import_lava

import_lava()

from lava.magma.core.decorator import implements, requires  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyRefPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, RefPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402

__all__ = ["FileProbe", "FileSink", "PyFileProbeModel", "PyFileSinkModel"]


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
