"""Compile the row-by-row recurrent digits model and measure float vs deployed accuracy on the 360 test images.

    .venv/bin/python examples/digits_rsnn/deploy.py [examples/digits_rsnn/model.pt] [--target loihi2] [--lava 3]

The deployed network receives the images as :func:`examples.digits_rsnn.train.row_payloads`, int64 (N, T, 8):
row ``t`` at step ``t``, then the model's ``extra_steps`` zero steps. ``examples/seed_deploy.py`` cannot measure
it: its payloads are the whole 64-pixel image at every step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import snncc  # noqa: E402
from examples.digits.data import load_digits_split  # noqa: E402
from examples.digits.training import predict_counts  # noqa: E402
from examples.digits_rsnn.train import HERE, output_counts, row_payloads  # noqa: E402
from examples.seed_deploy import costs, lava_recheck  # noqa: E402
from snncc.fidelity import logical_spikes, predictions  # noqa: E402
from snncc.frontend.loading import load_model  # noqa: E402

ACTIVITY_IMAGES = 64  # test payloads passed to snncc.compile for the activity / energy figures


def measure(model_path: str | Path = HERE / "model.pt", target: str = "loihi2", out_dir: str | Path | None = None,
            lava_samples: int = 0) -> dict:
    """Compile ``model_path`` for ``target`` and measure: float (torch) vs deployed (reference simulator)
    accuracy, same prediction, same output spike counts, costs from the compile report; ``lava_samples``: reference
    == Lava in spikes and states on the first test images."""
    model = load_model(model_path).module
    extra, t = int(model.extra_steps), int(model.timesteps)
    split = load_digits_split(seed=0)
    x = row_payloads(split.x_test, extra)
    f_counts = output_counts(model, split.x_test, extra)
    float_pred = predict_counts(f_counts)
    start = time.perf_counter()
    bundle = snncc.compile(model_path, target, out_dir, snncc.Options(inputs=x[:ACTIVITY_IMAGES], timesteps=t))
    compile_s = time.perf_counter() - start
    deployed = bundle.run(x, "reference")
    int_pred = predictions(bundle.graph, deployed)
    out = deployed.output_layers[0]
    int_counts = logical_spikes(bundle.graph, out, deployed.layers[out].spikes).sum(axis=1)
    report = bundle.manifest["report"]
    result = {
        "model": str(model_path), "target": target, "timesteps": t, "extra_steps": extra,
        "test_images": int(len(split.y_test)),
        "float_accuracy": float(np.mean(float_pred == split.y_test)),
        "deployed_accuracy": float(np.mean(int_pred == split.y_test)),
        "prediction_agreement": float(np.mean(float_pred == int_pred)),
        "count_agreement": float(np.mean(np.all(f_counts == int_counts, axis=1))),
        **costs(report),
        "compile_seconds": compile_s,
        "recurrent": [n for n in bundle.graph.nodes if bundle.graph.is_recurrent(n)],
    }
    if lava_samples:
        result.update(lava_recheck(bundle, x[:lava_samples]))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", default=str(HERE / "model.pt"))
    p.add_argument("--target", default="loihi2")
    p.add_argument("--out", default=None, help="also write the bundle here")
    p.add_argument("--lava", type=int, default=0, help="re-check reference == Lava on this many test images")
    args = p.parse_args(argv)
    r = measure(args.model, args.target, args.out, args.lava)
    print(f"{r['model']} on {r['target']}: T = {r['timesteps']} (8 rows + {r['extra_steps']} zero steps), "
          f"{r['test_images']} test images")
    print(f"  float accuracy     {100 * r['float_accuracy']:.2f}%")
    print(f"  deployed accuracy  {100 * r['deployed_accuracy']:.2f}%")
    print(f"  same prediction    {100 * r['prediction_agreement']:.2f}%")
    print(f"  same spike counts  {100 * r['count_agreement']:.2f}%")
    print(f"  neurons {r['neurons']}, cores {r['cores']}, nonzero synapses {r['synapses']}, recurrent synapses "
          f"{', '.join(r['recurrent'])}")
    print(f"  energy / inference {1e6 * r['energy_j']:.1f} uJ (dynamic {1e9 * r['dynamic_energy_j']:.0f} nJ); "
          f"compile {r['compile_seconds']:.1f} s")
    if "lava_bit_exact" in r:
        verdict = "bit-exact" if r["lava_bit_exact"] else f"MISMATCH {r['lava_first_mismatch']}"
        print(f"  reference vs Lava on {r['lava_samples']} images (spikes and states): {verdict}")
    return 0 if r.get("lava_bit_exact", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
