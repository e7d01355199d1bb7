"""Sinabs 3.1: IAF and LIF networks exported by ``sinabs.nir.to_nir`` (tau in time steps, exact exponential decay,
``norm_input``, subtract reset, ``v >= threshold``). Sinabs's default spike function, MultiSpike, emits several
spikes per step, which NIR cannot say (``--max-spikes``); most cases use SingleSpike, two MultiSpike. Per-neuron
thresholds (a scalar threshold with a per-neuron tau fails the exporter's shape check). The conv export leaves the
convolution's input shape to inference, so its types are inferred before ``nir.write``, as a user must."""

from __future__ import annotations

from pathlib import Path

import nir
import sinabs.layers as sl
import torch
from sinabs.activation import MembraneReset, MultiSpike, SingleSpike
from sinabs.nir import to_nir

from .case import BATCH, LibraryCase, bernoulli, quiet, seeded, time_major_to_batch_major


def _neuron(kind: str, shape: tuple[int, ...], tau: float, to_zero: bool, multi: bool) -> torch.nn.Module:
    """Squeeze layers (time folded into the batch), as Sinabs uses them in a Sequential with convolutions."""
    fn = {"reset_fn": MembraneReset()} if to_zero else {}
    fn["spike_fn"] = MultiSpike if multi else SingleSpike
    if kind == "iaf":
        return sl.IAFSqueeze(spike_threshold=torch.ones(shape), batch_size=BATCH, **fn)
    return sl.LIFSqueeze(tau_mem=torch.full(shape, tau), spike_threshold=torch.ones(shape), batch_size=BATCH, **fn)


def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` (T, batch, ...) -> spikes (T, batch, ...); Sinabs takes (batch * T, ...), batch-major."""
    for m in net.modules():
        if isinstance(m, (sl.IAF, sl.LIF)):
            m.reset_states()
    steps, batch = x.shape[:2]
    with torch.no_grad():
        out = net(x.transpose(0, 1).reshape(batch * steps, *x.shape[2:]))
    return out.reshape(batch, steps, *out.shape[1:]).transpose(0, 1)


@quiet
def build(tmp: Path, kind: str, neuron: str, to_zero: bool = False, multi: bool = False) -> LibraryCase:
    seeded(4)
    if kind == "dense":
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), _neuron(neuron, (16,), 5.0, to_zero, multi),
                                  torch.nn.Linear(16, 4), _neuron(neuron, (4,), 10.0, to_zero, multi))
        x = bernoulli((8,))
    else:
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), _neuron(neuron, (4, 6, 6), 5.0, to_zero, multi),
                                  sl.SumPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 5),
                                  _neuron(neuron, (5,), 5.0, to_zero, multi))
        x = bernoulli((1, 8, 8))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_((15.0 if kind == "dense" else 8.0) if neuron == "lif" else 3.0 if multi else 1.0)
    spikes = _run(net, x)
    name = f"{kind}-{neuron}{'-reset' if to_zero else ''}{'-multispike' if multi else ''}"
    path = tmp / f"sinabs_{name}.nir"
    graph = to_nir(net, x[0])  # one step of each sample: (batch, ...)
    if kind == "conv":  # the export leaves Conv2d input_shape None, which nir.write cannot write
        graph.infer_types()
    nir.write(path, graph)
    flags = {"max_spikes": MULTI_CAP if multi else 1, **({"reset": "zero"} if to_zero else {})}
    return LibraryCase("sinabs", name, path, time_major_to_batch_major(x), time_major_to_batch_major(spikes), flags)


CASES = {f"{kind}-{neuron}": (lambda tmp, k=kind, n=neuron: build(tmp, k, n))
         for kind in ("dense", "conv") for neuron in ("iaf", "lif")}
CASES["dense-lif-reset"] = lambda tmp: build(tmp, "dense", "lif", to_zero=True)  # reset_fn=MembraneReset()
CASES["dense-iaf-multispike"] = lambda tmp: build(tmp, "dense", "iaf", multi=True)  # Sinabs's default spike_fn
CASES["conv-lif-multispike"] = lambda tmp: build(tmp, "conv", "lif", multi=True)
MULTI_CAP = 15  # --max-spikes for the MultiSpike cases (MultiSpike has no cap; these networks stay below it)
