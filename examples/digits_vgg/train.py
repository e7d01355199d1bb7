"""Train a small VGG-style spiking CNN on scikit-learn's 8x8 digits (spike input) and save it for snncc.

Model: ``Unflatten(1, 8, 8) -> Conv(1->8, 3x3) -> BatchNorm -> LIF -> AvgPool(2) -> Conv(8->16, 3x3) -> BatchNorm ->
LIF -> AvgPool(2) -> Flatten -> Linear(64 -> 10) -> LIF``. snncc folds the batch norms into the convolutions and each
pooling into the synapse after it, so the deployed network is conv -> LIF -> conv -> LIF -> dense -> LIF.

    .venv/bin/python examples/digits_vgg/train.py          # -> examples/digits_vgg/model.pt
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
from snncc.neurons import LIF  # noqa: E402

HERE = Path(__file__).resolve().parent
ENCODING = "rate"


def build_model(channels: tuple[int, int] = (8, 16), seed: int = 0) -> nn.Sequential:
    """The VGG-style SNN (spike input, LIF neurons, average pooling)."""
    torch.manual_seed(seed)
    c1, c2 = channels
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), LIF(beta=0.9, threshold=1.0), nn.AvgPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), LIF(beta=0.9, threshold=1.0), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 2 * 2, N_CLASSES), LIF(beta=0.9, threshold=1.0))


def main(argv: list[str] | None = None) -> int:
    return train_cli(argv, __doc__.splitlines()[0], build_model, HERE / "model.pt", ENCODING)


if __name__ == "__main__":
    raise SystemExit(main())
