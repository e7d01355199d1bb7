"""snnTorch 1.0: Leaky networks exported by ``snntorch.export_nir.export_to_nir`` (per-neuron beta and threshold:
scalar ones fail nir 1.0.8's type check, snntorch#410)."""

from __future__ import annotations

from pathlib import Path

import nir
import snntorch as snn
import torch
from snntorch import utils
from snntorch.export_nir import export_to_nir

from .case import LibraryCase, bernoulli, quiet, seeded, time_major_to_batch_major


def _leaky(shape: tuple[int, ...], beta: float, reset: str, output: bool = False) -> snn.Leaky:
    return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.ones(shape), init_hidden=True,
                     reset_mechanism=reset, output=output)


def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    utils.reset(net)
    with torch.no_grad():
        return torch.stack([net(x[t])[0] for t in range(x.shape[0])])


@quiet
def build(tmp: Path, kind: str, reset: str) -> LibraryCase:
    seeded(1)
    if kind == "dense":
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), _leaky((16,), 0.9, reset), torch.nn.Linear(16, 4),
                                  _leaky((4,), 0.8, reset, output=True))
        x = bernoulli((8,))
    else:
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), _leaky((4, 6, 6), 0.9, reset), torch.nn.AvgPool2d(2),
                                  torch.nn.Flatten(), torch.nn.Linear(36, 5), _leaky((5,), 0.8, reset, output=True))
        x = bernoulli((1, 8, 8))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(3.0 if kind == "dense" else 5.0)
    spikes = _run(net, x)
    path = tmp / f"snntorch_{kind}_{reset}.nir"
    nir.write(path, export_to_nir(net, x[0], ignore_dims=[0]))
    flags = {} if reset == "subtract" else {"reset": "zero"}
    return LibraryCase("snntorch", f"{kind}-{reset}", path, time_major_to_batch_major(x),
                       time_major_to_batch_major(spikes), flags)


class _Recurrent(torch.nn.Module):
    """Linear -> a recurrent layer (exported as a nested graph with a cycle, ``lif`` <-> ``w_rec``) -> Linear ->
    Leaky: RLeaky with all-to-all recurrent weights or with one weight per neuron (``all_to_all=False``, exported as
    a diagonal Linear), or RSynaptic (a CubaLIF in the loop: the feedback enters the decaying current)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 12)
        common = {"beta": torch.full((12,), 0.9), "threshold": torch.ones(12), "init_hidden": True}
        if kind == "dense-rsynaptic":
            self.lif = snn.RSynaptic(alpha=torch.full((12,), 0.6), linear_features=12, **common)
        elif kind == "dense-rleaky-self":  # one recurrent weight per neuron
            self.lif = snn.RLeaky(all_to_all=False, V=torch.linspace(-1.5, 1.5, 12), **common)
        else:
            self.lif = snn.RLeaky(linear_features=12, **common)
        self.fc2 = torch.nn.Linear(12, 4)
        self.out = _leaky((4,), 0.8, "subtract", output=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.out(self.fc2(self.lif(self.fc(x))))


@quiet
def build_recurrent(tmp: Path, kind: str) -> LibraryCase:
    """snnTorch's RLeaky / RSynaptic with their default subtract reset (reset_mechanism="zero" follows another rule
    than Leaky's: the whole step after a spike is zeroed, its input included, which no snncc reset mode says)."""
    seeded(6)
    net = _Recurrent(kind)
    with torch.no_grad():
        net.fc.weight.mul_(3.0)
        net.fc2.weight.mul_(3.0)
        if kind != "dense-rleaky-self":
            net.lif.recurrent.weight.mul_(1.5)
    x = bernoulli((8,))
    spikes = _run(net, x)
    utils.reset(net)
    path = tmp / f"snntorch_{kind}.nir"
    nir.write(path, export_to_nir(net, x[0], ignore_dims=[0]))
    return LibraryCase("snntorch", kind, path, time_major_to_batch_major(x), time_major_to_batch_major(spikes))


CASES = {f"{kind}-{reset}": (lambda tmp, k=kind, r=reset: build(tmp, k, r))
         for kind in ("dense", "conv") for reset in ("subtract", "zero")}
CASES.update({kind: (lambda tmp, k=kind: build_recurrent(tmp, k))
              for kind in ("dense-rleaky", "dense-rleaky-self", "dense-rsynaptic")})
