"""Rockpool 3.1: LinearTorch + LIFTorch networks exported by ``rockpool.nn.modules.to_nir`` (CubaLIF), with
``max_spikes_per_dt=1`` (binary spikes: NIR cannot say more). Rockpool has no convolution layer that its NIR
export knows, so its second case is a deeper dense network with other time constants per layer. Exported from the
batched input, as a user runs it: the file keeps the batch and time dimensions (the preset removes them)."""

from __future__ import annotations

from pathlib import Path

import nir
import torch
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch, to_nir

from .case import LibraryCase, bernoulli, quiet, seeded, time_major_to_batch_major


def _lif(n: int, tau_mem: float, tau_syn: float, current: bool, multi: bool) -> torch.nn.Module:
    """LIFTorch (exported as CubaLIF) or, without a current, LIFNeuronTorch (exported as LIF); binary spikes, or
    Rockpool's default ``max_spikes_per_dt`` (2**16)."""
    cap = {} if multi else {"max_spikes_per_dt": torch.tensor(1.0)}
    if not current:
        return LIFNeuronTorch(n, tau_mem=torch.full((n,), tau_mem), threshold=torch.ones(n), dt=1e-3, **cap)
    return LIFTorch(n, tau_mem=torch.full((n,), tau_mem), tau_syn=torch.full((n,), tau_syn),
                    threshold=torch.ones(n), dt=1e-3, **cap)


@quiet
def build(tmp: Path, kind: str) -> LibraryCase:
    seeded(5)
    multi = kind == "dense-multispike"
    if kind in ("dense", "dense-lifneuron", "dense-multispike"):
        sizes, taus = (8, 16, 4), ((2e-2, 5e-3), (4e-2, 1e-2))
    else:
        sizes, taus = (8, 12, 10, 4), ((1e-2, 4e-3), (3e-2, 6e-3), (2e-2, 8e-3))
    layers = []
    for (n_in, n_out), (tm, ts) in zip(zip(sizes[:-1], sizes[1:], strict=True), taus, strict=True):
        lin = LinearTorch((n_in, n_out), has_bias=False)
        with torch.no_grad():
            lin.weight.mul_({"dense-lifneuron": 1.5, "dense-multispike": 0.3}.get(kind, 6.0))
        layers += [lin, _lif(n_out, tm, ts, current=kind != "dense-lifneuron", multi=multi)]
    net = Sequential(*layers)
    x = bernoulli((8,))
    with torch.no_grad():
        out, _, _ = net(x.transpose(0, 1))  # rockpool takes (batch, T, n)
    path = tmp / f"rockpool_{kind}.nir"
    nir.write(path, to_nir(net, x.transpose(0, 1)))  # the batched input: the export keeps its batch and T dims
    return LibraryCase("rockpool", kind, path, time_major_to_batch_major(x),
                       time_major_to_batch_major(out.transpose(0, 1)), {"max_spikes": 15 if multi else 1})


CASES = {kind: (lambda tmp, k=kind: build(tmp, k)) for kind in ("dense", "deep", "dense-lifneuron", "dense-multispike")}
