"""Acceptance for the row-by-row recurrent digits example (examples/digits_rsnn): the SHIPPED model (no retraining)
compiled for loihi2 keeps its float accuracy within 1 point on the 360 test images; the float IR computes what torch
computes, spike for spike, on the row sequence; reference == Lava bit for bit; the CLI compiles and verifies it."""

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

import snncc
from examples.digits.data import load_digits_split
from examples.digits_rsnn.deploy import measure
from examples.digits_rsnn.train import HERE, ROWS, accuracy, row_payloads, row_sequence
from snncc.frontend.loading import load_model
from snncc.neurons import LIF, Recurrent, run_sequence
from snncc.testing import assert_equivalent
from snncc.training import deploy_exact

MODEL, FLOAT_MODEL = HERE / "model.pt", HERE / "model_float.pt"


@pytest.fixture(scope="module")
def split():
    return load_digits_split(seed=0)


@pytest.fixture(scope="module")
def measured():
    return measure(MODEL, "loihi2")


@pytest.fixture(scope="module")
def bundle():
    return snncc.compile(MODEL, "loihi2", options=snncc.Options(timesteps=load_model(MODEL).module.timesteps))


def test_shipped_models_load_safely_and_are_small():
    for path in (MODEL, FLOAT_MODEL):
        assert path.stat().st_size < 1 << 20, path
        model = load_model(path).module  # torch weights_only + snncc's allow-list: no code from the file
        assert model.encoding == "rows" and model.timesteps == ROWS + model.extra_steps
        assert isinstance(model[2], Recurrent) and isinstance(model[2].body, LIF)
    assert all(m.deploy_params is not None for m in load_model(MODEL).module.modules() if isinstance(m, LIF))


def test_payloads_are_the_image_rows(split):
    x = row_payloads(split.x_test[:5], extra_steps=2)
    assert x.shape == (5, ROWS + 2, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(x[:, :ROWS], np.rint(split.x_test[:5] * 16).reshape(5, ROWS, 8))
    assert not x[:, ROWS:].any()
    seq = row_sequence(split.x_test[:5], extra_steps=2)  # what torch sees: payload / 16, step-major
    np.testing.assert_array_equal(np.rint(seq.numpy() * 16).astype(np.int64), x.transpose(1, 0, 2))


def test_deployed_accuracy_within_one_point_of_float(measured, split):
    r = measured
    float_acc = accuracy(load_model(FLOAT_MODEL).module, split.x_test, split.y_test, r["extra_steps"])
    shipped_acc = accuracy(load_model(MODEL).module, split.x_test, split.y_test, r["extra_steps"])
    assert r["test_images"] == 360 and r["timesteps"] == 10
    assert float_acc > 0.9, float_acc
    assert r["float_accuracy"] == shipped_acc
    assert abs(r["deployed_accuracy"] - float_acc) <= 0.01, (r["deployed_accuracy"], float_acc)
    # the shipped model is deploy-exact (QAT-finalized): torch == the compiled network, image for image
    assert r["deployed_accuracy"] == shipped_acc
    assert r["prediction_agreement"] == 1.0 and r["count_agreement"] == 1.0
    assert r["recurrent"] == ["linear_2_feedback"]


def test_float_ir_equals_torch_on_the_row_sequence(bundle, split):
    """The bundle's float graph spikes as the torch model in float mode does, in both layers, on 24 test images."""
    model = deploy_exact(copy.deepcopy(load_model(MODEL).module), enable=False)
    images = split.x_test[:24]
    got = bundle.run(row_payloads(images, model.extra_steps), "float")
    hidden: list[torch.Tensor] = []
    hook = model[2].body.register_forward_hook(lambda _m, _i, o: hidden.append(o.detach()))
    with torch.no_grad():
        out = run_sequence(model, row_sequence(images, model.extra_steps).double())
    hook.remove()
    np.testing.assert_array_equal(got.layers["lif_4"].spikes, out.permute(1, 0, 2).numpy().astype(np.int64))
    np.testing.assert_array_equal(got.layers["lif_2_body"].spikes,
                                  torch.stack(hidden, dim=1).numpy().astype(np.int64))
    assert got.layers["lif_2_body"].spikes.sum() > 0


@pytest.mark.lava
def test_reference_equals_lava(bundle, split):
    """Spikes, u and v of both layers at every step, on 3 test images."""
    assert_equivalent(bundle, row_payloads(split.x_test[:3], load_model(MODEL).module.extra_steps))


@pytest.mark.lava
def test_cli_compiles_and_verifies(tmp_path):
    out = tmp_path / "bundle"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "snncc.cli", *map(str, args)], capture_output=True, text=True,
                              timeout=300)

    proc = cli("compile", MODEL, "--target", "loihi2", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "138 neurons" in proc.stdout
    proc = cli("verify", out, "--samples", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BIT-EXACT" in proc.stdout and "MISMATCH" not in proc.stdout
    assert proc.stdout.strip().endswith("PASS")
