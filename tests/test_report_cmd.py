"""``snncc report BUNDLE``: the folder it writes (report.json, report.md, PNG plots), its numbers against the bundle's
report or a data-set run's summary (``--run``), and what it refuses: bad run files, foreign output folders."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.image import imread

import snncc
from snncc.bundle import Bundle
from snncc.cli import main
from snncc.reports.energy import energy_report
from snncc.reports.folder import PLOTS, REPORT_FILES, band, layer_energy, report_data, write_report_folder
from snncc.reports.plots import plot_energy_breakdown, wants_log
from tests.models import mlp

T = 6


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "bundle"
    snncc.compile(mlp(sizes=(12, 20, 16, 6)), "loihi2", out, snncc.Options(timesteps=T, samples=4))
    return out


@pytest.fixture(scope="module")
def compiled(bundle_dir):
    return json.loads((bundle_dir / "report.json").read_text())


@pytest.fixture(scope="module")
def run_summary(bundle_dir):
    """A data-set run's summary as ``snncc run --json`` writes it: energy_report over 10 other samples."""
    bundle = Bundle.load(bundle_dir)
    x = np.random.default_rng(7).integers(0, 9, (10, T, 12))
    res = bundle.run(x, "reference")
    energy = energy_report(bundle.graph, res.counts, bundle.target, res.batch, T, res.latency)
    rates = {n: float((res.layers[n].spikes != 0).mean()) for n in res.layers}
    return {"samples": 10, "accuracy": 0.7, "energy": energy, "layers": {n: {"rate": r} for n, r in rates.items()}}


def _write_json(path, data):
    path.write_text(json.dumps(data, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return path


def _one_error_line(capsys, *fragments):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snncc: error: "), err
    for f in fragments:
        assert f in lines[0], lines[0]


def _png_links(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)


def _check_png(path, min_side=200, max_side=4000):
    """A whole PNG (signature, decodable) of a size a screen shows; its (width, height)."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    h, w = pixels.shape[:2]
    assert min_side <= w <= max_side and min_side <= h <= max_side, (path.name, w, h)
    assert pixels.std() > 0  # not a blank image
    return w, h


def test_report_writes_its_files_with_the_bundles_numbers(bundle_dir, compiled, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(bundle_dir), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == REPORT_FILES
    for name in sorted(REPORT_FILES):
        assert f"wrote {out / name}" in stdout
    assert "compile-time activity (4 random samples)" in stdout and "energy per inference:" in stdout

    data = json.loads((out / "report.json").read_text())
    assert data["energy"] == compiled["energy"] and data["resources"]["cores"] == compiled["resources"]["cores"]
    rep = data["snncc_report"]
    assert rep["source"] == {"kind": "compile", "inputs": "random", "samples": 4}
    # the rates from the energy counts equal the integer rates the compile's fidelity check measured on its own
    fid = compiled["fidelity"]["layers"]
    assert set(rep["layer_rate"]) == set(fid)
    for name, rate in rep["layer_rate"].items():
        assert rate == pytest.approx(fid[name]["int_rate"], rel=1e-12)
    # the energy per layer adds up, component by component, to the target model's breakdown
    for comp, joules in compiled["energy"]["target_model"]["dynamic_j"].items():
        assert sum(v.get(comp, 0.0) for v in rep["layer_energy_j"].values()) == pytest.approx(joules, rel=1e-12)
    synapse = next(n for n, lay in compiled["energy"]["layers"].items() if "synops" in lay)
    assert rep["layer_energy_j"][synapse] == {"synops": pytest.approx(
        compiled["energy"]["layers"][synapse]["synops"] * compiled["energy"]["figures"]["energy.synop"]["value"]
        * 1e-12, rel=1e-12)}

    md = (out / "report.md").read_text()
    links = _png_links(md)
    assert sorted(links) == sorted(PLOTS.values())
    assert all((out / link).is_file() for link in links)
    assert md.index("## At a glance") < md.index("## Layers")
    for png in PLOTS.values():
        _check_png(out / png, min_side=150)


def test_default_folder_is_inside_the_bundle_and_a_recompile_replaces_it(tmp_path, capsys):
    model = tmp_path / "m.pt"
    torch.save(mlp(sizes=(6, 5, 3)), model)
    bundle = tmp_path / "b"
    fast = ["--samples", "2", "--timesteps", "3", "-q"]
    assert main(["compile", str(model), "-o", str(bundle), *fast]) == 0
    assert main(["report", str(bundle)]) == 0
    assert (bundle / "report" / "report.json").is_file()
    assert main(["report", str(bundle), "--markdown"]) == 0  # its own folder: replaced
    captured = capsys.readouterr()
    assert "## At a glance" in captured.out and f"[snncc] wrote {bundle / 'report' / 'report.md'}" in captured.err
    assert Bundle.load(bundle).path == bundle  # the report folder does not break the bundle's checks
    assert main(["compile", str(model), "-o", str(bundle), *fast]) == 0  # snncc wrote it: not foreign
    assert not (bundle / "report").exists()


def test_run_summary_replaces_the_compiles_activity_and_energy(bundle_dir, compiled, run_summary, tmp_path, capsys):
    run = _write_json(tmp_path / "run.json", run_summary)
    out = tmp_path / "rep"
    assert main(["report", str(bundle_dir), "--out", str(out), "--run", str(run)]) == 0
    stdout = capsys.readouterr().out
    assert "data-set run run.json (10 samples, accuracy 70.0%)" in stdout
    assert "float vs integer on" not in stdout  # the compile's fidelity line would name the run's sample count
    data = json.loads((out / "report.json").read_text())
    expected = json.loads(run.read_text())
    assert data["energy"] == expected["energy"] != compiled["energy"]
    rep = data["snncc_report"]
    assert rep["source"] == {"kind": "run", "file": str(run), "samples": 10, "accuracy": 0.7}
    assert rep["layer_rate"] == {n: v["rate"] for n, v in expected["layers"].items()}
    for comp, joules in expected["energy"]["target_model"]["dynamic_j"].items():
        assert sum(v.get(comp, 0.0) for v in rep["layer_energy_j"].values()) == pytest.approx(joules, rel=1e-12)
    md = (out / "report.md").read_text()
    assert "**data-set run run.json (10 samples, accuracy 70.0%)**" in md
    assert "activity measured on 10 data-set samples" in md
    assert "energy per inference (target model): **" in md


def test_run_summary_without_layers_takes_rates_from_its_energy(bundle_dir, compiled, run_summary, tmp_path, capsys):
    summary = {k: v for k, v in run_summary.items() if k not in ("layers", "accuracy")}
    run = _write_json(tmp_path / "run.json", summary)
    assert main(["report", str(bundle_dir), "--out", str(tmp_path / "rep"), "--run", str(run)]) == 0
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    for name, lay in run_summary["layers"].items():  # the measured rates, from the counts alone
        assert data["snncc_report"]["layer_rate"][name] == pytest.approx(lay["rate"], rel=1e-12)
    assert "data-set run run.json (10 samples)" in capsys.readouterr().out


def _bad_runs(run_summary):
    e = run_summary["energy"]
    no_static = copy.deepcopy(e)
    del no_static["target_model"]["static_j"]
    other_layers = copy.deepcopy(e)
    other_layers["layers"]["renamed"] = other_layers["layers"].pop(next(iter(e["layers"])))
    text_number = copy.deepcopy(e)
    text_number["per_inference"]["synops"] = "many"
    nan = copy.deepcopy(e)
    nan["target_model"]["total_j"] = float("nan")
    layer = next(iter(run_summary["layers"]))
    return [
        ("[1, 2]", "must hold a JSON object"),
        ({"energy": e}, "'samples' must be a positive integer"),
        ({"samples": 0, "energy": e}, "'samples' must be a positive integer, got 0"),
        ({"samples": 3, "accuracy": 1.5, "energy": e}, "'accuracy' must be a number in [0, 1]"),
        ({"samples": 3}, "'energy' is missing"),
        ({"samples": 3, "energy": []}, "energy must be an object, not a list"),
        ({"samples": 3, "energy": no_static}, "energy.target_model.static_j is missing"),
        ({"samples": 3, "energy": other_layers}, f"energy.layers.{next(iter(e['layers']))} is missing"),
        ({"samples": 3, "energy": text_number}, "energy.per_inference.synops must be a number, not a string"),
        ({"samples": 3, "energy": nan}, "energy.target_model.total_j is nan"),
        ({"samples": 3, "energy": e, "layers": {layer: {"rate": -1}}}, f"layers.{layer}.rate must be"),
        ({"samples": 3, "energy": e, "layers": {layer: 0.3}}, f"layers.{layer} must be an object"),
        ({"samples": 3, "energy": e, "layers": [0.3]}, "'layers' must be an object"),
        ({"samples": 3, "energy": e, "layers": {"nope": {"rate": 0.1}}}, "layers.nope is not a layer of the bundle"),
    ]


def test_bad_run_files_are_refused_on_one_line_and_nothing_is_written(bundle_dir, run_summary, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(bundle_dir), "--out", str(out), "--run", str(tmp_path / "none.json")]) == 2
    _one_error_line(capsys, "--run file", "none.json does not exist")
    (tmp_path / "bad.json").write_text("{ not json")
    assert main(["report", str(bundle_dir), "--out", str(out), "--run", str(tmp_path / "bad.json")]) == 2
    _one_error_line(capsys, "bad.json is not valid JSON")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{")
    assert main(["report", str(bundle_dir), "--out", str(out), "--run", str(tmp_path / "bin.json")]) == 2
    _one_error_line(capsys, "bin.json is not UTF-8 text")
    assert main(["report", str(bundle_dir), "--out", str(out), "--run", str(tmp_path)]) == 2
    _one_error_line(capsys, "is not a file")
    for i, (content, fragment) in enumerate(_bad_runs(run_summary)):
        path = tmp_path / f"run{i}.json"
        path.write_text(content) if isinstance(content, str) else _write_json(path, content)
        assert main(["report", str(bundle_dir), "--out", str(out), "--run", str(path)]) == 2, fragment
        _one_error_line(capsys, f"run{i}.json", fragment)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".json")) == []  # no temporary folder


def test_the_command_line_refuses_a_bad_run_file_with_exit_2(bundle_dir, tmp_path):
    (tmp_path / "run.json").write_text('{"samples": 2}')
    proc = subprocess.run([sys.executable, "-m", "snncc.cli", "report", str(bundle_dir), "--out",
                           str(tmp_path / "r"), "--run", str(tmp_path / "run.json")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"snncc: error: --run file {tmp_path / 'run.json'}: 'energy' is missing (the run's " \
                                  "operation counts and energy per inference)"


def test_a_foreign_output_path_is_refused_and_left_untouched(bundle_dir, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "report.md").write_text("my notes")
    assert main(["report", str(bundle_dir), "--out", str(mine)]) == 2
    _one_error_line(capsys, f"report folder {mine} holds thesis.tex", "refusing to replace it")
    assert sorted(p.name for p in mine.iterdir()) == ["report.md", "thesis.tex"]
    assert (mine / "report.md").read_text() == "my notes"

    only_ours = tmp_path / "names"  # the names snncc writes, but not written by snncc
    only_ours.mkdir()
    (only_ours / "report.json").write_text('{"results": [1, 2, 3]}')
    assert main(["report", str(bundle_dir), "--out", str(only_ours)]) == 2
    _one_error_line(capsys, "report.json (not an snncc report)")
    assert (only_ours / "report.json").read_text() == '{"results": [1, 2, 3]}'

    a_file = tmp_path / "file.txt"
    a_file.write_text("keep")
    assert main(["report", str(bundle_dir), "--out", str(a_file)]) == 2
    _one_error_line(capsys, f"{a_file} exists and is not a folder")
    assert a_file.read_text() == "keep"

    assert main(["report", str(bundle_dir), "--out", str(bundle_dir)]) == 2  # the bundle itself
    _one_error_line(capsys, "manifest.json")
    assert Bundle.load(bundle_dir).path == bundle_dir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "mine", "names"]


def test_a_failing_plot_leaves_the_old_report_as_it_was(bundle_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "rep"
    assert main(["report", str(bundle_dir), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("snncc.reports.folder.plot_core_map", fail)
    assert main(["report", str(bundle_dir), "--out", str(out)]) == 2
    _one_error_line(capsys, f"cannot write the report folder {out}: No space left on device")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_layer_energy_follows_the_components_it_finds():
    energy = {"layers": {"syn": {"synops": 30.0, "graded": True}, "lif": {"neuron_updates": 10.0, "messages": 4.0},
                         "lif2": {"neuron_updates": 30.0, "messages": 0.0}},
              "target_model": {"dynamic_j": {"synops": 6.0, "neuron_updates": 8.0, "spike_messages": 2.0,
                                             "leakage": 1.5, "spike_hops": 0.0}}}
    per_layer, rest = layer_energy(energy)
    assert per_layer == {"syn": {"synops": 6.0}, "lif": {"neuron_updates": 2.0, "spike_messages": 2.0},
                         "lif2": {"neuron_updates": 6.0}}
    assert rest == {"leakage": 1.5}  # no layer count of that name: shown apart, not shared out


@pytest.mark.parametrize("given, expected", [
    ([1e-6, 3e-6], (1e-6, 3e-6)),
    ({"low_j": 1e-6, "high_j": 3e-6, "low_source": "a", "high_source": "b"}, (1e-6, 3e-6)),
    ({"low": {"total_j": 2.0, "source": "x"}, "high": {"total_j": 5.0}}, (2.0, 5.0)),
    ({"low": 1.0}, None),
    ("wide", None),
    (None, None),
])
def test_the_band_is_read_from_the_shapes_a_target_model_may_give(given, expected):
    assert band({"band": given} if given is not None else {}) == expected


def test_breakdown_with_a_band_and_many_layers_stays_readable(bundle_dir, compiled, tmp_path):
    path = plot_energy_breakdown({"synops": 2e-7, "neuron_updates": 3e-9, "spike_hops": 0.0}, 1e-4, 1.0002e-4,
                                 (5e-5, 4e-4), "test", tmp_path / "b.png")
    _check_png(path)
    assert wants_log([2e-7, 3e-9, 1e-4]) and not wants_log([0.1, 0.3, 0.0])
    deep = copy.deepcopy(compiled)  # 40 neuron layers: the activity plot grows, one row per layer
    layers = deep["energy"]["layers"]
    name = next(n for n, lay in layers.items() if "spikes" in lay)
    for i in range(40):
        layers[f"layer_{i:02d}"] = dict(layers[name], spikes=layers[name]["spikes"] * (i + 1) / 40)
        deep["resources"]["layers"][f"layer_{i:02d}"] = deep["resources"]["layers"][name]
    write_report_folder(tmp_path / "deep", report_data(deep, "b"), (8, 16))
    for png in ("activity.png", "layer_energy.png"):
        _, height = _check_png(tmp_path / "deep" / png)
        assert height > 40 * 15, png  # at least 15 pixels per layer row
