"""Acceptance for the seed-neuron digits examples: every shipped model loads with the safe loader, compiles for its
target(s), and (exact families) keeps its float accuracy within 1 point once deployed; the compiled networks run
bit-exactly on Lava; the CLI compiles and verifies one of them."""

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

import snncc
from examples.digits.data import load_digits_split
from examples.digits_arlif.train import snap_to_deploy_grid
from examples.seed_deploy import EXAMPLES, SHIPPED, accuracy, float_counts, load_seed_model, measure
from snncc.errors import UnsupportedLayerError
from snncc.neurons import ARLIF, KLIF, QCFS, GroupNeuron, MultiLevel

LAVA_IMAGES = 3
# Families whose lowering is exact: deployment may only differ by weight/decay rounding (within 1 point).
EXACT = [
    ("digits_klif/model.pt", "loihi2"),
    ("digits_klif/model_rate.pt", "loihi2"),
    ("digits_klif/model_rate.pt", "loihi"),
    ("digits_arlif/model.pt", "loihi2"),
    ("digits_multilevel/model.pt", "loihi2"),
    ("digits_multilevel/model.pt", "loihi"),
    ("digits_gn/model.pt", "loihi2"),
    ("digits_asn/model.pt", "loihi2"),
    ("digits_asn/model_nasn.pt", "loihi2"),
    ("digits_vgg/model.pt", "loihi2"),
    ("digits_resnet/model.pt", "loihi2"),
]


@pytest.fixture(scope="module")
def split():
    return load_digits_split(seed=0)


@pytest.fixture(scope="module")
def measured():
    """measure() results, computed once per (model, target, lowering, T) and shared by the tests below."""
    cache: dict = {}

    def get(model: str, target: str, lowering: str = "program", timesteps: int | None = None,
            lava: int = 0) -> dict:
        key = (model, target, lowering, timesteps, lava)
        if key not in cache:
            cache[key] = measure(EXAMPLES / model, target, None, lowering, lava, timesteps)
        return cache[key]

    return get


def test_every_shipped_model_loads_safely_and_is_small():
    for name in sorted({m for m, *_ in SHIPPED} | {"digits_gn/ann.pt"}):
        path = EXAMPLES / name
        assert path.stat().st_size < 1 << 20, name
        model = load_seed_model(path)  # torch weights_only + snncc's allow-list: no code from the file
        assert model.encoding in ("direct", "rate") and model.timesteps >= 1, name


@pytest.mark.parametrize("model,target", EXACT)
def test_exact_families_deploy_within_one_point(measured, model, target):
    r = measured(model, target)
    assert r["test_images"] == 360
    assert r["float_accuracy"] > (0.94 if "vgg" in model else 0.95), r["float_accuracy"]
    assert abs(r["deployed_accuracy"] - r["float_accuracy"]) <= 0.01, r
    assert all(v["exact"] for v in r["lowering"].values()), r["lowering"]


def test_klif_lowers_to_a_floored_lif_with_its_learned_k(measured):
    model = load_seed_model(EXAMPLES / "digits_klif/model.pt")
    ks = [float(m.effective_k().detach()) for m in model if isinstance(m, KLIF)]
    assert all(abs(k - 1.5) > 0.05 for k in ks)  # k moved away from its initial value: it was learned
    r = measured("digits_klif/model.pt", "loihi2")
    assert {v["to"] for v in r["lowering"].values()} == {"LIF with membrane floor"}
    assert {p["primitive"] for p in r["primitives"].values()} == {"lif_custom"}


def test_direct_encoded_klif_does_not_compile_for_loihi1():
    with pytest.raises(UnsupportedLayerError, match="no graded spikes"):
        snncc.compile(EXAMPLES / "digits_klif/model.pt", "loihi")


def test_arlif_deploy_exact_model_is_deployed_bit_for_bit(measured):
    r = measured("digits_arlif/model.pt", "loihi2")
    assert r["deploy_exact"]
    assert r["count_agreement"] == 1.0  # every test image: identical output spike counts, torch vs integer network
    assert r["deployed_accuracy"] == r["float_accuracy"]
    assert {p["primitive"] for p in r["primitives"].values()} == {"arlif"}


def test_arlif_deploy_exact_weights_are_on_the_deploy_grid():
    model = load_seed_model(EXAMPLES / "digits_arlif/model.pt")
    assert all(m.deploy_exact for m in model if isinstance(m, ARLIF))
    snapped = copy.deepcopy(model)
    snap_to_deploy_grid(snapped)
    for a, b in zip(model.parameters(), snapped.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_arlif_float_model_and_stock_lowering_are_approximate_and_measured(measured):
    program = measured("digits_arlif/model_float.pt", "loihi2")
    assert not program["deploy_exact"] and program["count_agreement"] < 1.0  # the table differs from tanh/sigmoid
    for model in ("digits_arlif/model_float.pt", "digits_arlif/model.pt"):
        stock = measured(model, "loihi2", "stock")
        assert stock["lowering"] and not any(v["exact"] for v in stock["lowering"].values())
        assert all("measured" in v for v in stock["lowering"].values())
        assert {p["primitive"] for p in stock["primitives"].values()} == {"lif_hard_reset"}
        assert stock["deployed_accuracy"] > 0.5  # an approximation, but still a digit classifier


def test_multilevel_expands_into_populations_on_loihi1(measured):
    model = load_seed_model(EXAMPLES / "digits_multilevel/model.pt")
    levels = [m.levels for m in model if isinstance(m, MultiLevel)]
    r2, r1 = measured("digits_multilevel/model.pt", "loihi2"), measured("digits_multilevel/model.pt", "loihi")
    assert {p["primitive"] for p in r2["primitives"].values()} == {"multilevel_graded"}
    assert r1["neurons"] == levels[0] * 128 + levels[1] * 10 and r2["neurons"] == 138
    assert all(v["exact"] for v in r1["lowering"].values()) and len(r1["lowering"]) == 2
    assert {p["primitive"] for p in r1["primitives"].values()} == {"lif_custom"}  # binary soft-reset members
    # exact expansion: the populations deliver, image for image, the counts of the graded network
    np.testing.assert_array_equal(r1["deployed_counts"], r2["deployed_counts"])


def test_multilevel_runs_on_substeps_on_loihi1(measured):
    """The sub-step lowering keeps the 138 neurons, multiplies the time steps by the levels, and delivers, image for
    image, the counts of the graded network."""
    model = load_seed_model(EXAMPLES / "digits_multilevel/model.pt")
    levels = max(m.levels for m in model if isinstance(m, MultiLevel))
    r2 = measured("digits_multilevel/model.pt", "loihi2")
    rs = measured("digits_multilevel/model.pt", "loihi", "substep")
    assert rs["neurons"] == r2["neurons"] == 138 and rs["substeps"] == levels and r2["substeps"] == 1
    assert {p["primitive"] for p in rs["primitives"].values()} == {"multilevel_substep"}
    assert all(v["exact"] and v["timestep_factor"] == levels for v in rs["lowering"].values())
    np.testing.assert_array_equal(rs["deployed_counts"], r2["deployed_counts"])


def test_group_neuron_snn_at_one_step_is_the_qcfs_ann(split, measured):
    ann = load_seed_model(EXAMPLES / "digits_gn/ann.pt")
    snn = load_seed_model(EXAMPLES / "digits_gn/model.pt")
    assert any(isinstance(m, QCFS) for m in ann) and any(isinstance(m, GroupNeuron) for m in snn)
    np.testing.assert_array_equal(float_counts(snn, split.x_test, "direct", 1),
                                  float_counts(ann, split.x_test, "direct", 1))
    assert accuracy(ann, split.x_test, split.y_test, "direct", 1) > 0.95
    for t in (1, 8):
        r = measured("digits_gn/model.pt", "loihi2", timesteps=t)
        assert abs(r["deployed_accuracy"] - r["float_accuracy"]) <= 0.01, r


@pytest.mark.lava
@pytest.mark.parametrize("model,target,lowering", [
    ("digits_klif/model.pt", "loihi2", "program"),
    ("digits_klif/model_rate.pt", "loihi", "program"),
    ("digits_arlif/model.pt", "loihi2", "program"),
    ("digits_arlif/model_float.pt", "loihi2", "stock"),
    ("digits_multilevel/model.pt", "loihi2", "program"),
    ("digits_multilevel/model.pt", "loihi", "program"),
    ("digits_multilevel/model.pt", "loihi", "substep"),
    ("digits_gn/model.pt", "loihi2", "program"),
    ("digits_asn/model_nasn.pt", "loihi2", "program"),
])
def test_reference_equals_lava_bit_for_bit(model, target, lowering):
    r = measure(EXAMPLES / model, target, None, lowering, lava_samples=LAVA_IMAGES)
    assert r["lava_bit_exact"], r["lava_first_mismatch"]


@pytest.mark.lava
@pytest.mark.parametrize("model,target,options", [
    ("digits_multilevel/model.pt", "loihi", ()),
    ("digits_multilevel/model.pt", "loihi", ("--multilevel", "substep")),
    ("digits_klif/model_rate.pt", "loihi", ()),
    ("digits_arlif/model.pt", "loihi2", ()),
    ("digits_vgg/model.pt", "loihi2", ()),
    ("digits_resnet/model.pt", "loihi2", ()),
])
def test_cli_compiles_and_verifies(model, target, options, tmp_path):
    out = tmp_path / "bundle"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "snncc.cli", *map(str, args)], capture_output=True, text=True,
                              timeout=300)

    proc = cli("compile", EXAMPLES / model, "--target", target, *options, "-o", out)
    assert proc.returncode == 0, proc.stderr
    proc = cli("verify", out, "--samples", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BIT-EXACT" in proc.stdout and "MISMATCH" not in proc.stdout
    assert proc.stdout.strip().endswith("PASS")
