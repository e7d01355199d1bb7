"""ANN-to-SNN on scikit-learn's 8x8 digits: train a QCFS ANN, convert it to Group Neurons, evaluate at several T.

ANN: ``GradedInput(16) -> Linear(64, 128) -> QCFS(L) -> Linear(128, 10) -> QCFS(L_out)`` (one trainable ``theta``
per activation). The output is a QCFS too, so the converted network ends in a (multi-level) spiking layer, which is
what snncc deploys; its prediction is the argmax of the output levels summed over T, the lowest index on ties.
:func:`snncc.neurons.convert_to_snn` replaces each QCFS by a ``GroupNeuron`` with ``members = L`` (the SNN at T=1
computes exactly the ANN); the SNN receives the same image every step (direct encoding).

    .venv/bin/python examples/digits_gn/train.py       # -> ann.pt (QCFS ANN) and model.pt (Group Neuron SNN)
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
from snncc.neurons import QCFS, GradedInput, GroupNeuron, convert_to_snn  # noqa: E402

HERE = Path(__file__).resolve().parent
ENCODING = "direct"
EVAL_TIMESTEPS = (1, 2, 4, 8)


def build_ann(levels: int = 8, out_levels: int = 16, hidden: int = 128, seed: int = 0) -> nn.Sequential:
    """The QCFS ANN (theta initialised to L, as the authors do)."""
    torch.manual_seed(seed)
    return nn.Sequential(GradedInput(PIXEL_LEVELS), nn.Linear(N_INPUTS, hidden), QCFS(levels),
                         nn.Linear(hidden, N_CLASSES), QCFS(out_levels))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", type=int, default=8, help="QCFS L of the hidden layer (= Group Neuron members)")
    p.add_argument("--out-levels", type=int, default=16, help="QCFS L of the output layer")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--loss-scale", type=float, default=1.0, help="logits = loss_scale * ANN output")
    p.add_argument("--weight-noise", type=float, default=2.0, help="training weight noise, 8-bit LSBs peak to peak")
    p.add_argument("--timesteps", type=int, default=4, help="T saved with the SNN (its default deployment)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-ann", type=Path, default=HERE / "ann.pt")
    p.add_argument("--out", type=Path, default=HERE / "model.pt")
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = split_from_arguments(args)
    ann = build_ann(args.levels, args.out_levels, args.hidden, args.seed)
    res = fit(ann, data, ENCODING, 1, args.epochs, lr=args.lr, loss_scale=args.loss_scale, seed=args.seed,
              perturb=weight_noise(args.weight_noise) if args.weight_noise > 0 else None, label="ANN ")
    ann_acc = accuracy(ann, data.x_test, data.y_test, ENCODING, 1)
    thetas = ", ".join(f"{float(m.theta.detach()):.4f}" for m in ann if isinstance(m, QCFS))
    print(f"ANN training time {res.seconds:.1f} s; ANN test accuracy {100 * ann_acc:.2f}%; thetas {thetas}")
    save_seed_model(ann, args.out_ann, 1, ENCODING)

    snn = convert_to_snn(ann)
    members = ", ".join(f"{m.members} members, theta {m.theta:.4f}" for m in snn if isinstance(m, GroupNeuron))
    print(f"converted: {members}")
    for t in EVAL_TIMESTEPS:
        print(f"  SNN T={t}: float test accuracy {100 * accuracy(snn, data.x_test, data.y_test, ENCODING, t):.2f}%")
    path = save_seed_model(snn, args.out, args.timesteps, ENCODING)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, ENCODING, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB, T={args.timesteps}); safe-loaded test accuracy "
          f"{100 * check:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
