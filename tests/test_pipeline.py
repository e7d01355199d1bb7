"""Pipelines as text and typed pass options: parsing, round trips, errors naming what is wrong, the command line."""

import json

import pytest

import snncc
from snncc.cli import build_parser
from snncc.errors import PipelineError
from snncc.passes import PASSES, Pipeline, default_pipeline
from snncc.passes.options import option_fields
from tests.models import mlp
from tests.test_cli import assert_user_error
from tests.test_cli import snncc as run_cli

DEFAULT_TEXT = (
    "canonicalize,balance-latency,lower-neurons{arlif=program},quantize{bias_resolution=weight},"
    "split-fan-in{fan_in_split=on},lower-primitives{multilevel=population},"
    "partition{algorithm=greedy,share_cores=True},place{algorithm=traffic}"
)


def test_the_default_pipeline_as_text_and_back() -> None:
    assert default_pipeline().text() == DEFAULT_TEXT
    assert Pipeline.parse(DEFAULT_TEXT).text() == DEFAULT_TEXT
    # options not written keep their defaults; spaces are allowed
    short = Pipeline.parse(" canonicalize , quantize{ bias_resolution = fine }, place ")
    assert [p.name for p in short] == ["canonicalize", "quantize", "place"]
    assert short.passes[1].bias_resolution == "fine" and short.passes[2].algorithm == "traffic"


def test_options_are_typed_fields_of_their_pass() -> None:
    calibrate = Pipeline.parse("calibrate{data=x.npy,method=percentile,percentile=99.5}").passes[0]
    assert (calibrate.data, calibrate.method, calibrate.percentile) == ("x.npy", "percentile", 99.5)
    assert Pipeline.parse("calibrate{percentile=None}").passes[0].percentile is None
    # the families' choices are options of the passes they configure
    assert {f.name for f in option_fields(PASSES["lower-neurons"])} == {"arlif"}
    assert {f.name for f in option_fields(PASSES["lower-primitives"])} == {"multilevel"}
    assert Pipeline.parse("lower-neurons{arlif=stock}").passes[0].arlif == "stock"


def test_an_optional_pass_joins_the_default_pipeline_when_its_options_ask() -> None:
    assert "calibrate" not in [p.name for p in default_pipeline()]
    assert "calibrate" not in [p.name for p in default_pipeline({"calibrate.method": "max"})]  # quantize's own rule
    names = [p.name for p in default_pipeline({"calibrate.percentile": 99.9})]
    assert names.index("lower-neurons") < names.index("calibrate") < names.index("quantize")


def test_configure_sets_options_by_pass_and_by_unique_name() -> None:
    configured = default_pipeline().configure({"quantize.bias_resolution": "fine", "multilevel": "substep"})
    assert "quantize{bias_resolution=fine}" in configured.text()
    assert "lower-primitives{multilevel=substep}" in configured.text()
    with pytest.raises(PipelineError, match="ambiguous.*partition.*place"):
        default_pipeline().configure({"algorithm": "greedy"})
    with pytest.raises(PipelineError, match="option 'nonsense' belongs to no pass"):
        default_pipeline({"nonsense": 1})
    with pytest.raises(PipelineError, match="the pipeline has no 'calibrate' pass"):
        Pipeline.parse("canonicalize").configure({"calibrate.method": "max"})


@pytest.mark.parametrize("text, message", [
    ("canonicalize,fold", "unknown pass 'fold'"),
    ("quantize{rounding=up}", "cannot read option 'rounding=up'"),
    ("quantize{bias_resolution=coarse}", "quantize.bias_resolution must be one of ('weight', 'fine'), got 'coarse'"),
    ("partition{algorithm=best}", "partition.algorithm must be one of"),
    ("calibrate{percentile=high}", "calibrate.percentile: 'high' is not a"),
    ("quantize{bias_resolution}", "cannot read option 'bias_resolution'"),
    ("canonicalize;quantize", "cannot read from ';quantize'"),
    ("  ", "the pipeline is empty"),
])
def test_malformed_pipeline_text_is_named(text: str, message: str) -> None:
    with pytest.raises(PipelineError) as err:
        Pipeline.parse(text)
    assert message in str(err.value)


def test_a_pipeline_without_what_every_bundle_needs_is_refused_before_it_runs(tmp_path) -> None:
    with pytest.raises(PipelineError, match="has no lower-primitives pass, which every bundle needs"):
        snncc.compile(mlp(sizes=(6, 5, 3)), "loihi2", tmp_path / "b",
                      pipeline="canonicalize,quantize,partition,place")
    assert not (tmp_path / "b").exists()
    with pytest.raises(PipelineError, match="a pass appears twice"):
        snncc.compile(mlp(sizes=(6, 5, 3)), "loihi2", pipeline="canonicalize,quantize,lower-primitives,partition,"
                      "place,place")


def test_every_option_with_a_flag_is_a_compile_flag() -> None:
    compile_parser = build_parser()._subparsers._group_actions[0].choices["compile"]
    flags = {opt for action in compile_parser._actions for opt in action.option_strings}
    declared = {f.metadata["cli"] for cls in PASSES.values() for f in option_fields(cls) if f.metadata.get("cli")}
    assert declared >= {"--bias-resolution", "--arlif", "--multilevel", "--calibrate", "--calibrate-method"}
    assert declared <= flags
    args = build_parser().parse_args(["compile", "m.pt", "--arlif", "stock", "--calibrate-percentile", "99"])
    assert vars(args)["pass:lower-neurons.arlif"] == "stock"
    assert vars(args)["pass:calibrate.percentile"] == 99.0


def test_compile_runs_the_given_pipeline_and_the_manifest_records_it(tmp_path) -> None:
    import torch

    model = tmp_path / "mlp.pt"
    torch.save(mlp(sizes=(12, 20, 6)), model)
    out = tmp_path / "bundle"
    proc = run_cli("compile", model, "-o", out, "--timesteps", "4", "--samples", "2", "--multilevel", "substep",
                   "--passes", "canonicalize,lower-neurons,quantize{bias_resolution=fine},lower-primitives,"
                   "partition,place")
    assert proc.returncode == 0, proc.stderr
    assert "[snncc] pass 1/6: canonicalize" in proc.stderr  # balance-latency is not in this pipeline
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pipeline"] == (
        "canonicalize,lower-neurons{arlif=program},quantize{bias_resolution=fine},"
        "lower-primitives{multilevel=substep},partition{algorithm=greedy,share_cores=True},place{algorithm=traffic}")
    # the pipeline the manifest records is one the command accepts
    again = run_cli("compile", model, "-o", tmp_path / "again", "--timesteps", "4", "--samples", "2", "-q",
                    "--passes", manifest["pipeline"])
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "manifest.json").read_text())["pipeline"] == manifest["pipeline"]

    bad = run_cli("compile", model, "-o", tmp_path / "bad", "--passes", "canonicalize,quantize{bias=1}")
    assert_user_error(bad, "pass 'quantize': cannot read option 'bias=1'")
    assert not (tmp_path / "bad").exists()
