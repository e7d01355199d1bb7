"""Float vs post-training-quantized accuracy of every shipped digits model at 8, 6 and 4-bit weights (loihi2).

Each weight width is a target variant (``snncc.target.target_variant``: ``formats.weight_bits`` replaced, the rest
of loihi2 unchanged); the deployed accuracy is the compiled integer network's on the 360 test images (reference
simulator), side by side with the float model's in one table. Quantization-aware fine-tuning is not built yet, so
there is no QAT column.

Run: ``python benchmarks/bench_quantization_accuracy.py [--bits 8 6 4] [--models digits_vgg/model.pt ...]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.seed_deploy import EXAMPLES, SHIPPED, measure  # noqa: E402
from snncc.errors import SnnccError  # noqa: E402
from snncc.target import target_variant  # noqa: E402


def default_models() -> list[str]:
    """Every shipped model compiled for loihi2 with its native lowering, once each (at its own time steps)."""
    return list(dict.fromkeys(m for m, target, lowering, _t in SHIPPED if target == "loihi2" and lowering == "program"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bits", type=int, nargs="+", default=[8, 6, 4])
    p.add_argument("--models", nargs="+", default=default_models(), help="paths under examples/")
    args = p.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="snncc-bits-"))
    targets = {b: target_variant("loihi2", {"formats.weight_bits": b}, "weight-width sweep", folder)
               for b in args.bits}
    print("| model | float | " + " | ".join(f"PTQ {b}-bit" for b in args.bits) + " |")
    print("|---|---|" + "---|" * len(args.bits))
    start = time.perf_counter()
    for model in args.models:
        cells, float_acc = [], None
        for b in args.bits:
            try:
                r = measure(EXAMPLES / model, str(targets[b]))
            except SnnccError as exc:
                cells.append(f"error: {exc}")
                continue
            float_acc = r["float_accuracy"]
            cells.append(f"{100 * r['deployed_accuracy']:.2f}% ({100 * (r['deployed_accuracy'] - float_acc):+.2f})")
        shown = "-" if float_acc is None else f"{100 * float_acc:.2f}%"
        print(f"| {model} | {shown} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{len(args.models)} models x {len(args.bits)} widths in {time.perf_counter() - start:.0f} s "
          "(deployed: reference simulator, 360 test images; in parentheses: points vs float)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
