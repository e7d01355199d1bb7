"""The digits example: data split and encodings, a short training run, the safe-loader round trip."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("sklearn")

from examples.digits import data as digits_data  # noqa: E402
from examples.digits import train as digits_train  # noqa: E402
from snncc.neurons import LIF, GradedInput  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits"
# The allow-list snncc's loader uses: torch.nn containers/layers, snncc.neurons modules, and two builtins.
ALLOW = [nn.Sequential, nn.Linear, nn.Flatten, nn.Identity, nn.Dropout, LIF, GradedInput, collections.OrderedDict,
         set, *((cls, path) for cls in (LIF, GradedInput) for path in cls.LEGACY_PATHS)]  # snncc 0.1's pickles


def _safe_load(path: Path) -> nn.Module:
    with torch.serialization.safe_globals(ALLOW):
        return torch.load(path, weights_only=True)


@pytest.fixture(scope="module")
def split() -> digits_data.DigitsSplit:
    return digits_data.load_digits_split(seed=0)


def test_split_is_fixed_stratified_and_scaled(split: digits_data.DigitsSplit) -> None:
    assert split.x_train.shape == (1437, 64) and split.x_test.shape == (360, 64)
    assert split.x_train.dtype == np.float32 and split.y_test.dtype == np.int64
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    assert np.allclose(split.x_test * 16, np.rint(split.x_test * 16))  # pixel / 16 exactly
    assert np.bincount(split.y_test).min() >= 35  # stratified: every class ~36 times
    again = digits_data.load_digits_split(seed=0)
    assert np.array_equal(split.x_test, again.x_test) and np.array_equal(split.y_test, again.y_test)


@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_payloads_shape_dtype_range_and_match_encode(split: digits_data.DigitsSplit, encoding: str) -> None:
    x = split.x_test[:20]
    p = digits_data.payloads(x, 5, encoding, np.random.default_rng(3))
    seq = digits_data.encode(x, 5, encoding, np.random.default_rng(3))
    assert p.shape == (20, 5, 64) and p.dtype == np.int64
    assert seq.shape == (5, 20, 64) and seq.dtype == torch.float32
    if encoding == "direct":
        assert p.min() >= 0 and p.max() == 16
        assert np.array_equal(p[:, 0], np.rint(x * 16)) and (p == p[:, :1]).all()
        assert np.array_equal(GradedInput(16).to_payload(seq[0]).numpy(), p[:, 0])
    else:
        assert set(np.unique(p)) <= {0, 1} and p.sum() > 0
        assert not p[:, :, x.max(axis=0) == 0].any()  # always-blank pixels never spike
    assert np.array_equal(seq.numpy().transpose(1, 0, 2), p if encoding == "rate" else p / 16)


def test_prediction_takes_lowest_index_on_ties() -> None:
    counts = np.array([[0, 3, 3, 1], [2, 2, 2, 2], [0, 0, 0, 5]])
    assert digits_train.predict_counts(counts).tolist() == [1, 0, 3]
    assert digits_train.tie_rate(counts) == pytest.approx(2 / 3)


def test_short_training_beats_chance_and_round_trips(split: digits_data.DigitsSplit, tmp_path: Path) -> None:
    res = digits_train.train(split, "direct", timesteps=8, hidden=64, epochs=2, seed=0, lr=5e-3, verbose=False)
    assert len(res.history) == 2
    acc = digits_train.evaluate(res.model, split.x_test, split.y_test, "direct", 8)
    assert acc > 0.7  # chance is 0.1; the full run reaches ~0.97
    path = digits_train.save_model(res.model, tmp_path / "m.pt", timesteps=8, encoding="direct")
    loaded = _safe_load(path)
    assert loaded.timesteps == 8 and loaded.encoding == "direct"
    assert isinstance(loaded[0], GradedInput) and isinstance(loaded[-1], LIF)
    assert digits_train.evaluate(loaded, split.x_test, split.y_test, "direct", 8) == acc
    q = digits_train.fake_quantize(loaded)
    w = q[1].weight.detach()
    step = float(w.abs().max()) / 127
    assert torch.allclose(w / step, torch.round(w / step), atol=1e-3)


def test_rate_model_has_no_graded_input(split: digits_data.DigitsSplit) -> None:
    m = digits_train.build_model("rate", hidden=16)
    assert isinstance(m[0], nn.Linear) and len(m) == 4
    counts = digits_train.output_counts(m, split.x_test[:10], "rate", 4)
    assert counts.shape == (10, 10) and counts.min() >= 0 and counts.max() <= 4


@pytest.mark.parametrize(("name", "encoding", "min_acc"),
                         [("model.pt", "direct", 0.95), ("model_rate.pt", "rate", 0.94)])
def test_committed_models_load_safely_and_are_accurate(split: digits_data.DigitsSplit, name: str, encoding: str,
                                                       min_acc: float) -> None:
    path = EXAMPLE / name
    assert path.stat().st_size < 1_000_000
    model = _safe_load(path)
    assert model.encoding == encoding and model.timesteps == 16
    assert all(type(m) in (nn.Sequential, nn.Linear, LIF, GradedInput) for m in model.modules())
    assert isinstance(model[0], GradedInput) == (encoding == "direct")
    assert digits_train.evaluate(model, split.x_test, split.y_test, model.encoding, model.timesteps) >= min_acc
