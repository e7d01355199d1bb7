"""Seeded random damage to valid inputs (tests/corpus/mutations.py): snncc accepts the result or refuses it on one
line, never with a traceback, and leaves no temporary folder. The large run is scripts/fuzz_malformed.py."""

from __future__ import annotations

import tempfile

import pytest

from tests.corpus.mutations import MUTATIONS, run_mutation
from tests.test_malformed import valid_bundle  # noqa: F401  (the shared fixture)

SEEDS = range(0, 20 * len(MUTATIONS))


@pytest.mark.parametrize("seed", SEEDS)
def test_damaged_input_is_accepted_or_refused_on_one_line(seed, tmp_path, valid_bundle, monkeypatch):  # noqa: F811
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    work = tmp_path / "work"
    work.mkdir()
    kind, status, err = run_mutation(seed, work, valid_bundle)
    lines = [line for line in err.splitlines() if not line.startswith(("[snncc]", "warning:"))]
    assert status in (0, 1, 2), f"{kind}: exit {status}: {err}"
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("snncc: error: "), f"{kind}: {err}"
    assert "Traceback" not in err
    assert not any(scratch.iterdir()), f"{kind}: temporary files left"
