"""The multi-level family on Lava: snncc's :class:`MultiLevelNeuron`, the graded soft-reset neuron of a
``QMultiLevel``.

Its sub-threshold step is Lava's own fixed-point LIF's (``AbstractPyLifModelFixed.subthr_dynamics``); the graded
spike ``z = clip((v + offset) >> theta_exp, 0, levels)`` and the reset ``v -= z << theta_exp`` are the family's
:func:`~snncc.families.multilevel.integer.multilevel_fire`, the function the reference simulator runs. ``s_out``
carries int32 payloads: connect it to a ``Dense`` with ``num_message_bits > 0``. A package of its own: Lava looks for
a process's models by executing every ``.py`` file of the process's folder as an anonymous module, and here there is
none but this one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.compat.lava import import_lava
from snncc.families.lava_clock import ResetClock, check_clock
from snncc.families.multilevel.integer import multilevel_fire

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.ports import PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import AbstractLIF  # noqa: E402


class MultiLevelNeuron(AbstractLIF):
    """Graded soft-reset neuron (a ``QMultiLevel``): LIF sub-threshold path, payload ``z`` in ``0..levels``.

    ``LIF``'s Vars (no ``vth``: the threshold is ``2**theta_exp``); ``theta_exp``, ``offset``, ``levels``,
    ``reset_interval``, ``reset_offset`` and ``window`` are process parameters.
    """

    def __init__(self, *, shape: tuple[int, ...], du: int, dv: int, bias_mant: np.ndarray | int,
                 bias_exp: np.ndarray | int, theta_exp: int, offset: int, levels: int, reset_interval: int,
                 reset_offset: int, window: int | None = None, name: str | None = None) -> None:
        check_clock(reset_interval, reset_offset, window)
        if levels < 1 or theta_exp < 0:
            raise ValueError(f"need levels >= 1 and theta_exp >= 0, got {levels} and {theta_exp}")
        super().__init__(shape=shape, u=0, v=0, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp, name=name,
                         log_config=None, theta_exp=int(theta_exp), offset=int(offset), levels=int(levels),
                         reset_interval=reset_interval, reset_offset=reset_offset, window=window)


class MultiLevelSpiking(AbstractPyLifModelFixed):
    """The multi-level spike rule on Lava's fixed-point LIF (a base for the graded and the sub-step models; Lava
    allows one Process per decorated model)."""

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.theta_exp = int(proc_params["theta_exp"])
        self.offset = int(proc_params["offset"])
        self.levels = int(proc_params["levels"])
        self.clock = ResetClock(proc_params)

    def scale_threshold(self) -> None:
        self.isthrscaled = True  # the threshold is the shift theta_exp; nothing to scale

    def fire(self) -> np.ndarray:
        """The graded spike and the soft reset on the state after the sub-threshold step; returns ``z``."""
        v, z = multilevel_fire(self.v.astype(np.int64), self.theta_exp, self.offset, self.levels)
        self.v[:] = v
        return z.astype(np.int32)

    def update(self, activation_in: np.ndarray) -> np.ndarray:
        """One compartment step on ``activation_in`` (the state cleared first at the clock's resets), then the
        graded spike; returns ``z``."""
        if self.clock.resets(self.time_step):
            self.u *= 0
            self.v *= 0
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=activation_in)
        return self.fire()


@implements(proc=MultiLevelNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyMultiLevelModelFixed(MultiLevelSpiking):
    """Lava's fixed-point LIF sub-threshold path, then the graded spike ``z`` and the reset ``v -= z << k``."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def run_spk(self) -> None:
        z = self.update(self.a_in.recv())
        self.s_out.send(z if self.clock.sends(self.time_step) else np.zeros_like(z))


def build(node: Any, name: str, process: type, clock: Any) -> Any:
    """The Lava process of ``QMultiLevel`` layer ``name``."""
    return process(shape=(node.size,), du=node.du, dv=node.dv, bias_mant=node.bias_mant.astype(np.int32),
                   bias_exp=node.bias_exp.astype(np.int32), theta_exp=node.theta_exp, offset=node.offset,
                   levels=node.levels, window=clock.window, name=f"multilevel:{name}",
                   reset_interval=clock.interval, reset_offset=clock.offset)
