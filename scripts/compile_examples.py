"""Compile every shipped example model, in every lowering and option the project documents, into one folder.

    .venv/bin/python scripts/compile_examples.py OUT [--only NAME ...]

Each configuration is one ``snncc compile`` run through the command line (so two versions of snncc are driven the
same way) into ``OUT/<name>/``; activity inputs are snncc's seeded random ones and calibration data are the first
digits training images, so two runs of the same code give the same bundles. With
``scripts/compare_bundles.py OLD NEW --tree`` this shows whether a change of the compiler changed what it compiles.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examples.digits.data import load_digits_split, payloads  # noqa: E402

CALIBRATION = "calibration.npy"  # written into OUT: 64 direct-encoded digits training images, T = 16
CALIBRATION_RATE = "calibration_rate.npy"  # the same images rate-encoded (seeded spikes), for rate-input models

# name -> (model under examples/, target, extra compile options)
CONFIGS: dict[str, tuple[str, str, list[str]]] = {
    "digits": ("digits/model.pt", "loihi2", []),
    "digits_rate": ("digits/model_rate.pt", "loihi2", []),
    "digits_rate_loihi": ("digits/model_rate.pt", "loihi", []),
    "digits_fine_bias": ("digits/model.pt", "loihi2", ["--bias-resolution", "fine"]),
    "digits_calibrated": ("digits/model.pt", "loihi2", ["--calibrate", CALIBRATION]),
    "digits_percentile": ("digits/model.pt", "loihi2", ["--calibrate-percentile", "99"]),
    "klif": ("digits_klif/model.pt", "loihi2", []),
    "klif_rate": ("digits_klif/model_rate.pt", "loihi2", []),
    "klif_rate_loihi": ("digits_klif/model_rate.pt", "loihi", []),
    "arlif_float": ("digits_arlif/model_float.pt", "loihi2", []),
    "arlif": ("digits_arlif/model.pt", "loihi2", []),
    "arlif_float_stock": ("digits_arlif/model_float.pt", "loihi2", ["--arlif", "stock"]),
    "arlif_stock": ("digits_arlif/model.pt", "loihi2", ["--arlif", "stock"]),
    "arlif_float_calibrated": ("digits_arlif/model_float.pt", "loihi2", ["--calibrate", CALIBRATION]),
    "multilevel": ("digits_multilevel/model.pt", "loihi2", []),
    "multilevel_loihi": ("digits_multilevel/model.pt", "loihi", []),
    "multilevel_substep": ("digits_multilevel/model.pt", "loihi", ["--multilevel", "substep"]),
    "multilevel_calibrated": ("digits_multilevel/model.pt", "loihi2", ["--calibrate", CALIBRATION_RATE]),
    "gn_t1": ("digits_gn/model.pt", "loihi2", ["--timesteps", "1"]),
    "gn_t4": ("digits_gn/model.pt", "loihi2", ["--timesteps", "4"]),
    "asn": ("digits_asn/model.pt", "loihi2", []),
    "nasn": ("digits_asn/model_nasn.pt", "loihi2", []),
    "vgg": ("digits_vgg/model.pt", "loihi2", []),
    "resnet": ("digits_resnet/model.pt", "loihi2", []),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--only", nargs="*", help="configuration names (default: all)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    split = load_digits_split(seed=0)
    np.save(args.out / CALIBRATION, payloads(split.x_train[:64], 16, "direct"))
    np.save(args.out / CALIBRATION_RATE, payloads(split.x_train[:64], 16, "rate", np.random.default_rng(0)))
    snncc = Path(sys.executable).with_name("snncc")
    names = args.only or list(CONFIGS)
    failed = []
    for i, name in enumerate(names, start=1):
        model, target, extra = CONFIGS[name]
        cmd = [str(snncc), "compile", str(ROOT / "examples" / model), "--target", target, "-o", str(args.out / name),
               "-q", *extra]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=args.out, capture_output=True, text=True)
        status = "ok" if done.returncode == 0 else f"FAILED ({done.returncode}): {done.stderr.strip()[-300:]}"
        print(f"[{i}/{len(names)}] {name}: {status} ({time.perf_counter() - start:.1f} s)", flush=True)
        if done.returncode:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
