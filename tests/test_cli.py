"""The snncc command: compile/verify/run/report on example models, and every user error as one line."""

import json
import subprocess
import sys
from importlib.resources import files

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from snncc import neurons as N
from tests.models import mlp


def snncc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "snncc.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("[snncc]")]
    assert len(lines) == 1 and lines[0].startswith("snncc: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "mlp.pt"
    torch.save(mlp(sizes=(12, 20, 6)), path)
    return path


@pytest.mark.lava
def test_compile_verify_run_report(model_file, tmp_path):
    out = tmp_path / "bundle"
    proc = snncc("compile", model_file, "--target", "loihi2", "-o", out, "--timesteps", "6")
    assert proc.returncode == 0, proc.stderr
    assert "compiled mlp.pt for loihi2: 2 neuron layers, 26 neurons, 1 core(s) (lower bound 1)" in proc.stdout
    assert "[snncc] pass 1/8: canonicalize" in proc.stderr  # progress goes to stderr
    assert {p.name for p in out.iterdir()} >= {"manifest.json", "graph.nir", "float.nir", "report.json", "report.md"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["timesteps"] == 6 and manifest["versions"]["lava-nc"] == "0.10.0"
    report = json.loads((out / "report.json").read_text())
    assert report["resources"]["cores_used"] == 1 and report["energy"]["target_model"]["total_j"] > 0
    assert "assumption" in (out / "report.md").read_text()

    verdict = tmp_path / "verdict.json"
    proc = snncc("verify", out, "--samples", "3", "--json", verdict)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reference vs lava: BIT-EXACT" in proc.stdout and proc.stdout.strip().endswith("PASS")
    assert json.loads(verdict.read_text())["bit_exact"] is True

    x = np.random.default_rng(0).integers(0, 9, (4, 6, 12))
    np.save(tmp_path / "x.npy", x)
    proc = snncc("run", out, "--inputs", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert proc.returncode == 0 and np.load(tmp_path / "y.npy").shape == (4, 6)
    proc = snncc("report", out, "--markdown")
    assert proc.returncode == 0 and "## Per-core utilisation" in proc.stdout


def test_verify_fails_on_tampered_bundle(model_file, tmp_path):
    out = tmp_path / "b"
    assert snncc("compile", model_file, "-o", out, "-q").returncode == 0
    (out / "graph.nir").write_bytes((out / "graph.nir").read_bytes()[:-10])
    assert_user_error(snncc("verify", out), "graph.nir does not match the manifest")
    assert_user_error(snncc("verify", tmp_path / "nothing"), "nothing does not exist")


def test_missing_and_corrupt_files(tmp_path):
    assert_user_error(snncc("compile", tmp_path / "none.pt", "-o", tmp_path / "o"), "none.pt does not exist")
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    assert_user_error(snncc("compile", tmp_path / "bad.pt", "-o", tmp_path / "o"), "not a PyTorch file")
    assert not (tmp_path / "o").exists()


def test_unsupported_layer_is_named(tmp_path):
    torch.save(nn.Sequential(nn.Linear(4, 4), nn.Tanh(), N.LIF()), tmp_path / "m.pt")
    assert_user_error(snncc("compile", tmp_path / "m.pt", "-o", tmp_path / "o"), "layer 'tanh_1'", "Tanh",
                      "not supported")
    assert not (tmp_path / "o").exists()


def test_unsafe_pickle_needs_opt_in(tmp_path):
    (tmp_path / "mynet.py").write_text(
        "import torch, snncc.neurons as N\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.fc = torch.nn.Linear(3, 2); self.lif = N.LIF()\n"
        "    def forward(self, x): return self.lif(self.fc(x))\n")
    subprocess.run([sys.executable, "-c", "import torch, mynet; torch.save(mynet.Net(), 'c.pt')"], cwd=tmp_path,
                   check=True)
    assert_user_error(snncc("compile", tmp_path / "c.pt", "-o", tmp_path / "o", cwd=tmp_path),
                      "needs the global mynet.Net", "not in snncc's allow-list", "--allow-unsafe-pickle")
    assert not (tmp_path / "o").exists()
    proc = snncc("compile", tmp_path / "c.pt", "-o", tmp_path / "o", "--allow-unsafe-pickle", "-q", cwd=tmp_path)
    assert proc.returncode == 0 and "runs code from the file" in proc.stderr


def test_model_too_large_names_layer_and_limit(tmp_path):
    torch.save(nn.Sequential(nn.Linear(16500, 3), N.LIF()), tmp_path / "wide.pt")
    assert_user_error(snncc("compile", tmp_path / "wide.pt", "-o", tmp_path / "o", "--fan-in-split", "off"),
                      "layer 'lif_1'", "fan-in 16500", "16000 input axons", "core_limits.input_axons")
    data = yaml.safe_load((files("snncc.targets") / "loihi2.yaml").read_text())
    data["core_limits"]["neurons"]["value"] = 8
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(data))
    torch.save(nn.Sequential(nn.Linear(10, 2000), N.LIF()), tmp_path / "big.pt")
    assert_user_error(snncc("compile", tmp_path / "big.pt", "--target", tmp_path / "small.yaml", "-o", tmp_path / "o"),
                      "needs 250 cores but the target has 128", "system.chips x system.cores_per_chip")
    assert not (tmp_path / "o").exists()


def test_out_of_range_values(tmp_path):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), N.LIF(threshold=1e6))
    torch.save(m, tmp_path / "thr.pt")
    assert_user_error(snncc("compile", tmp_path / "thr.pt", "-o", tmp_path / "o"), "layer 'lif_1'", "threshold",
                      "17-bit limit 131071")


def test_bad_target_file(model_file, tmp_path):
    (tmp_path / "t.yaml").write_text("schema_version: 1\nname: x\n")
    assert_user_error(snncc("compile", model_file, "--target", tmp_path / "t.yaml", "-o", tmp_path / "o"),
                      "missing section 'system'")
    assert_user_error(snncc("compile", model_file, "--target", "loihi7", "-o", tmp_path / "o"), "unknown target")


def test_failed_compile_leaves_existing_bundle_untouched(model_file, tmp_path):
    out = tmp_path / "b"
    assert snncc("compile", model_file, "-o", out, "-q").returncode == 0
    before = (out / "manifest.json").read_text()
    (tmp_path / "bad.pt").write_bytes(b"junk")
    assert_user_error(snncc("compile", tmp_path / "bad.pt", "-o", out))
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "bad.pt"]  # no temporary folders left behind


def test_refuses_to_replace_a_foreign_folder(model_file, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert_user_error(snncc("compile", model_file, "-o", tmp_path / "mine"), "not an snncc bundle")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_bad_verify_inputs(model_file, tmp_path):
    out = tmp_path / "b"
    assert snncc("compile", model_file, "-o", out, "-q").returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 7)))
    assert_user_error(snncc("run", out, "--inputs", tmp_path / "x.npy"), "(samples, timesteps, 12)")
    np.save(tmp_path / "x.npy", np.full((2, 5, 12), 99))
    assert_user_error(snncc("run", out, "--inputs", tmp_path / "x.npy"), "must lie in [0, 8]")


@pytest.mark.lava
def test_compile_a_nir_file(tmp_path):
    import nir

    rng = np.random.default_rng(4)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([8])}),
        nir.Affine(weight=rng.normal(0, 0.5, (6, 8)), bias=np.zeros(6)),
        nir.LIF(tau=np.full(6, 1e-3), r=np.full(6, 10.0), v_leak=np.zeros(6), v_threshold=np.full(6, 0.8)),
        nir.Linear(weight=rng.normal(0, 0.5, (3, 6))),
        nir.IF(r=np.full(3, 1e4), v_threshold=np.full(3, 0.5)),
        nir.Output(output_type={"output": np.array([3])}),
    )
    nir.write(tmp_path / "net.nir", graph)
    assert_user_error(snncc("compile", tmp_path / "net.nir", "-o", tmp_path / "b"), "unknown time step", "--from",
                      "--dt")
    proc = snncc("compile", tmp_path / "net.nir", "-o", tmp_path / "b", "--from", "nir", "--dt", "1e-4", "--reset",
                 "subtract", "--timesteps", "10", "--dump-ir")
    assert proc.returncode == 0, proc.stderr
    dumps = sorted(p.name for p in (tmp_path / "b" / "ir").iterdir())
    assert dumps[0] == "00-input.nir" and "01-canonicalize.txt" in dumps and "08-place.txt" in dumps
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["netx"]["file"] is None and "subtract" in manifest["netx"]["reason"]
    proc = snncc("verify", tmp_path / "b", "--samples", "3")
    assert proc.returncode == 0 and "reference vs lava: BIT-EXACT" in proc.stdout, proc.stdout + proc.stderr
