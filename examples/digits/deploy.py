"""Compile the trained digits model with snncc and measure the deployed (integer) accuracy against the float one.

    .venv/bin/python examples/digits/deploy.py [--model examples/digits/model.pt] [--out build/digits] [--lava 20]

Float accuracy comes from the torch model itself; deployed accuracy from the compiled integer network on snncc's
reference simulator, which is bit-exact with Lava (``--lava N`` re-checks that on the first N test images).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import snncc  # noqa: E402
from examples.digits.data import EVAL_SEED, load_digits_split, payloads  # noqa: E402
from examples.digits.train import load_model, output_counts, predict_counts  # noqa: E402
from snncc.fidelity import predictions  # noqa: E402
from snncc.verify import compare_results  # noqa: E402

HERE = Path(__file__).resolve().parent


def deployed_accuracy(model_path: str | Path, out_dir: str | Path | None = None, lava_samples: int = 0) -> dict:
    """Compile ``model_path`` and return float / deployed accuracies on the digits test split."""
    model = load_model(model_path)
    split = load_digits_split(seed=0)
    x = payloads(split.x_test, model.timesteps, model.encoding, np.random.default_rng(EVAL_SEED))
    float_pred = predict_counts(output_counts(model, split.x_test, model.encoding, model.timesteps,
                                              np.random.default_rng(EVAL_SEED)))
    bundle = snncc.compile(model_path, "loihi2", out_dir, options=snncc.Options(inputs=x[:64]))
    deployed = bundle.run(x, "reference")
    int_pred = predictions(bundle.graph, deployed)
    result = {
        "float_accuracy": float(np.mean(float_pred == split.y_test)),
        "deployed_accuracy": float(np.mean(int_pred == split.y_test)),
        "prediction_agreement": float(np.mean(float_pred == int_pred)),
        "test_images": int(len(split.y_test)),
        "cores": bundle.manifest["report"]["resources"]["cores_used"],
        "energy_j": bundle.manifest["report"]["energy"]["target_model"]["total_j"],
    }
    if lava_samples:
        lava = bundle.run(x[:lava_samples], "lava")
        ref = bundle.run(x[:lava_samples], "reference")
        result["lava_bit_exact"] = compare_results("reference", ref, "lava", lava, states=False).equal
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(HERE / "model.pt"))
    p.add_argument("--out", default=None, help="also write the bundle here")
    p.add_argument("--lava", type=int, default=0, help="re-check reference == Lava on this many test images")
    args = p.parse_args(argv)
    r = deployed_accuracy(args.model, args.out, args.lava)
    print(f"model {args.model}: {r['test_images']} test images")
    print(f"  float accuracy     {100 * r['float_accuracy']:.2f}%")
    print(f"  deployed accuracy  {100 * r['deployed_accuracy']:.2f}%  (integer network, loihi2, {r['cores']} cores)")
    print(f"  difference         {100 * (r['deployed_accuracy'] - r['float_accuracy']):+.2f} points; "
          f"same prediction on {100 * r['prediction_agreement']:.2f}% of images")
    if "lava_bit_exact" in r:
        print(f"  reference == Lava on {args.lava} images: {r['lava_bit_exact']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
