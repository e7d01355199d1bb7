"""The reference-vs-Lava speed benchmark (benchmarks/bench_reference_vs_lava.py) runs: its network deploys, and
the reference and Lava agree on it, on a few steps (the benchmark asserts bit-exact spikes itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.lava
def test_the_benchmark_runs_and_reference_and_lava_agree() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_reference_vs_lava.py"), "--steps", "8"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "spikes agree bit for bit in every layer" in proc.stdout
    assert proc.stdout.count("read back 200x8 values") == 2
