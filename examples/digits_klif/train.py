"""Train a KLIF MLP (learned per-layer k) on scikit-learn's 8x8 digits and save it for snncc.

Model: ``[GradedInput(16)] -> Linear(64, 128) -> KLIF -> Linear(128, 10) -> KLIF`` (tau 2, threshold 1, hard reset,
k learned per layer and clamped by the module to (0, tau/(tau-1)]). Direct encoding deploys on Loihi 2 only (Loihi 1
has no graded spikes); ``--encoding rate`` gives the variant that also deploys on Loihi 1.

    .venv/bin/python examples/digits_klif/train.py                                   # -> model.pt (direct)
    .venv/bin/python examples/digits_klif/train.py --encoding rate --out examples/digits_klif/model_rate.pt
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
    ENCODINGS,
    N_CLASSES,
    N_INPUTS,
    PIXEL_LEVELS,
    add_split_arguments,
    split_from_arguments,
)
from examples.digits.training import weight_noise  # noqa: E402
from examples.seed_deploy import accuracy, fit, load_seed_model, save_seed_model  # noqa: E402
from snncc.neurons import KLIF, GradedInput  # noqa: E402

HERE = Path(__file__).resolve().parent


def build_model(encoding: str = "direct", hidden: int = 128, tau: float = 2.0, k: float = 1.0,
                seed: int = 0) -> nn.Sequential:
    """The KLIF MLP; ``GradedInput(16)`` first for direct encoding; ``k`` is the initial k of both layers."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [GradedInput(PIXEL_LEVELS)] if encoding == "direct" else []
    layers += [nn.Linear(N_INPUTS, hidden), KLIF(tau=tau, k=k), nn.Linear(hidden, N_CLASSES), KLIF(tau=tau, k=k)]
    return nn.Sequential(*layers)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoding", choices=ENCODINGS, default="direct")
    p.add_argument("--timesteps", type=int, default=16)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--k", type=float, default=1.5, help="initial k (spikingjelly's default is 1.0)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--k-lr", type=float, default=2e-3, help="learning rate of the k parameters")
    p.add_argument("--weight-noise", type=float, default=2.0, help="training weight noise, 8-bit LSBs peak to peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=HERE / "model.pt")
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = split_from_arguments(args)
    model = build_model(args.encoding, args.hidden, k=args.k, seed=args.seed)
    ks = [m.k for m in model.modules() if isinstance(m, KLIF)]
    rest = [q for q in model.parameters() if q.requires_grad and all(q is not k for k in ks)]
    groups = [{"params": rest}, {"params": ks, "lr": args.k_lr}]
    res = fit(model, data, args.encoding, args.timesteps, args.epochs, lr=args.lr, seed=args.seed, param_groups=groups,
              perturb=weight_noise(args.weight_noise) if args.weight_noise > 0 else None)
    acc = accuracy(model, data.x_test, data.y_test, args.encoding, args.timesteps)
    ks = [f"{float(m.effective_k().detach()):.4f} (decay {m.decay:.4f}, gain {m.gain:.4f})" for m in model
          if isinstance(m, KLIF)]
    print(f"training time {res.seconds:.1f} s; float test accuracy {100 * acc:.2f}%")
    print("learned k per layer: " + "; ".join(ks))
    path = save_seed_model(model, args.out, args.timesteps, args.encoding)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, args.encoding, args.timesteps)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
