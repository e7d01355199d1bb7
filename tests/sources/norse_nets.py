"""Norse 1.1: LIFBoxCell (LIF) and LIFCell (CubaLIF) networks exported raw by ``norse.torch.to_nir``, with the
export's three bugs left in: the batch dimension in Input/Output, ``tau = dt * tau_mem`` (norse#411) and the
CubaLIF ``w_in = 1`` that stands for Norse's current jump. Norse 1.1 exports no pooling and no Flatten, so the
conv case is conv -> LIF -> conv -> LIF. Scalar parameters make files ``nir.write`` cannot write (h5py refuses
gzip on scalars), so parameters are per neuron. The raw conv export can be neither written (``input_shape=None``)
nor type-inferred with its batch dimension; as a user must, it is exported from one unbatched sample and its types
inferred before ``nir.write``. The synapses have biases (into the LIFCell's decaying current too)."""

from __future__ import annotations

from pathlib import Path

import nir
import torch
from norse.torch import LIFBoxCell, LIFBoxParameters, LIFCell, LIFParameters, SequentialState, to_nir
from norse.torch.functional.reset import reset_subtract, reset_value

from .case import LibraryCase, bernoulli, quiet, seeded, time_major_to_batch_major


def _cell(cuba: bool, tau_mem: float, shape: tuple[int, ...], subtract: bool = False) -> torch.nn.Module:
    def full(v: float) -> torch.Tensor:
        return torch.full(shape, v)
    if cuba:
        return LIFCell(LIFParameters(tau_mem_inv=full(1 / tau_mem), tau_syn_inv=full(1 / 5e-3), v_leak=full(0.0),
                                     v_th=full(1.0), v_reset=full(0.0)))
    return LIFBoxCell(LIFBoxParameters(tau_mem_inv=full(1 / tau_mem), v_leak=full(0.0), v_th=full(1.0),
                                       v_reset=full(0.0), reset_method=reset_subtract if subtract else reset_value))


def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            z, state = net(x[t], state)
            out.append(z)
    return torch.stack(out)


@quiet
def build(tmp: Path, kind: str, cuba: bool, subtract: bool = False) -> LibraryCase:
    seeded(2)
    if kind == "dense":
        net = SequentialState(torch.nn.Linear(8, 16), _cell(cuba, 5e-3, (16,), subtract), torch.nn.Linear(16, 4),
                              _cell(cuba, 1e-2, (4,), subtract))
        x, gain = bernoulli((8,)), 20.0 if not cuba else 4.0
    else:
        net = SequentialState(torch.nn.Conv2d(1, 4, 3), _cell(cuba, 5e-3, (4, 6, 6)), torch.nn.Conv2d(4, 2, 3),
                              _cell(cuba, 1e-2, (2, 4, 4)))
        x, gain = bernoulli((1, 8, 8)), 12.0 if not cuba else 4.0
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(gain)
    spikes = _run(net, x)
    if kind == "dense":
        graph = to_nir(net, x[0])
    else:
        graph = to_nir(net, x[0, 0])
        graph.infer_types()
    name = f"{kind}-{'lifcell' if cuba else 'lifbox'}{'-subtract' if subtract else ''}"
    path = tmp / f"norse_{name}.nir"
    nir.write(path, graph)
    return LibraryCase("norse", name, path, time_major_to_batch_major(x), time_major_to_batch_major(spikes),
                       {"reset": "subtract"} if subtract else {})


CASES = {f"{kind}-{'lifcell' if cuba else 'lifbox'}": (lambda tmp, k=kind, c=cuba: build(tmp, k, c))
         for kind in ("dense", "conv") for cuba in (False, True)}
CASES["dense-lifbox-subtract"] = lambda tmp: build(tmp, "dense", False, subtract=True)  # reset_method=reset_subtract
