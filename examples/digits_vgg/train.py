"""Train a small VGG-style spiking CNN on scikit-learn's 8x8 digits (spike input) and save it for snncc.

Model: ``Unflatten(1, 8, 8) -> Conv(1->8, 3x3) -> BatchNorm -> LIF -> AvgPool(2) -> Conv(8->16, 3x3) -> BatchNorm ->
LIF -> AvgPool(2) -> Flatten -> Linear(64 -> 10) -> LIF``. snncc folds the batch norms into the convolutions and each
pooling into the synapse after it, so the deployed network is conv -> LIF -> conv -> LIF -> dense -> LIF.

    .venv/bin/python examples/digits_vgg/train.py          # -> examples/digits_vgg/model.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.digits.data import N_CLASSES, load_digits_split  # noqa: E402
from examples.digits.training import weight_noise  # noqa: E402
from examples.seed_deploy import accuracy, fit, load_seed_model, save_seed_model  # noqa: E402
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
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--loss-scale", type=float, default=0.5, help="logits = loss_scale * summed output spikes")
    p.add_argument("--weight-noise", type=float, default=2.0, help="training weight noise, 8-bit LSBs peak to peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "model.pt")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_digits_split(seed=0)
    model = build_model(seed=args.seed)
    res = fit(model, data, ENCODING, args.timesteps, args.epochs, lr=args.lr, loss_scale=args.loss_scale,
              seed=args.seed, perturb=weight_noise(args.weight_noise) if args.weight_noise > 0 else None)
    model.eval()
    acc = accuracy(model, data.x_test, data.y_test, ENCODING, args.timesteps)
    print(f"training time {res.seconds:.1f} s; float test accuracy {100 * acc:.2f}%")
    path = save_seed_model(model, args.out, args.timesteps, ENCODING)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, ENCODING, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
