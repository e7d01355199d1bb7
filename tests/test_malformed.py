"""Every malformed or careless input of the corpus (tests/corpus) gets exit status 2 and one line naming what is
wrong: no traceback, nothing half-written left behind, no temporary folder left over."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest

from snncc.cli import main
from tests.corpus import Workspace, all_cases
from tests.models import mlp

CASES = all_cases()
CATEGORIES = ("model-values", "model-files", "nir-files", "target-files", "payloads", "bundles", "outputs",
              "cli-values")


@pytest.fixture(scope="module")
def valid_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    root = tmp_path_factory.mktemp("valid")
    torch.save(mlp(sizes=(6, 5, 3)), root / "model.pt")
    out = root / "bundle"
    assert main(["compile", str(root / "model.pt"), "-o", str(out), "-q", "--timesteps", "4", "--samples", "2"]) == 0
    return out


def test_the_corpus_covers_every_boundary():
    counts = Counter(c.category for c in CASES)
    assert set(counts) == set(CATEGORIES), counts
    assert len(CASES) >= 100 and min(counts.values()) >= 10, counts


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_is_one_clear_line(case, tmp_path, valid_bundle, capsys, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = case.build(Workspace(root=work, bundle_source=valid_bundle))
    before = _listing(work)
    try:
        status = main(argv)
    except SystemExit as exc:  # only argparse's own exit may get here
        status = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("[snncc]", "warning:"))]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("snncc: error: "), err
    for fragment in case.expect:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in: {lines[0]}"
    assert _listing(work) == before, "the failed command left files behind or removed some"
    assert not any(scratch.iterdir()), f"temporary files left: {list(scratch.iterdir())}"
