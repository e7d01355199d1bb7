"""Float vs deployed accuracy of every digits model at 8, 6 and 4-bit weights (loihi2): post-training
quantization with the max rule, calibrated post-training quantization, and quantization-aware fine-tuning.

Each weight width is a target variant (``snncc.target.target_variant``: ``formats.weight_bits`` replaced, the rest
of loihi2 unchanged). Per width, three deployments of each model, all measured as the compiled integer network's
accuracy (reference simulator) beside the float model's, in one table:

* ``PTQ``: ``snncc compile`` as is (each layer's largest weight on the largest mantissa, nearest rounding);
* ``PTQ-cal``: ``--calibrate`` on 256 *training* images (error-minimising clip and rounding, decay correction);
* ``QAT``: :func:`examples.seed_deploy.qat_finetune` (distillation from the float model through the deployed
  integer arithmetic, :class:`snncc.training.QAT`; the starting point, calibrated or max-rule PTQ, and the
  checkpoint chosen by fidelity to the float model on held-out training images), then compiled;
  dense models only (convolutional ones print ``n/a``).

Two protocols:

* default: the shipped models on their 360 test images (one image is 0.28 points; 186 s measured at 8/6/4 bits
  on 2 cores); progress lines name each model as it is measured and which start and epoch QAT kept;
* ``--folds K``: every example is retrained with its own training command on each fold of a stratified K-fold
  partition of all 1797 images (:mod:`examples.retrain`) and deployed and tested on the fold it did not see; the
  table pools the K test folds, so every image counts once (one image is 0.056 points). Slow: about
  ``K x`` (training + the default protocol).

In parentheses: points vs float; ``lost/won``: test images the deployment gets wrong that float gets right, and
the reverse.

Run: ``python benchmarks/bench_quantization_accuracy.py [--bits 8 6 4] [--models digits_vgg/model.pt ...]
[--no-qat] [--folds 5]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.digits.data import DigitsSplit, load_digits_fold  # noqa: E402
from examples.retrain import retrain  # noqa: E402
from examples.seed_deploy import EXAMPLES, SHIPPED, measure, qat_finetune  # noqa: E402
from snncc.errors import SnnccError, UnsupportedLayerError  # noqa: E402
from snncc.target import target_variant  # noqa: E402

KINDS = ("PTQ", "PTQ-cal", "QAT")


def default_models() -> list[str]:
    """The LIF MLP and every shipped model compiled for loihi2 with its native lowering, once each."""
    seeds = [m for m, target, lowering, _t in SHIPPED if target == "loihi2" and lowering == "program"]
    return list(dict.fromkeys(["digits/model.pt", *seeds]))


class Tally:
    """Per-image outcomes pooled over folds: correct counts, and images lost / won against float."""

    def __init__(self) -> None:
        self.correct = 0
        self.images = 0
        self.lost = 0
        self.won = 0

    def add(self, ok: np.ndarray, float_ok: np.ndarray) -> None:
        self.correct += int(ok.sum())
        self.images += len(ok)
        self.lost += int((float_ok & ~ok).sum())
        self.won += int((~float_ok & ok).sum())

    @property
    def accuracy(self) -> float:
        return self.correct / self.images


def measure_model(path: Path, name: str, target: str, folder: Path, qat: bool, split: DigitsSplit | None,
                  cells: dict) -> None:
    """Add one model's float, PTQ, PTQ-cal and QAT outcomes at one target to ``cells[(kind)]``."""
    try:
        ptq = measure(path, target, split=split)
    except SnnccError as exc:
        for kind in KINDS:
            cells[kind] = f"error: {exc}"
        return
    f_ok = ptq["float_correct"]  # the float model's own predictions: every column is compared with these
    cells.setdefault("float", Tally()).add(f_ok, f_ok)
    cells.setdefault("PTQ", Tally()).add(ptq["deployed_correct"], f_ok)
    cal = measure(path, target, calibrate="search", split=split)
    cells.setdefault("PTQ-cal", Tally()).add(cal["deployed_correct"], f_ok)
    if not qat:
        cells["QAT"] = "-"
        return
    try:
        tuned = qat_finetune(path, target, folder / f"{Path(target).stem}-{name.replace('/', '-')}", split=split,
                             log=lambda line: print(f"  {name} {Path(target).stem}: {line}", flush=True))
    except UnsupportedLayerError:
        cells["QAT"] = "n/a (conv)"
        return
    cells.setdefault("QAT", Tally()).add(measure(tuned, target, split=split)["deployed_correct"], f_ok)


def _cell(c: Tally | str | None, float_acc: float) -> str:
    if c is None or isinstance(c, str):
        return c or "-"
    return f"{100 * c.accuracy:.2f}% ({100 * (c.accuracy - float_acc):+.2f}; {c.lost}/{c.won})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bits", type=int, nargs="+", default=[8, 6, 4])
    p.add_argument("--models", nargs="+", default=default_models(), help="paths under examples/")
    p.add_argument("--no-qat", action="store_true", help="skip the quantization-aware fine-tuning column")
    p.add_argument("--folds", type=int, default=0,
                   help="retrain on each fold of a K-fold partition and pool the K test folds (slow)")
    args = p.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="snncc-bits-"))
    targets = {b: str(target_variant("loihi2", {"formats.weight_bits": b}, "weight-width sweep", folder))
               for b in args.bits}
    cells: dict[tuple[str, int], dict] = defaultdict(dict)
    start = time.perf_counter()
    rounds = range(args.folds) if args.folds else [None]
    for fold in rounds:
        if fold is None:
            paths, split = {m: EXAMPLES / m for m in args.models}, None
        else:
            print(f"fold {fold + 1}/{args.folds}: training {len(args.models)} models", flush=True)
            paths, split = retrain(args.models, fold, args.folds, folder), load_digits_fold(fold, args.folds)
        for model in args.models:
            for b in args.bits:
                measure_model(paths[model], model, targets[b], folder, not args.no_qat, split, cells[model, b])
            where = "" if fold is None else f"fold {fold + 1}/{args.folds}: "
            print(f"  {where}measured {model} ({time.perf_counter() - start:.0f} s)", flush=True)
    heads = [f"{kind} {b}-bit" for b in args.bits for kind in KINDS]
    print("\n| model | float | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for model in args.models:
        floats = [cells[model, b].get("float") for b in args.bits]
        f = next((c.accuracy for c in floats if isinstance(c, Tally)), None)
        shown = "-" if f is None else f"{100 * f:.2f}%"
        row = [_cell(cells[model, b].get(kind), f or 0.0) for b in args.bits for kind in KINDS]
        print(f"| {model} | {shown} | " + " | ".join(row) + " |", flush=True)
    images = next((c.images for v in cells.values() for c in v.values() if isinstance(c, Tally)), 0)
    protocol = (f"{args.folds}-fold cross-validation, every example retrained per fold" if args.folds
                else "the shipped models")
    print(f"\n{len(args.models)} models x {len(args.bits)} widths in {time.perf_counter() - start:.0f} s; {protocol}; "
          f"deployed: reference simulator on {images} test images; in parentheses: points vs float; "
          "lost/won: images only float / only the deployment gets right")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
