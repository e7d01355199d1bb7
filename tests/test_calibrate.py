"""The calibrate pass: clip rules, error-minimising rounding, and what quantize does with them.

Before/after checks on the IR (the clip and the rounded weights are on the quantizer's grid, so quantize reproduces
them exactly), exactness of the rounding's objective on random inputs, a badly scaled layer (one outlier weight)
that calibration repairs, errors for bad input, the CLI option, and reference == Lava on a calibrated bundle.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snncc
from snncc.cli import main as cli_main
from snncc.errors import QuantizationError, VerificationError
from snncc.fidelity import compare_float_int
from snncc.ir import QDense
from snncc.ir.keys import WEIGHT_CLIP as CLIP_KEY
from snncc.passes.rounding import gram_dense, round_to_grid
from snncc.verify import compare_results
from tests.models import mlp

SIZES = (16, 40, 6)


def payloads(n: int, seed: int, t: int = 10) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 9, (n, t, SIZES[0]))


def test_error_minimising_rounding_reduces_its_objective_on_random_layers():
    """Sequential rounding is a heuristic: measured over 60 random layers it cuts |X (W - Q)|^2 by about 30% at
    the median and rarely loses (the calibrate pass keeps nearest rounding when it does)."""
    ratios = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n_in, n_out, density = int(rng.integers(2, 40)), int(rng.integers(1, 10)), rng.uniform(0.05, 0.9)
        x = (rng.random((400, n_in)) < density) * rng.integers(1, 4, (400, n_in))
        w = rng.normal(0, 1, (n_out, n_in))
        unit = float(np.abs(w).max()) / 127
        m = round_to_grid(w, unit, -128, 127, gram_dense(x))
        nearest = np.clip(np.round(w / unit), -128, 127)
        assert m.dtype == np.int64 and m.min() >= -128 and m.max() <= 127
        assert np.all(np.abs(m - w / unit) <= 3)  # a correction of a few steps, never a different weight
        ratios.append(np.sum((x @ (w - m * unit).T) ** 2) / np.sum((x @ (w - nearest * unit).T) ** 2))
    assert np.median(ratios) < 0.8 and np.mean(np.array(ratios) > 1) < 0.1, ratios


def _compile(model, calibration=None, method=None, target="loihi2"):
    return snncc.compile(model, target, options=snncc.Options(
        inputs=payloads(8, 1), timesteps=10, passes={"calibrate.data": calibration, "calibrate.method": method}))


def test_calibrated_weights_lie_on_the_quantizer_grid():
    """Before: float weights; after calibrate: each rounded weight is mantissa x unit, with the clip that makes
    quantize pick exactly that unit, so quantize's mantissas times unit give back the calibrated weights."""
    model = mlp(SIZES, threshold=0.5, seed=3)
    b = _compile(model, payloads(64, 2))
    cal = b.report["quantization"]["calibration"]
    assert cal["method"] == "search" and cal["samples"] == 64
    for name, note in cal["layers"].items():
        assert note["rounding"] == "error-minimising", name
        assert note["input_error"] < note["input_error_nearest"] <= note["input_error_max_rule"] * (1 + 1e-9)
        q = b.report["quantization"]["layers"][name]
        assert q["weight_clip"] == pytest.approx(127 * 2.0 ** q["weight_exp"] / q["scale"])
    for syn, node in b.graph.of_type(QDense):
        assert np.abs(node.weight).max() <= 127 and node.metadata["snncc.scale"] > 0, syn


def test_an_outlier_weight_is_clipped_and_the_layer_recovers():
    """A badly scaled layer: one weight 40x the others, on an input that never fires (a dead pixel), makes the max
    rule zero most weights; calibration sees that clipping it costs nothing and gives the layer back its
    resolution (float vs integer agreement rises; the outlier saturates)."""
    model = mlp(SIZES, threshold=0.5, seed=4)
    with torch.no_grad():
        model[1].weight[0, 0] = 40 * model[1].weight.abs().max()
    x, cal = payloads(32, 5), payloads(64, 6)
    x[..., 0] = cal[..., 0] = 0
    plain, calibrated = _compile(model), _compile(model, cal)
    layer = next(iter(plain.report["quantization"]["layers"]))
    agreement = {}
    for key, b in (("max", plain), ("search", calibrated)):
        f = compare_float_int(b.float_graph, b.run(x, "float"), b.graph, b.run(x, "reference"))
        agreement[key] = f["layers"][layer]["agreement"]
    note = calibrated.report["quantization"]["calibration"]["layers"][layer]
    assert note["clip"] is not None and note["clip"] < note["weight_max_abs"] / 4
    assert note["weights_clipped"] >= 1
    assert plain.report["quantization"]["layers"][layer]["weight_zeroed"] > 100
    assert agreement["search"] > agreement["max"] + 0.02, agreement


def test_percentile_rule_needs_no_data_and_max_changes_nothing():
    model = mlp(SIZES, threshold=0.5, seed=3)
    base = _compile(model)
    assert base.report["quantization"]["calibration"]["method"] == "max"
    same = _compile(model, method="max")
    for name, node in base.graph.of_type(QDense):
        np.testing.assert_array_equal(node.weight, same.graph.nodes[name].weight)
    pct = _compile(model, method="percentile")
    notes = pct.report["quantization"]["calibration"]["layers"]
    for name, note in notes.items():
        assert note["clip"] == pytest.approx(note["percentile_clip"]) and note["clip"] < note["weight_max_abs"]
        assert pct.graph.nodes[name].metadata[CLIP_KEY] == note["clip"]  # the float layer's metadata is kept
        assert pct.report["quantization"]["layers"][name]["weight_clip"] == pytest.approx(note["clip"])


def test_a_percentile_alone_selects_the_percentile_rule():
    b = snncc.compile(mlp(SIZES, threshold=0.5, seed=3), "loihi2", options=snncc.Options(
        inputs=payloads(8, 1), timesteps=10, passes={"calibrate.percentile": 95.0}))
    cal = b.report["quantization"]["calibration"]
    assert cal["method"] == "percentile" and cal["percentile"] == 95.0
    assert all(n["clip"] is not None for n in cal["layers"].values())


def test_bad_calibration_input_is_a_named_error():
    model = mlp(SIZES, threshold=0.5, seed=3)
    with pytest.raises(QuantizationError, match="needs calibration data"):
        _compile(model, method="search")
    with pytest.raises(QuantizationError, match="method must be one of"):
        _compile(model, payloads(4, 0), method="best")
    with pytest.raises(VerificationError, match=r"calibration data: payloads must be shaped \(samples, timesteps, "
                                                 rf"{SIZES[0]}\)"):
        _compile(model, np.zeros((4, 10, SIZES[0] + 1), np.int64))


def test_cli_calibrate(tmp_path, capsys):
    path = tmp_path / "m.pt"
    model = mlp(SIZES, threshold=0.5, seed=3)
    model.timesteps = 10
    torch.save(model, path)
    np.save(tmp_path / "cal.npy", payloads(32, 7))
    out = tmp_path / "bundle"
    assert cli_main(["compile", str(path), "-o", str(out), "--calibrate", str(tmp_path / "cal.npy"), "-q"]) == 0
    report = (out / "report.md").read_text()
    assert "calibration" in report.lower() and "error-minimising" in report
    assert cli_main(["compile", str(path), "-o", str(tmp_path / "b2"), "--calibrate-method", "search", "-q"]) == 2
    assert "needs calibration data" in capsys.readouterr().err


@pytest.mark.lava
def test_calibrated_bundle_is_bit_exact_on_lava():
    b = _compile(mlp(SIZES, threshold=0.5, seed=8), payloads(32, 9))
    x = payloads(3, 10)
    ref = b.run(x, "reference", record_states=True)
    assert compare_results("reference", ref, "lava", b.run(x, "lava", record_states=True), states=True).equal
