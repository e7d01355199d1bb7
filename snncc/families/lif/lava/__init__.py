"""The LIF family on Lava: stock ``LIFReset`` where it suffices, else snncc's :class:`SnnccLIF`.

:class:`SnnccLIF` is Lava's ``LIFReset`` generalised to every ``QLIF``: hard (``v = 0``) or soft (``v -= vth << 6``)
reset, an optional floor ``v_min`` applied after the update and before the spike test (KLIF), a per-neuron
``v_init`` that the periodic reset restores (``u`` is reset to 0), and a send window. Its sub-threshold step is
Lava's own (``AbstractPyLifModelFixed.subthr_dynamics``); the spike and reset are the family's
:func:`~snncc.families.lif.integer.lif_fire`, the same function the reference simulator runs.

This is a package of its own because Lava looks for a process's models by executing every ``.py`` file of the
process's folder as an anonymous module: here there is none but this one, whose models Lava finds in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc import fixedpoint as fx
from snncc.compat.lava import import_lava
from snncc.errors import GraphError
from snncc.families.lava_clock import ResetClock, check_clock
from snncc.families.lif.integer import SUBTRACT_AFTER_LEAK, lif_fire, lif_threshold

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.ports import PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import AbstractLIF  # noqa: E402

LAVA_FORMAT = fx.NeuronFormat()  # Lava's fixed-point LIF: 24-bit state, 12-bit decays, << 6


class SnnccLIF(AbstractLIF):
    """CUBA LIF with periodic reset to ``v_init``, any ``QLIF`` reset, optional floor ``v_min`` (a ``QLIF``).

    ``LIFReset``'s Vars and ports plus ``v_init`` (per neuron); ``reset``, ``fire_at_threshold``, ``current_bias``
    (per neuron, added to the synaptic input), ``v_min`` (None for no floor), ``reset_interval``, ``reset_offset``
    and ``window`` are process parameters.
    """

    def __init__(self, *, shape: tuple[int, ...], du: int, dv: int, vth: int, bias_mant: np.ndarray | int,
                 bias_exp: np.ndarray | int, reset_interval: int, reset_offset: int, reset: str = "zero",
                 v_min: int | None = None, v_init: np.ndarray | int = 0, window: int | None = None,
                 fire_at_threshold: bool = False, current_bias: np.ndarray | int = 0,
                 name: str | None = None) -> None:
        check_clock(reset_interval, reset_offset, window)
        super().__init__(shape=shape, u=0, v=v_init, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp,
                         name=name, log_config=None, vth=vth, reset_interval=reset_interval,
                         reset_offset=reset_offset, reset=str(reset),
                         v_min=None if v_min is None else int(v_min), window=window,
                         fire_at_threshold=bool(fire_at_threshold),
                         current_bias=np.broadcast_to(np.asarray(current_bias, np.int64), shape).copy())
        self.vth = Var(shape=(1,), init=vth)
        self.v_init = Var(shape=shape, init=v_init)


@implements(proc=SnnccLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySnnccLIFModelFixed(AbstractPyLifModelFixed):
    """``PyLifResetModelBitAcc`` plus the floor, the soft reset, the reset to ``v_init`` and the send window."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    v_init: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.reset = proc_params["reset"]
        self.fire_at_threshold = proc_params["fire_at_threshold"]
        self.current_bias = proc_params["current_bias"]
        self.v_min = proc_params["v_min"]
        self.clock = ResetClock(proc_params)

    def scale_threshold(self) -> None:
        self.isthrscaled = True  # lif_fire scales the threshold

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv() + self.current_bias  # a bias into the current: part of the synaptic input
        if self.clock.resets(self.time_step):
            self.u *= 0
            self.v[:] = self.v_init
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        threshold = lif_threshold(int(self.vth), LAVA_FORMAT, self.fire_at_threshold)
        carried = self.v > threshold if self.reset == SUBTRACT_AFTER_LEAK else None
        self.subthr_dynamics(activation_in=a_in_data)
        if carried is not None:
            self.v[:] = self.v - carried * (int(self.vth) << LAVA_FORMAT.act_shift)
        v, s_out = lif_fire(self.v.astype(np.int64), int(self.vth), self.reset, LAVA_FORMAT, self.v_min,
                            fire_at_threshold=self.fire_at_threshold)
        self.v[:] = v
        self.s_out.send(s_out if self.clock.sends(self.time_step) else np.zeros_like(s_out))


def build(node: Any, name: str, process: type, clock: Any) -> Any:
    """The Lava process of ``QLIF`` layer ``name``: ``process`` is snncc's :class:`SnnccLIF` or Lava's stock
    ``LIFReset`` (hard reset, no floor, no initial voltage, no send window)."""
    lif = {"shape": (node.size,), "du": node.du, "dv": node.dv, "bias_mant": node.bias_mant.astype(np.int32),
           "bias_exp": node.bias_exp.astype(np.int32), "reset_interval": clock.interval,
           "reset_offset": clock.offset}
    if issubclass(process, SnnccLIF):
        return process(vth=node.vth, reset=node.reset, fire_at_threshold=node.fire_at_threshold,
                       current_bias=node.current_bias, v_min=node.v_min,
                       v_init=node.v_init.astype(np.int32), window=clock.window, name=f"lif:{name}", **lif)
    if clock.windowed or not node.stock:
        raise GraphError(f"{process.__name__} cannot run this layer (it needs a send window, a soft reset, a floor "
                         "or an initial voltage); its primitive must be snncc's SnnccLIF", layer=name)
    return process(vth=node.vth, name=f"lif:{name}", **lif)
