"""Train ASN (and NASN) MLPs on scikit-learn's 8x8 digits with direct input and save them for snncc.

ASN is snncc's reconstruction of the adaptive spiking neuron (seed_neurons.md §5.3; the paper's equations are not
public): a leaky multi-level neuron ``v = beta v + x; z = clip(round(v / theta), 0, D); v -= z theta`` whose leak
``beta`` and quantum ``theta`` are learned per layer ("integer training, spike inference"). NASN puts a per-feature
normalization (BatchNorm statistics while training, a fixed affine map at inference, folded into the preceding
Linear by the compiler) in front of it.

    ASN:  GradedInput(16) -> Linear(64, 128) -> ASN(D) -> Linear(128, 10) -> ASN(D)              -> model.pt
    NASN: GradedInput(16) -> Linear(64, 128) -> NASN(D, 128) -> Linear(128, 10) -> NASN(D, 10)    -> model_nasn.pt

    .venv/bin/python examples/digits_asn/train.py                 # ASN  -> examples/digits_asn/model.pt
    .venv/bin/python examples/digits_asn/train.py --nasn          # NASN -> examples/digits_asn/model_nasn.pt
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
    PIXEL_LEVELS,
    add_split_arguments,
    split_from_arguments,
)
from examples.digits.training import weight_noise  # noqa: E402
from examples.seed_deploy import accuracy, fit, load_seed_model, save_seed_model  # noqa: E402
from snncc.neurons import ASN, NASN, GradedInput  # noqa: E402

HERE = Path(__file__).resolve().parent
ENCODING = "direct"


def build_model(levels: int = 4, hidden: int = 128, nasn: bool = False, beta: float = 0.9, bias_init: float = 0.5,
                seed: int = 0) -> nn.Sequential:
    """The ASN (or NASN) MLP with direct input; biases start at ``bias_init``.

    The quantizer's gradient is zero below level 0 (v < 0): a neuron whose membrane starts and stays negative never
    learns. Without the positive bias, three of the ten output neurons of the plain ASN network die this way.
    """
    torch.manual_seed(seed)

    def neuron(features: int) -> nn.Module:
        return NASN(levels, features, beta=beta) if nasn else ASN(levels=levels, beta=beta)

    model = nn.Sequential(GradedInput(PIXEL_LEVELS), nn.Linear(N_INPUTS, hidden), neuron(hidden),
                          nn.Linear(hidden, N_CLASSES), neuron(N_CLASSES))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.bias.fill_(bias_init)
    return model


def describe(model: nn.Module) -> str:
    """The learned per-layer leak and quantum."""
    return "; ".join(f"beta {m.decay:.4f} theta {float(m.threshold.detach()):.4f}" for m in model.modules()
                     if isinstance(m, ASN))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nasn", action="store_true", help="NASN layers (normalization + ASN)")
    p.add_argument("--levels", type=int, default=4, help="D: the largest integer spike")
    p.add_argument("--timesteps", type=int, default=4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--beta", type=float, default=0.9, help="initial leak")
    p.add_argument("--bias-init", type=float, default=0.5, help="initial bias of every Linear")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--loss-scale", type=float, default=0.5, help="logits = loss_scale * summed outputs")
    p.add_argument("--weight-noise", type=float, default=2.0, help="training weight noise, 8-bit LSBs peak to peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="default: model.pt (ASN) or model_nasn.pt (NASN)")
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or HERE / ("model_nasn.pt" if args.nasn else "model.pt")
    data = split_from_arguments(args)
    model = build_model(args.levels, args.hidden, args.nasn, args.beta, args.bias_init, args.seed)
    res = fit(model, data, ENCODING, args.timesteps, args.epochs, lr=args.lr, loss_scale=args.loss_scale,
              seed=args.seed, perturb=weight_noise(args.weight_noise) if args.weight_noise > 0 else None)
    acc = accuracy(model, data.x_test, data.y_test, ENCODING, args.timesteps)
    print(f"training time {res.seconds:.1f} s; float test accuracy {100 * acc:.2f}%  ({describe(model)})")
    path = save_seed_model(model, out, args.timesteps, ENCODING)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, ENCODING, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
