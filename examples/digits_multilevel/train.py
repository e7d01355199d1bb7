"""Train a multi-level neuron MLP on scikit-learn's 8x8 digits with spike (rate) input and save it for snncc.

Model: ``Linear(64, 128) -> MultiLevel(N) -> Linear(128, 10) -> MultiLevel(N)``: integrate-and-fire (no leak), soft
reset, integer output ``z = clip(floor(v / theta), 0, N)`` per step, threshold ``theta`` learned per layer. The
input is Bernoulli spikes, so the network also deploys on Loihi 1, where each multi-level neuron becomes a population
of N binary neurons (exact without leak). The prediction is the argmax of the output levels summed over T.

    .venv/bin/python examples/digits_multilevel/train.py          # -> examples/digits_multilevel/model.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.digits.data import (  # noqa: E402
    N_CLASSES,
    N_INPUTS,
    add_split_arguments,
    split_from_arguments,
)
from examples.digits.training import weight_noise  # noqa: E402
from examples.seed_deploy import accuracy, fit, load_seed_model, save_seed_model  # noqa: E402
from snncc.neurons import MultiLevel  # noqa: E402

HERE = Path(__file__).resolve().parent
ENCODING = "rate"


def build_model(levels: int = 4, hidden: int = 128, threshold: float = 1.0, seed: int = 0) -> nn.Sequential:
    """The multi-level MLP (spike input, IF neurons with learned thresholds)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(N_INPUTS, hidden), MultiLevel(levels=levels, threshold=threshold),
                         nn.Linear(hidden, N_CLASSES), MultiLevel(levels=levels, threshold=threshold))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--threshold", type=float, default=1.0, help="initial threshold (quantum) of both layers")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--loss-scale", type=float, default=0.5, help="logits = loss_scale * summed outputs")
    p.add_argument("--weight-noise", type=float, default=2.0, help="training weight noise, 8-bit LSBs peak to peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=HERE / "model.pt")
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = split_from_arguments(args)
    model = build_model(args.levels, args.hidden, args.threshold, args.seed)
    res = fit(model, data, ENCODING, args.timesteps, args.epochs, lr=args.lr, loss_scale=args.loss_scale,
              seed=args.seed, perturb=weight_noise(args.weight_noise) if args.weight_noise > 0 else None)
    acc = accuracy(model, data.x_test, data.y_test, ENCODING, args.timesteps)
    thetas = ", ".join(f"{float(m.threshold.detach()):.4f}" for m in model if isinstance(m, MultiLevel))
    print(f"training time {res.seconds:.1f} s; float test accuracy {100 * acc:.2f}%; learned thresholds {thetas}")
    path = save_seed_model(model, args.out, args.timesteps, ENCODING)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, ENCODING, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
