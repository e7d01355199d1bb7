"""The PilotNet energy benchmark's pieces on small stand-ins (lava-dl's checkout is not available to the tests): the
frame recovered from a notebook's saved figure, the input transform, and the estimate with the input bias set."""

from __future__ import annotations

import base64
import io
import json

import h5py
import numpy as np

from snncc.compiler import Options, compile_model
from tests.benchmarks import load

bench = load("bench_pilotnet_energy")
LOIHI_NEURON = {"type": b"LOIHI", "iDecay": 4096, "vDecay": 0, "vThMant": 100, "refDelay": 1, "wgtExp": 0}


def _netx(path, rng: np.random.Generator):
    """An input block of 3 x 2 x 4 LOIHI neurons (transform weight 40, bias 36, as PilotNet's) and a dense block."""
    with h5py.File(path, "w") as f:
        blocks = f.create_group("layer")
        for i, (kind, fields) in enumerate((("input", {"shape": np.array([3, 2, 4]), "weight": 40.0, "bias": 36.0}),
                                            ("dense", {"shape": np.array([5]),
                                                       "weight": rng.integers(-8, 9, (5, 24)).astype(float)}))):
            g = blocks.create_group(str(i))
            g["type"] = np.array([kind.encode()])
            for k, v in fields.items():
                g[k] = v
            for k, v in LOIHI_NEURON.items():
                g[f"neuron/{k}"] = v
    return path


def test_estimate_drives_the_input_neurons_with_the_frame_as_their_bias(tmp_path) -> None:
    path = _netx(tmp_path / "net.net", np.random.default_rng(0))
    frame = np.ones((66, 200, 3))  # resized frames are (66, 200, 3); the stand-in net reads its first 24 values
    bias = bench.input_bias(path, frame)
    assert bias.shape == (66 * 200 * 3,) and set(bias.tolist()) == {2 * 40 - 40 + 36}
    bundle = compile_model(path, "loihi2", options=Options(timesteps=bench.STEPS, samples=1))
    lit = bench.estimate(bundle, bias[:24])
    # IF input neurons (no decay), bias 76 << 6 per step, threshold 100 << 6, reset to zero: a spike every 2nd step
    assert lit["per_inference"]["spikes"] >= 24 * bench.STEPS // 2
    input_layer = next(k for k, v in lit["layers"].items() if v.get("spikes") == 24 * bench.STEPS // 2)
    assert lit["layers"][input_layer]["neuron_updates"] == 24 * bench.STEPS
    dark = bench.estimate(bundle, None)
    assert dark["per_inference"]["spikes"] == 0 and dark["per_inference"]["synops"] == 0
    assert dark["target_model"]["dynamic_total_j"] < lit["target_model"]["dynamic_total_j"]
    band = lit["target_model"]["band"]
    assert band["low"]["dynamic_total_j"] < band["high"]["dynamic_total_j"]


def test_frame_recovered_from_a_notebooks_saved_figure(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, x = np.mgrid[0:66, 0:200]
    frame = np.stack([x / 199, y / 65, 0.5 + 0 * x], axis=2)  # smooth, so the figure's resampling keeps it
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    axes[0].imshow(frame)
    axes[0].set_title("Input Frame")
    axes[1].plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    notebook = tmp_path / "run.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [
        {"data": {"image/png": base64.b64encode(buf.getvalue()).decode()}}]}]}))
    got = bench.notebook_frame(notebook)
    assert got.shape == (66, 200, 3)
    assert np.abs(got - frame).mean() < 0.03
