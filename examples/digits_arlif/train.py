"""Train an AR-LIF MLP on scikit-learn's 8x8 digits: float first, then deploy-exact fine-tuning; save both.

Model: ``GradedInput(16) -> Linear(64, 128) -> ARLIF -> Linear(128, 10) -> ARLIF`` (decay 0.5, threshold 1, learned
per-layer ``a`` and ``c``, the authors' rectangle surrogate).

1. Float training (tanh/sigmoid, float weights) -> ``model_float.pt``. Its deployment is approximate: snncc's
   integer AR-LIF program interpolates sigmoid/tanh between table knots on a Q12 grid (max error 0.0009/0.0018).
2. Deploy-exact fine-tuning of a copy -> ``model.pt``: every AR-LIF layer in ``deploy_exact`` mode (its forward value
   is the integer program's, bit for bit), and every Linear weight and bias held on the grid the compiler deploys
   (:func:`snap_to_deploy_grid`, straight-through: the gradient updates the float weights, which are snapped at the
   end). The compiled network then computes exactly what the saved torch model computes.

    .venv/bin/python examples/digits_arlif/train.py      # -> model_float.pt and model.pt
"""

from __future__ import annotations

import argparse
import copy
import math
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
from examples.seed_deploy import accuracy, fit, load_seed_model, save_seed_model  # noqa: E402
from snncc.families.arlif.integer import ARLIF_FRAC  # noqa: E402
from snncc.fixedpoint import ACT_SHIFT  # noqa: E402
from snncc.neurons import ARLIF, GradedInput  # noqa: E402
from snncc.target import load_target  # noqa: E402

HERE = Path(__file__).resolve().parent
ENCODING = "direct"

SYNAPSE_FORMAT = load_target("loihi2").synapse_format  # 8-bit mantissas, exponents -8..7
UNIT = 2.0 ** (ACT_SHIFT - ARLIF_FRAC)  # float value of one integer weight unit in the Q12 AR-LIF program: 1/64


def build_model(hidden: int = 128, seed: int = 0, init_gain: float = 2.0,
                surrogate_width: float = 4.0) -> nn.Sequential:
    """The AR-LIF MLP (direct encoding); weights start at ``init_gain`` x torch's default range.

    With torch's default initialization the layers hardly reach the threshold, and the rectangle surrogate (width 1
    around it) then passes no gradient at all: the network never starts learning.
    """
    torch.manual_seed(seed)
    model = nn.Sequential(GradedInput(PIXEL_LEVELS),
                          nn.Linear(N_INPUTS, hidden), ARLIF(surrogate_width=surrogate_width),
                          nn.Linear(hidden, N_CLASSES), ARLIF(surrogate_width=surrogate_width))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(init_gain)
    return model


def _weight_exp(w_max: float) -> int:
    """The compiler's weight exponent for an AR-LIF layer (snncc.passes.quantize._quantize_arlif)."""
    if w_max <= 0:
        return 0
    e = math.ceil(math.log2(w_max / UNIT / SYNAPSE_FORMAT.weight_max))
    return min(max(e, SYNAPSE_FORMAT.weight_exp_min), SYNAPSE_FORMAT.weight_exp_max)


def deploy_grid(w_eff: torch.Tensor) -> float:
    """The grid (in float units per input payload) on which a weight deploys without rounding or flooring.

    The compiler stores ``m = round(w / UNIT / 2**e)`` and the synapse computes ``sum(m * payload) >> -e`` for
    ``e < 0``, which floors; on the grid ``UNIT * 2**max(e, 0)`` every ``m`` is a multiple of ``2**-e`` and the
    shift is exact.
    """
    grid = UNIT
    for _ in range(4):  # snapping can move max|w| across a power of two: iterate to a fixed point
        e = _weight_exp(float((torch.round(w_eff / grid) * grid).abs().max()))
        new = UNIT * 2.0 ** max(e, 0)
        if new == grid:
            break
        grid = new
    return grid


def _payload_scales(model: nn.Sequential) -> dict[nn.Linear, float]:
    """Float value of one input payload unit for each Linear (1/16 after GradedInput(16), 1 for spikes)."""
    scales, scale = {}, 1.0
    for m in model:
        if isinstance(m, GradedInput):
            scale = 1.0 / m.levels
        elif isinstance(m, nn.Linear):
            scales[m], scale = scale, 1.0
    return scales


def snap_to_deploy_grid(model: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Move every Linear weight and bias onto its deployment grid; returns ``(param, clean value)`` pairs."""
    saved = []
    with torch.no_grad():
        for lin, ps in _payload_scales(model).items():
            grid = deploy_grid(lin.weight * ps)
            saved.append((lin.weight, lin.weight.detach().clone()))
            lin.weight.copy_(torch.round(lin.weight * ps / grid) * grid / ps)
            if lin.bias is not None:
                saved.append((lin.bias, lin.bias.detach().clone()))
                lin.bias.copy_(torch.round(lin.bias * (1 << ARLIF_FRAC)) / (1 << ARLIF_FRAC))
    return saved


def set_deploy_exact(model: nn.Module, on: bool) -> None:
    """Switch every AR-LIF layer's deploy-exact mode."""
    for m in model.modules():
        if isinstance(m, ARLIF):
            m.deploy_exact = on


def describe(model: nn.Module) -> str:
    """The learned per-layer scalars."""
    return "; ".join(f"tanh(a)={m.amp:.4f} c={m.gate:.4f}" for m in model.modules() if isinstance(m, ARLIF))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=30, help="float training epochs")
    p.add_argument("--exact-epochs", type=int, default=20, help="deploy-exact fine-tuning epochs")
    p.add_argument("--init-gain", type=float, default=2.0)
    p.add_argument("--surrogate-width", type=float, default=4.0,
                   help="rectangle surrogate width (the authors use 1 with BatchNorm; it starves this MLP)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--loss-scale", type=float, default=1.0, help="logits = loss_scale * output spike counts")
    p.add_argument("--exact-lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-float", type=Path, default=HERE / "model_float.pt")
    p.add_argument("--out", type=Path, default=HERE / "model.pt")
    add_split_arguments(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = split_from_arguments(args)
    t = args.timesteps

    model = build_model(args.hidden, args.seed, args.init_gain, args.surrogate_width)
    res = fit(model, data, ENCODING, t, args.epochs, lr=args.lr, loss_scale=args.loss_scale, seed=args.seed,
              label="float ")
    acc = accuracy(model, data.x_test, data.y_test, ENCODING, t)
    print(f"float training {res.seconds:.1f} s; float test accuracy {100 * acc:.2f}%  ({describe(model)})")
    path = save_seed_model(model, args.out_float, t, ENCODING)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB)")

    exact = copy.deepcopy(model)
    set_deploy_exact(exact, True)
    before = accuracy(exact, data.x_test, data.y_test, ENCODING, t)
    res2 = fit(exact, data, ENCODING, t, args.exact_epochs, lr=args.exact_lr, loss_scale=args.loss_scale,
               seed=args.seed + 1,
               perturb=snap_to_deploy_grid, perturb_eval=True, label="deploy-exact ")
    snap_to_deploy_grid(exact)  # keep the snapped values
    acc2 = accuracy(exact, data.x_test, data.y_test, ENCODING, t)
    print(f"deploy-exact fine-tuning {res2.seconds:.1f} s; test accuracy {100 * before:.2f}% (float weights, "
          f"integer AR-LIF) -> {100 * acc2:.2f}%  ({describe(exact)})")
    path = save_seed_model(exact, args.out, t, ENCODING)
    check = accuracy(load_seed_model(path), data.x_test, data.y_test, ENCODING, t)
    print(f"saved {path} ({path.stat().st_size / 1024:.1f} KiB); safe-loaded test accuracy {100 * check:.2f}%; "
          f"total training time {res.seconds + res2.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
