"""Float vs deployed accuracy of every shipped digits model at 8, 6 and 4-bit weights (loihi2): post-training
quantization with the max rule, calibrated post-training quantization, and quantization-aware fine-tuning.

Each weight width is a target variant (``snncc.target.target_variant``: ``formats.weight_bits`` replaced, the rest
of loihi2 unchanged). Per width, three deployments of each model, all measured as the compiled integer network's
accuracy on the 360 test images (reference simulator), beside the float model's, in one table:

* ``PTQ``: ``snncc compile`` as is (each layer's largest weight on the largest mantissa, nearest rounding);
* ``PTQ-cal``: ``--calibrate`` on 256 *training* images (error-minimising clip and rounding, decay correction);
* ``QAT``: :func:`examples.seed_deploy.qat_finetune` (10 epochs on the training images through the deployed
  integer arithmetic, :class:`snncc.qat.QAT`), then compiled; dense models only (convolutional ones print ``n/a``).

In parentheses: points vs float. One test image is 0.28 points.

Run: ``python benchmarks/bench_quantization_accuracy.py [--bits 8 6 4] [--models digits_vgg/model.pt ...]
[--no-qat]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.seed_deploy import EXAMPLES, SHIPPED, measure, qat_finetune  # noqa: E402
from snncc.errors import SnnccError, UnsupportedLayerError  # noqa: E402
from snncc.target import target_variant  # noqa: E402


def default_models() -> list[str]:
    """The LIF MLP and every shipped model compiled for loihi2 with its native lowering, once each."""
    seeds = [m for m, target, lowering, _t in SHIPPED if target == "loihi2" and lowering == "program"]
    return list(dict.fromkeys(["digits/model.pt", *seeds]))


def _cell(r: dict | str, float_acc: float) -> str:
    if isinstance(r, str):
        return r
    return f"{100 * r['deployed_accuracy']:.2f}% ({100 * (r['deployed_accuracy'] - float_acc):+.2f})"


def row(model: str, target: str, folder: Path, qat: bool) -> tuple[float | None, list[str]]:
    """Float accuracy and the PTQ / PTQ-cal / QAT cells of one model at one target."""
    try:
        ptq = measure(EXAMPLES / model, target)
    except SnnccError as exc:
        return None, [f"error: {exc}"] * 3
    f = ptq["float_accuracy"]
    cal = measure(EXAMPLES / model, target, calibrate="search")
    cells = [_cell(ptq, f), _cell(cal, f)]
    if not qat:
        return f, [*cells, "-"]
    try:
        tuned = qat_finetune(EXAMPLES / model, target, folder / f"{Path(target).stem}-{model.replace('/', '-')}")
    except UnsupportedLayerError:
        return f, [*cells, "n/a (conv)"]
    return f, [*cells, _cell(measure(tuned, target), f)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bits", type=int, nargs="+", default=[8, 6, 4])
    p.add_argument("--models", nargs="+", default=default_models(), help="paths under examples/")
    p.add_argument("--no-qat", action="store_true", help="skip the quantization-aware fine-tuning column")
    args = p.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="snncc-bits-"))
    targets = {b: str(target_variant("loihi2", {"formats.weight_bits": b}, "weight-width sweep", folder))
               for b in args.bits}
    heads = [f"{kind} {b}-bit" for b in args.bits for kind in ("PTQ", "PTQ-cal", "QAT")]
    print("| model | float | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    start = time.perf_counter()
    for model in args.models:
        cells, float_acc = [], None
        for b in args.bits:
            f, c = row(model, targets[b], folder, not args.no_qat)
            float_acc = f if f is not None else float_acc
            cells += c
        shown = "-" if float_acc is None else f"{100 * float_acc:.2f}%"
        print(f"| {model} | {shown} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{len(args.models)} models x {len(args.bits)} widths in {time.perf_counter() - start:.0f} s "
          "(deployed: reference simulator, 360 test images; in parentheses: points vs float)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
