"""Small lava-dl SLAYER networks trained on synthetic data for a few iterations on CPU and exported with lava-dl's
own ``export_hdf5``: the netx files the netx frontend is tested on (written into a test's tmp folder)."""

from __future__ import annotations

from pathlib import Path

import h5py
import torch

from snncc.compat.lava import import_netx

T = 8
CUBA = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3,
        "requires_grad": False}


def _sdnn() -> dict:
    return {"threshold": 0.1, "tau_grad": 0.5, "scale_grad": 1, "requires_grad": False, "shared_param": True,
            "activation": torch.nn.functional.relu}


class Net(torch.nn.Module):
    """A chain of slayer blocks, exported as lava-dl's examples do (one ``layer/<i>`` group per block)."""

    def __init__(self, blocks: list[torch.nn.Module]) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def export_hdf5(self, path: Path) -> None:
        with h5py.File(path, "w") as f:
            layer = f.create_group("layer")
            for i, block in enumerate(self.blocks):
                block.export_hdf5(layer.create_group(f"{i}"))


def build(kind: str) -> tuple[Net, torch.Tensor]:
    """The untrained network ``kind`` and a batch of synthetic input (N, C[, H, W], T)."""
    import_netx()
    import lava.lib.dl.slayer as slayer

    cuba, sd = slayer.block.cuba, slayer.block.sigma_delta
    if kind == "dense_cuba":
        return Net([cuba.Dense(CUBA, 20, 16), cuba.Dense(CUBA, 16, 4)]), (torch.rand(4, 20, T) < 0.3).float()
    if kind == "conv_cuba":
        return (Net([cuba.Conv(CUBA, 2, 4, 3, padding=1, weight_scale=2), cuba.Pool(CUBA, 2, weight_scale=2),
                     cuba.Flatten(), cuba.Dense(CUBA, 4 * 4 * 4, 4)]), (torch.rand(4, 2, 8, 8, T) < 0.3).float())
    if kind == "dense_sdnn":
        return (Net([sd.Input(_sdnn()), sd.Dense(_sdnn(), 20, 16), sd.Output(_sdnn(), 16, 4)]),
                torch.rand(4, 20, T))
    if kind == "conv_sdnn":
        return (Net([sd.Input(_sdnn()), sd.Conv(_sdnn(), 2, 4, 3, padding=1, stride=2), sd.Flatten(),
                     sd.Dense(_sdnn(), 4 * 4 * 4, 8), sd.Output(_sdnn(), 8, 4)]), torch.rand(4, 2, 8, 8, T))
    if kind == "dense_rec":  # each block its own copy: slayer's Recurrent sets persistent_state in the dict it gets
        return (Net([cuba.Recurrent(dict(CUBA), 20, 16), cuba.Dense(dict(CUBA), 16, 4)]),
                (torch.rand(4, 20, T) < 0.3).float())
    if kind == "dense_delay":
        spikes = (torch.rand(4, 20, T) < 0.3).float()
        return Net([cuba.Dense(CUBA, 20, 16, delay=True), cuba.Dense(CUBA, 16, 4)]), spikes
    raise KeyError(kind)


def train_and_export(kind: str, path: Path, iterations: int = 5, seed: int = 0) -> Path:
    """Train network ``kind`` for a few Adam steps (target: a fixed random output rate) and export it to ``path``."""
    torch.manual_seed(seed)
    net, x = build(kind)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    target = torch.rand(x.shape[0], 4, T)
    for _ in range(iterations):
        loss = torch.nn.functional.mse_loss(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if kind == "dense_delay":
        net.blocks[0].delay.delay.data.fill_(3.0)  # an axonal delay of 3 steps, as delay learning gives
    net.export_hdf5(path)
    return path
