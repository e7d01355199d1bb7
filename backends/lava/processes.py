"""Lava processes written by snncc: the custom neurons of the integer IR and file-backed recorders.

* :class:`SnnccLIF` is Lava's ``LIFReset`` generalised to every ``QLIF``: hard (``v = 0``) or soft
  (``v -= vth << 6``) reset, an optional floor ``v_min`` applied after the update and before the spike test
  (KLIF), and a per-neuron ``v_init`` that the periodic reset restores (``u`` is reset to 0).
* :class:`MultiLevelNeuron` is the graded soft-reset neuron of ``QMultiLevel``: it sends the integer payload
  ``z = clip((v + offset) >> theta_exp, 0, levels)`` and subtracts ``z << theta_exp``.
* :class:`ARLIFNeuron` is the integer AR-LIF program of ``QARLIF`` (state ``v`` and reset memory ``m``).
* :class:`SubStepMultiLevelNeuron` is the multi-level neuron on a sub-step clock (``QSubStepMultiLevel``): it sums
  its input over a period, updates at the period's boundary and sends its payload as a burst of binary spikes.
* :class:`FileSink` and :class:`FileProbe` record an OutPort's messages / a Var's value at every step into a
  preallocated array and ``np.save`` it at the last step. Reading results back through ``Var.get()`` or
  ``sink.data.get()`` moves one scalar at a time through the runtime pipe (~20 us per value), which would cost
  more than the simulation itself.

:mod:`snncc.fixedpoint` is the specification of each neuron. The LIF and multi-level models run the sub-threshold
path through Lava's own ``AbstractPyLifModelFixed.subthr_dynamics`` (so its arithmetic is Lava's, not a copy of
the reference's); the AR-LIF program calls the table sigmoid/tanh of :mod:`snncc.fixedpoint`, which are part of
the neuron program's definition.

Every custom neuron resets its state every ``reset_interval`` steps at phase ``reset_offset`` (as ``LIFReset``)
and, when ``window`` is given, sends only in the ``window`` steps that start at each reset (zeros otherwise).
The runner sets ``window = T``: outside its sample's window a layer is silent, as in the reference simulator, so
that a recurrent synapse (or a shallower fan-in path) never carries the previous sample's last spikes, or a
between-sample step's spikes, into a layer's window.

Lava finds a process's models by scanning the directory of the module that defines the process and executing
every ``.py`` file there as a top-level module; the modules of this package therefore use absolute imports only.
"""

from __future__ import annotations

import numpy as np

from snncc import fixedpoint as fx
from snncc.compat.lava import import_lava

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort, PyRefPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort, RefPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import AbstractLIF  # noqa: E402

__all__ = ["ARLIFNeuron", "FileProbe", "FileSink", "MultiLevelNeuron", "PyARLIFModelFixed", "PyFileProbeModel",
           "PyFileSinkModel", "PyMultiLevelModelFixed", "PySnnccLIFModelFixed", "PySubStepMultiLevelModelFixed",
           "SnnccLIF", "SubStepMultiLevelNeuron"]


def _check_clock(reset_interval: int, reset_offset: int, window: int | None) -> None:
    if reset_interval < 1:
        raise ValueError("reset_interval must be >= 1")
    if reset_offset < 0:
        raise ValueError("reset_offset must be >= 0")
    if window is not None and not 1 <= window <= reset_interval:
        raise ValueError(f"window must lie in [1, reset_interval={reset_interval}], got {window}")


class _ResetClock:
    """When a custom neuron resets (``LIFReset``'s rule) and whether it may send (inside its window)."""

    def __init__(self, proc_params: dict) -> None:
        self.interval = int(proc_params["reset_interval"])
        self.offset = int(proc_params["reset_offset"]) % self.interval
        window = proc_params["window"]
        self.window = self.interval if window is None else int(window)

    def resets(self, time_step: int) -> bool:
        return time_step % self.interval == self.offset

    def sends(self, time_step: int) -> bool:
        return (time_step - self.offset) % self.interval < self.window


class SnnccLIF(AbstractLIF):
    """CUBA LIF with periodic reset to ``v_init``, hard or soft reset, optional floor ``v_min`` (a ``QLIF``).

    ``LIFReset``'s Vars and ports plus ``v_init`` (per neuron); ``soft_reset``, ``v_min`` (None for no floor),
    ``reset_interval``, ``reset_offset`` and ``window`` are process parameters.
    """

    def __init__(self, *, shape: tuple[int, ...], du: int, dv: int, vth: int, bias_mant: np.ndarray | int,
                 bias_exp: np.ndarray | int, reset_interval: int, reset_offset: int, soft_reset: bool = False,
                 v_min: int | None = None, v_init: np.ndarray | int = 0, window: int | None = None,
                 name: str | None = None) -> None:
        _check_clock(reset_interval, reset_offset, window)
        super().__init__(shape=shape, u=0, v=v_init, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp,
                         name=name, log_config=None, vth=vth, reset_interval=reset_interval,
                         reset_offset=reset_offset, soft_reset=bool(soft_reset),
                         v_min=None if v_min is None else int(v_min), window=window)
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
        self.effective_vth = 0
        self.soft_reset = bool(proc_params["soft_reset"])
        self.v_min = proc_params["v_min"]
        self.clock = _ResetClock(proc_params)

    def scale_threshold(self) -> None:
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.effective_vth

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        if self.soft_reset:
            self.v[spike_vector] -= self.effective_vth
        else:
            self.v[spike_vector] = 0

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if self.clock.resets(self.time_step):
            self.u *= 0
            self.v[:] = self.v_init
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=a_in_data)
        if self.v_min is not None:
            self.v[:] = np.maximum(self.v, self.v_min)
        s_out = self.spiking_activation()
        self.reset_voltage(spike_vector=s_out)
        self.s_out.send(s_out if self.clock.sends(self.time_step) else np.zeros_like(s_out))


class MultiLevelNeuron(AbstractLIF):
    """Graded soft-reset neuron (a ``QMultiLevel``): LIF sub-threshold path, payload ``z`` in ``0..levels``.

    ``LIF``'s Vars (no ``vth``: the threshold is ``2**theta_exp``); ``theta_exp``, ``offset``, ``levels``,
    ``reset_interval``, ``reset_offset`` and ``window`` are process parameters. ``s_out`` carries int32 payloads:
    connect it to a ``Dense`` with ``num_message_bits > 0``.
    """

    def __init__(self, *, shape: tuple[int, ...], du: int, dv: int, bias_mant: np.ndarray | int,
                 bias_exp: np.ndarray | int, theta_exp: int, offset: int, levels: int, reset_interval: int,
                 reset_offset: int, window: int | None = None, name: str | None = None) -> None:
        _check_clock(reset_interval, reset_offset, window)
        if levels < 1 or theta_exp < 0:
            raise ValueError(f"need levels >= 1 and theta_exp >= 0, got {levels} and {theta_exp}")
        super().__init__(shape=shape, u=0, v=0, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp, name=name,
                         log_config=None, theta_exp=int(theta_exp), offset=int(offset), levels=int(levels),
                         reset_interval=reset_interval, reset_offset=reset_offset, window=window)


class _MultiLevelSpiking(AbstractPyLifModelFixed):
    """The multi-level neuron's spike rule on Lava's fixed-point LIF: ``z`` from ``v`` and the reset
    ``v -= z << k`` (a base for the graded and the sub-step models; Lava allows one Process per decorated model)."""

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.theta_exp = int(proc_params["theta_exp"])
        self.offset = int(proc_params["offset"])
        self.levels = int(proc_params["levels"])
        self.clock = _ResetClock(proc_params)

    def scale_threshold(self) -> None:
        self.isthrscaled = True  # the threshold is the shift theta_exp; nothing to scale

    def spiking_activation(self) -> np.ndarray:
        z = np.right_shift(self.v.astype(np.int64) + self.offset, self.theta_exp)  # arithmetic: floor
        return np.clip(z, 0, self.levels).astype(np.int32)

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        self.v[:] = self.v.astype(np.int64) - np.left_shift(spike_vector.astype(np.int64), self.theta_exp)



@implements(proc=MultiLevelNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyMultiLevelModelFixed(_MultiLevelSpiking):
    """Lava's fixed-point LIF sub-threshold path, then the graded spike ``z`` and the reset ``v -= z << k``."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if self.clock.resets(self.time_step):
            self.u *= 0
            self.v *= 0
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=a_in_data)
        z = self.spiking_activation()
        self.reset_voltage(spike_vector=z)
        self.s_out.send(z if self.clock.sends(self.time_step) else np.zeros_like(z))


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
        _check_clock(reset_interval, reset_offset, window)
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
class PySubStepMultiLevelModelFixed(_MultiLevelSpiking):
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
            if self.clock.resets(self.time_step):
                self.u *= 0
                self.v *= 0
            self.scale_bias()
            if not self.isthrscaled:
                self.scale_threshold()
            self.subthr_dynamics(activation_in=fx.shift_floor(self.period_sum, self.input_exp).astype(np.int32))
            z = self.spiking_activation()
            self.reset_voltage(spike_vector=z)
            self.pending[:] = z
            self.period_sum[:] = 0
        spikes, pending = fx.burst_step(self.pending)
        self.pending[:] = pending
        self.s_out.send(spikes if self.clock.sends(self.time_step) else np.zeros_like(spikes))


class ARLIFNeuron(AbstractProcess):
    """The integer AR-LIF program (a ``QARLIF``): voltage ``v``, reset memory ``m``, binary spikes.

    Vars ``v``, ``m``, ``bias`` (per neuron, Q12, added unshifted), ``gain`` (per neuron) and ``dv``, ``vth``,
    ``amp``, ``gate`` (one per population); ``reset_interval``, ``reset_offset``, ``window`` and ``input_shift``
    are process parameters. The input current is ``x = round(a * gain * 2**input_shift) + bias``.
    """

    def __init__(self, *, shape: tuple[int, ...], dv: int, vth: int, amp: int, gate: int, bias: np.ndarray | int,
                 reset_interval: int, reset_offset: int, window: int | None = None, input_shift: int = 6,
                 input_gain: np.ndarray | int = 1, name: str | None = None) -> None:
        _check_clock(reset_interval, reset_offset, window)
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
    """One step of the AR-LIF neuron program: leak and charge, input-dependent threshold, spike, gated memory
    leak, memory integration, adaptive soft reset (the order of :func:`snncc.fixedpoint.arlif_step`)."""

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
        self.clock = _ResetClock(proc_params)
        self.decay_shift = 12
        self.input_shift = int(proc_params["input_shift"])
        self.state_max = (1 << 23) - 1

    def saturate(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, -self.state_max, self.state_max)

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if self.clock.resets(self.time_step):
            self.v *= 0
            self.m *= 0
        one = fx.ARLIF_ONE
        x = fx.arlif_input(a_in_data, self.gain, self.input_shift, self.bias)
        decayed = np.int64(self.v) * ((1 << self.decay_shift) - np.int64(self.dv))
        decayed = np.sign(decayed) * np.right_shift(np.abs(decayed), self.decay_shift)  # toward zero, as Lava's LIF
        v = self.saturate(decayed + x)
        thr = np.int64(self.vth) + fx.mul_q(self.amp, fx.tanh_q(x))
        s = v > thr
        g = fx.sigmoid_q(fx.mul_q(self.gate, x))
        m = self.m.astype(np.int64)
        m = fx.mul_q(np.maximum(m, 0), g) + fx.mul_q(np.minimum(m, 0), one - g)
        m = self.saturate(m + np.where(s, 1, -1) * fx.sigmoid_q(x))
        v = self.saturate(np.where(s, v - (thr + fx.sigmoid_q(m)), v))
        self.v[:] = v
        self.m[:] = m
        self.s_out.send(s if self.clock.sends(self.time_step) else np.zeros_like(s))


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
