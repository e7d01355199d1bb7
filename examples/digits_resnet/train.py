"""Train a small ResNet-style spiking CNN on scikit-learn's 8x8 digits (spike input) and save it for snncc.

Both residual forms of the spiking ResNets, built from ``snncc.neurons.Residual`` so the file loads safely::

    Unflatten(1, 8, 8) -> Conv(1->8) BN LIF                                       stem, 8x8x8
    Residual(Conv(8->8) BN LIF Conv(8->8) BN, identity) -> LIF                    current addition (spiking ResNet)
    Residual(Conv(8->16, /2) BN LIF Conv(16->16) BN LIF, Conv1x1(8->16, /2) BN LIF)   spike addition (SEW), 4x4x16
    AvgPool(2) -> Flatten -> Linear(64 -> 10) -> LIF

On the chip each synapse layer takes one step, so the shortcuts (one synapse layer) are one step ahead of the bodies
(two); snncc's balance-latency pass delays each shortcut through a relay stage. The batch norms fold into the
convolutions and the pooling into the dense layer, whose SEW input (0, 1 or 2 spikes per position) is split into
one synapse per branch.

    .venv/bin/python examples/digits_resnet/train.py          # -> examples/digits_resnet/model.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.digits.data import N_CLASSES  # noqa: E402
from examples.seed_deploy import train_cli  # noqa: E402
from snncc.neurons import LIF, Residual  # noqa: E402

HERE = Path(__file__).resolve().parent
ENCODING = "rate"


def lif() -> LIF:
    return LIF(beta=0.9, threshold=1.0)


def conv_bn(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2), nn.BatchNorm2d(c_out)]


def build_model(channels: tuple[int, int] = (8, 16), seed: int = 0) -> nn.Sequential:
    """The ResNet-style SNN: a stem, one current-addition block, one downsampling SEW block, a dense readout."""
    torch.manual_seed(seed)
    c1, c2 = channels
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        *conv_bn(1, c1), lif(),
        Residual(nn.Sequential(*conv_bn(c1, c1), lif(), *conv_bn(c1, c1))), lif(),
        Residual(nn.Sequential(*conv_bn(c1, c2, stride=2), lif(), *conv_bn(c2, c2), lif()),
                 nn.Sequential(*conv_bn(c1, c2, k=1, stride=2), lif())),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(c2 * 2 * 2, N_CLASSES), lif())


def main(argv: list[str] | None = None) -> int:
    return train_cli(argv, __doc__.splitlines()[0], build_model, HERE / "model.pt", ENCODING, weight_noise_lsbs=4.0)


if __name__ == "__main__":
    raise SystemExit(main())
