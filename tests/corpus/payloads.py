"""Payload files for compile/verify/run --inputs: not numpy, the wrong dtype, rank or shape, nonsense values, lies
about their size. The valid bundle takes graded payloads (samples, T, 6) in [0, 8]."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import Workspace, case

N_IN = 6


def _npy(ws: Workspace, array: np.ndarray, name: str = "x.npy") -> Path:
    path = ws.root / name
    np.save(path, array, allow_pickle=True)
    return path


def _command(ws: Workspace, command: str, path: Path) -> list[str]:
    if command == "verify":
        return ["verify", str(ws.bundle()), "--inputs", str(path), "--no-netx"]
    if command == "run":
        return ["run", str(ws.bundle()), "--inputs", str(path)]
    if command == "calibrate":
        return ["compile", str(ws.model()), "--calibrate", str(path), "-o", str(ws.out), "--timesteps", "4",
                "--samples", "2"]
    return ["compile", str(ws.model()), "--inputs", str(path), "-o", str(ws.out), "--timesteps", "4"]


def _payload_case(name: str, make: Callable[[Workspace], Path], *expect: str,
                  commands: tuple[str, ...] = ("verify", "run", "compile")) -> None:
    for command in commands:
        @case("payloads", f"{name}-{command}", "x.np", *expect)
        def build(ws: Workspace, command: str = command) -> list[str]:
            return _command(ws, command, make(ws))


def _array(array: np.ndarray) -> Callable[[Workspace], Path]:
    return lambda ws: _npy(ws, array)


ok = np.ones((2, 4, N_IN), np.int64)
_payload_case("empty-file", lambda ws: ws.write("x.npy", b""), "empty")
_payload_case("text-file", lambda ws: ws.write("x.npy", "1 2 3\n"), "not a numpy")
_payload_case("scalar", _array(np.array(3)), "(samples, timesteps, 6)")
_payload_case("strings", _array(np.array([["a", "b"]])), "dtype")
_payload_case("structured", _array(np.zeros((2, 4, N_IN), dtype=[("a", "i4"), ("b", "f4")])), "dtype")
_payload_case("objects", _array(np.array([[1, None]], dtype=object)), "object")
_payload_case("complex", _array(ok.astype(np.complex128) * 1j), "complex")
_payload_case("nan", _array(np.where(ok > 0, np.nan, 0.0)), "finite")
_payload_case("inf", _array(np.full((2, 4, N_IN), np.inf)), "finite")
_payload_case("fractions", _array(np.full((2, 4, N_IN), 0.5)), "integer")
_payload_case("negative", _array(-ok), "[0, 8]")
_payload_case("above-levels", _array(ok * 9), "[0, 8]")
_payload_case("huge-values", _array(np.full((2, 4, N_IN), 1e30)), "[0, 8]")
_payload_case("uint64-max", _array(np.full((2, 4, N_IN), np.iinfo(np.uint64).max, np.uint64)), "[0, 8]")
_payload_case("wrong-width", _array(np.ones((2, 4, N_IN + 1), np.int64)), "(samples, timesteps, 6)")
_payload_case("rank-four", _array(np.ones((2, 4, N_IN, 1), np.int64)), "(samples, timesteps, 6)")
_payload_case("one-dimensional", _array(np.ones(N_IN, np.int64)), "(samples, timesteps, 6)")
_payload_case("no-samples", _array(np.ones((0, 4, N_IN), np.int64)), "sample")
_payload_case("no-steps", _array(np.ones((2, 0, N_IN), np.int64)), "time step")
_payload_case("npz-several", lambda ws: _npz(ws, a=ok, b=ok), "inputs")
_payload_case("npz-empty", lambda ws: _npz(ws), "no array")
_payload_case("missing", lambda ws: ws.root / "x.npy", "does not exist", commands=("verify", "run"))
_payload_case("directory", lambda ws: (ws.root / "x.npy").mkdir() or ws.root / "x.npy", "is not a file",
              commands=("verify", "compile"))


def _npz(ws: Workspace, **arrays: np.ndarray) -> Path:
    path = ws.root / "x.npz"
    np.savez(path, **arrays)
    return path


def _header(shape: tuple[int, ...], data: bytes = b"") -> Callable[[Workspace], Path]:
    """A .npy file whose header claims ``shape`` (int64) followed by ``data`` only."""

    def make(ws: Workspace) -> Path:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<i8", "fortran_order": False, "shape": shape})
        return ws.write("x.npy", buf.getvalue() + data)

    return make


_payload_case("petabyte-header", _header((10**9, 10**6, N_IN)), "holds")
_payload_case("truncated-data", _header((2, 4, N_IN), b"\0" * 40), "truncated")
_payload_case("broken-header", lambda ws: ws.write("x.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 'oops"), "x.npy",
              commands=("verify",))


for _name, _make, _expect in (("wrong-width", _array(np.ones((2, 4, N_IN + 1), np.int64)), "(samples, timesteps, 6)"),
                              ("nan", _array(np.where(ok > 0, np.nan, 0.0)), "finite"),
                              ("above-levels", _array(ok * 9), "[0, 8]"),
                              ("petabyte-header", _header((10**9, 10**6, N_IN)), "holds")):
    _payload_case(f"{_name}-as-calibration", _make, _expect, commands=("calibrate",))
