"""The fuzz harness (tests/fuzz) in the default suite: a small run of random valid models on both built-in targets,
and the harness itself seen to flag what it must flag.

The small run compiles ``SMALL_MODELS`` generated models for loihi2 and loihi in worker processes, verifies
``SMALL_VERIFY`` of the bundles (reference == Lava, == netx where written) and fails on any crash, hang,
undocumented refusal or model whose float bundle differs from torch. The large run is ``scripts/fuzz.py``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import snncc
from snncc import neurons as N
from snncc.errors import QuantizationError, SnnccError
from snncc.frontend.loading import load_model
from tests.fuzz.cases import (
    COMPILED,
    CRASHED,
    HUNG,
    REFUSED,
    UNDOCUMENTED,
    classify_refusal,
    outcome_of_exception,
    snncc_compile,
)
from tests.fuzz.driver import TARGETS, fuzz, run_jobs
from tests.fuzz.generate import generate
from tests.fuzz.limitations import LIMITATIONS
from tests.fuzz.neurons import FAMILIES
from tests.fuzz.report import summary

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODELS = 40  # per target
SMALL_VERIFY = 5


@pytest.mark.lava
def test_a_small_fuzz_run_compiles_refuses_only_documented_limitations_and_verifies_bit_exact():
    run = fuzz(range(SMALL_MODELS), TARGETS, verify=SMALL_VERIFY, workers=2, timeout=300, verify_timeout=600)
    report = summary(run)
    assert len(run.cases) == SMALL_MODELS * len(TARGETS)
    assert run.passed, report
    compiled = [c for c in run.cases if c["status"] == COMPILED]
    assert {c["job"]["target"] for c in compiled} == set(TARGETS), report  # each target compiles something
    assert len(run.verified) == min(SMALL_VERIFY, len(compiled))
    assert all(v["status"] == "bit-exact" and "reference vs lava" in v["compared"] for v in run.verified), report


def test_generate_is_deterministic_and_its_models_pass_the_safe_loader(tmp_path):
    for seed in range(12):
        (a, da), (b, db) = generate(seed), generate(seed)
        assert da.to_dict() == db.to_dict() and str(a) == str(b)
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        torch.save(a, tmp_path / f"{seed}.pt")
        loaded = load_model(tmp_path / f"{seed}.pt")
        assert not loaded.unsafe and str(loaded.module) == str(a)
    assert generate(0)[1].text() != generate(1)[1].text()


def test_the_generator_covers_every_family_and_feature():
    descs = [generate(seed)[1] for seed in range(160)]
    assert set().union(*(d.families for d in descs)) == set(FAMILIES)
    tags = set().union(*(d.tags for d in descs))
    for tag in ("graded-input", "binary-input", "kind-conv", "kind-dense", "pool", "adaptive-pool", "batchnorm",
                "residual-sew", "residual-current", "residual-downsample", "reset-zero", "reset-subtract",
                "single-neuron", "wide-fan-in", "tiny-weights", "huge-weights", "qcfs-converted",
                "klif-k-at-bound", "klif-after-conv", "pool-then-dilated-conv"):
        assert tag in tags, tag
    options = {(k, v) for d in descs for k, v in d.options.items()}
    assert {("multilevel", "substep"), ("arlif", "stock"), ("bias_resolution", "fine")} <= options
    assert {d.via for d in descs} == {"api", "file", "cli"}
    text = " ".join(d.text() for d in descs)
    assert "L=1," in text and "b=0," in text and "b=1," in text  # levels=1, beta at both bounds


def test_every_known_limitation_is_documented_with_why():
    doc = (ROOT / "docs" / "limitations.md").read_text()
    sections = dict(re.findall(r"^### `([a-z0-9-]+)`\n+(.+?)(?=^#)", doc + "\n#", re.M | re.S))
    for lim in LIMITATIONS:
        assert lim.name in sections, f"{lim.name} is not in docs/limitations.md"
        assert len(sections[lim.name].split()) > 20, f"{lim.name}: say why"
    assert len({lim.name for lim in LIMITATIONS}) == len(LIMITATIONS)


def test_refusals_are_classified_by_the_table():
    graded = nn.Sequential(N.GradedInput(4), nn.Linear(3, 2), N.LIF())
    with pytest.raises(SnnccError) as exc:
        snncc.compile(graded, "loihi", None, snncc.Options(timesteps=2, samples=1))
    assert outcome_of_exception(exc.value) | {"message": ""} == {
        "status": REFUSED, "reason": "graded-input-without-graded-spikes", "error_class": "UnsupportedLayerError",
        "message": ""}
    assert classify_refusal("UnsupportedLayerError", "layer 'x': something nobody documented") == {
        "status": UNDOCUMENTED, "reason": None}
    message = "in pass 'lower-neurons': shape mismatch on edge (input -> conv2d_1): input gives (36,), takes (1,)"
    assert classify_refusal("GraphError", message)["status"] == UNDOCUMENTED  # a wrongful refusal: a failure
    crash = outcome_of_exception(ZeroDivisionError("boom"))
    assert crash["status"] == CRASHED and "ZeroDivisionError: boom" in crash["traceback"]


# ---- fakes the driver runs in its worker processes (named "tests.test_fuzz:<function>") ---------------------------
def fake_compile(model: nn.Module, desc, target: str, out: Path):
    """By seed: 0 compiles for real, 1 crashes, 2 refuses with an undocumented error, 3 is refused for real by a
    documented limitation (a graded input on Loihi 1)."""
    kind = desc.seed % 4
    if kind == 1:
        return {}["no such key"]
    if kind == 2:
        raise QuantizationError("a refusal no limitation documents", layer="fake")
    if kind == 3:
        model = nn.Sequential(N.GradedInput(4), nn.Linear(3, 2), N.LIF())
        target = "loihi"
    return snncc_compile(model, desc, target, out)


def sleeps(job: dict) -> dict:
    time.sleep(3600)
    return {"status": COMPILED}


def dies(job: dict) -> dict:
    os._exit(3)


def answers(job: dict) -> dict:
    return {"status": COMPILED, "reason": None, "pid": os.getpid()}


def test_the_driver_flags_a_crashing_and_a_refusing_compile():
    seeds = [0, 1, 2, 3]
    run = fuzz(seeds, ["loihi2"], verify=0, workers=2, compile_fn="tests.test_fuzz:fake_compile")
    status = {c["job"]["seed"]: c["status"] for c in run.cases}
    assert status[1] == CRASHED and status[2] == UNDOCUMENTED and status[3] == REFUSED
    assert not run.passed
    assert {c["job"]["seed"] for c in run.failures} == {1, 2}
    crash = next(c for c in run.cases if c["job"]["seed"] == 1)
    assert crash["error_class"] == "KeyError" and "fake_compile" in crash["traceback"]
    report = summary(run)
    assert "[crashed]" in report and "[undocumented]" in report and "--replay 1 --targets loihi2" in report
    assert report.rstrip().endswith("FAIL: 2 failing cases")


def test_the_driver_flags_a_hang_and_a_dying_worker_and_goes_on():
    jobs = [{"runner": "tests.test_fuzz:sleeps", "timeout": 2.0}, {"runner": "tests.test_fuzz:dies"},
            {"runner": "tests.test_fuzz:answers"}, {"runner": "tests.test_fuzz:answers"}]
    results = run_jobs(jobs, workers=2, timeout=60.0)
    assert [r["status"] for r in results] == [HUNG, CRASHED, COMPILED, COMPILED]
    assert "exit code 3" in results[1]["message"]
    assert all(r["job"]["runner"] == j["runner"] for r, j in zip(results, jobs, strict=True))


def test_a_miscompiled_bundle_is_caught_by_the_float_check():
    from tests.fuzz.cases import float_mismatch

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), N.LIF(threshold=0.2), nn.Linear(5, 3), N.LIF(threshold=0.2)).eval()
    bundle = snncc.compile(model, "loihi2", None, snncc.Options(timesteps=6, samples=2))
    assert float_mismatch(model, bundle, samples=4) is None
    with torch.no_grad():
        model[2].weight.neg_()  # the torch model no longer is what was compiled
    assert "differ" in float_mismatch(model, bundle, samples=4)
