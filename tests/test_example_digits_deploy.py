"""Acceptance: the shipped digits models, compiled for loihi2, keep their float accuracy within 1 point."""

import pytest

from examples.digits.deploy import HERE, deployed_accuracy


@pytest.mark.lava
@pytest.mark.parametrize("model", ["model.pt", "model_rate.pt"])
def test_deployed_accuracy_within_one_point(model, tmp_path):
    r = deployed_accuracy(HERE / model, tmp_path / "bundle", lava_samples=8)
    assert r["test_images"] == 360
    assert r["float_accuracy"] > 0.95
    assert abs(r["deployed_accuracy"] - r["float_accuracy"]) <= 0.01
    assert r["lava_bit_exact"]
    assert (tmp_path / "bundle" / "network.net").is_file()  # hard reset, biases in weight units: netx-expressible
