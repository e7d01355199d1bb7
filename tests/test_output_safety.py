"""What snncc writes and removes: it never deletes files it did not write (the data-loss case), leaves no
temporary or half-written folder behind on failure or SIGTERM, and gives bundles the permissions the umask says."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import torch

from snncc.bundle import write_atomically
from snncc.cli import Terminated, _on_sigterm, main
from tests.models import mlp

FAST = ["--samples", "2", "--timesteps", "4", "-q"]


@pytest.fixture()
def model(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(mlp(sizes=(6, 5, 3)), path)
    return path


def test_a_folder_with_a_manifest_and_other_files_is_not_replaced(model, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"format": 1, "files": {}}))
    (out / "thesis.tex").write_text("years of work")
    assert main(["compile", str(model), "-o", str(out), *FAST]) == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "years of work" and (out / "manifest.json").is_file()
    assert main(["compile", str(model), "-o", str(out), "--force", *FAST]) == 0  # asked for: replaced
    assert not (out / "thesis.tex").exists() and (out / "graph.nir").is_file()


def test_a_bundle_is_replaced_with_what_snncc_added_to_it(model, tmp_path):
    out = tmp_path / "out"
    assert main(["compile", str(model), "-o", str(out), "--dump-ir", *FAST]) == 0
    assert (out / "ir").is_dir()
    (out / "fidelity.png").write_bytes(b"png")  # what verify --fidelity writes into a bundle
    assert main(["compile", str(model), "-o", str(out), *FAST]) == 0
    assert not (out / "ir").exists() and not (out / "fidelity.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "out"]  # no hidden sibling left


def test_bundles_get_the_permissions_of_the_umask(model, tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["compile", str(model), "-o", str(tmp_path / "out"), *FAST]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "manifest.json").stat().st_mode) == 0o644


def test_sigterm_during_the_write_leaves_the_old_bundle_and_no_temporary_folder(model, tmp_path):
    out = tmp_path / "out"
    assert main(["compile", str(model), "-o", str(out), *FAST]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fill(folder):
        (folder / "graph.nir").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)  # delivered here, in the middle of the write
        time.sleep(1)
        raise AssertionError("SIGTERM was not delivered")

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with pytest.raises(Terminated):
            write_atomically(out, fill)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "out"]


def test_a_failing_fill_removes_the_parents_it_created(tmp_path):
    dest = tmp_path / "a" / "b" / "out"

    def fill(folder):
        raise OSError(28, "No space left on device")

    from snncc.errors import BundleError

    with pytest.raises(BundleError, match="No space left on device"):
        write_atomically(dest, fill)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_a_compile_with_dump_ir_leaves_nothing(model, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "snncc.cli", "compile", str(model), "-o", str(out), "--dump-ir",
                             "--samples", "2", "--timesteps", "4"], stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if "pass 2/" in line:  # the IR dump folder exists by now
            assert any(scratch.iterdir())
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, rest
    assert "snncc: terminated" in rest and "Traceback" not in rest
    assert not out.exists() and list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "tmp"]
