"""The sub-step primitive on Lava: snncc's :class:`SubStepMultiLevelNeuron` (a ``QSubStepMultiLevel``).

It sums ``a_in`` over a period of ``substeps`` steps; at the period's boundary it runs Lava's fixed-point LIF
sub-threshold step on the sum scaled by ``input_exp`` and the multi-level family's spike rule, and loads the payload
``z`` into a burst; every step it sends the burst's next binary spike (:func:`~snncc.families.substep.nodes.
burst_step`). A package of its own: Lava looks for a process's models by executing every ``.py`` file of the
process's folder as an anonymous module, and here there is none but this one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc import fixedpoint as fx
from snncc.compat.lava import import_lava
from snncc.families.lava_clock import check_clock
from snncc.families.multilevel.lava import MultiLevelSpiking
from snncc.families.substep.nodes import burst_step

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.ports import PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.process import AbstractLIF  # noqa: E402


class SubStepMultiLevelNeuron(AbstractLIF):
    """A ``QSubStepMultiLevel``: the multi-level neuron's update once per period of ``substeps`` steps, on the sum of
    the period's input, and its payload ``z`` sent as ``z`` binary spikes from the boundary on.

    ``LIF``'s Vars (no ``vth``) plus ``pending`` (spikes of the burst still to send); ``theta_exp``, ``offset``,
    ``levels``, ``substeps``, ``input_exp`` (applied to the period's sum) and the clock parameters are process
    parameters. Boundaries are the 1-based steps ``1, 1 + substeps, ...``; ``reset_offset`` must be one of them.
    """

    def __init__(self, *, shape: tuple[int, ...], du: int, dv: int, bias_mant: np.ndarray | int,
                 bias_exp: np.ndarray | int, theta_exp: int, offset: int, levels: int, substeps: int,
                 input_exp: int, reset_interval: int, reset_offset: int, window: int | None = None,
                 name: str | None = None) -> None:
        check_clock(reset_interval, reset_offset, window)
        if levels < 1 or theta_exp < 0 or substeps < levels:
            raise ValueError(f"need 1 <= levels <= substeps and theta_exp >= 0, got levels {levels}, substeps "
                             f"{substeps}, theta_exp {theta_exp}")
        if reset_interval % substeps or (reset_offset - 1) % substeps:
            raise ValueError("reset_interval must be a multiple of substeps and reset_offset a boundary step")
        super().__init__(shape=shape, u=0, v=0, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp, name=name,
                         log_config=None, theta_exp=int(theta_exp), offset=int(offset), levels=int(levels),
                         substeps=int(substeps), input_exp=int(input_exp), reset_interval=reset_interval,
                         reset_offset=reset_offset, window=window)
        self.pending = Var(shape=shape, init=0)


@implements(proc=SubStepMultiLevelNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySubStepMultiLevelModelFixed(MultiLevelSpiking):
    """Sums ``a_in`` over the period; at a boundary runs the multi-level step (Lava's sub-threshold path) on the
    sum scaled by ``input_exp``; every step sends one spike of the pending burst."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    pending: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.substeps = int(proc_params["substeps"])
        self.input_exp = int(proc_params["input_exp"])
        self.period_sum = np.zeros(proc_params["shape"], dtype=np.int64)

    def run_spk(self) -> None:
        self.period_sum += self.a_in.recv()
        if (self.time_step - 1) % self.substeps == 0:
            self.pending[:] = self.update(fx.shift_floor(self.period_sum, self.input_exp).astype(np.int32))
            self.period_sum[:] = 0
        spikes, pending = burst_step(self.pending)
        self.pending[:] = pending
        self.s_out.send(spikes if self.clock.sends(self.time_step) else np.zeros_like(spikes))


def build(node: Any, name: str, process: type, clock: Any) -> Any:
    """The Lava process of ``QSubStepMultiLevel`` layer ``name`` (``clock`` in target steps)."""
    return process(shape=(node.size,), du=node.du, dv=node.dv, bias_mant=node.bias_mant.astype(np.int32),
                   bias_exp=node.bias_exp.astype(np.int32), theta_exp=node.theta_exp, offset=node.offset,
                   levels=node.levels, substeps=node.substeps, input_exp=node.input_exp,
                   reset_interval=clock.interval, reset_offset=clock.offset, window=clock.window,
                   name=f"substep:{name}")
