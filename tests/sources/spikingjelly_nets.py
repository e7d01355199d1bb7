"""SpikingJelly 2.0: LIFNode networks (hard reset, the default ``decay_input``) exported by
``nir_exchange.to_nir.export_to_nir`` at its default dt = 1e-4 (tau is written as tau_steps * dt)."""

from __future__ import annotations

from pathlib import Path

import nir
import torch
from spikingjelly.activation_based import functional, neuron
from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

from .case import LibraryCase, bernoulli, quiet, seeded, time_major_to_batch_major


def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    functional.reset_net(net)
    with torch.no_grad():
        return torch.stack([net(x[t]) for t in range(x.shape[0])])


@quiet
def build(tmp: Path, kind: str) -> LibraryCase:
    seeded(3)
    if kind in ("dense", "dense-no-decay-input"):
        decay_input = kind == "dense"
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), neuron.LIFNode(tau=2.0, decay_input=decay_input),
                                  torch.nn.Linear(16, 4), neuron.LIFNode(tau=4.0, decay_input=decay_input))
        x = bernoulli((8,))
    else:
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), neuron.LIFNode(tau=2.0), torch.nn.AvgPool2d(2),
                                  torch.nn.Flatten(), torch.nn.Linear(36, 5), neuron.LIFNode(tau=2.0))
        x = bernoulli((1, 8, 8))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_({"dense": 10.0, "conv": 16.0}.get(kind, 4.0))
    spikes = _run(net, x)
    functional.reset_net(net)
    path = tmp / f"spikingjelly_{kind}.nir"
    nir.write(path, export_to_nir(net, x[0]))
    return LibraryCase("spikingjelly", kind, path, time_major_to_batch_major(x), time_major_to_batch_major(spikes))


CASES = {kind: (lambda tmp, k=kind: build(tmp, k)) for kind in ("dense", "conv", "dense-no-decay-input")}
