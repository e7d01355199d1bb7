"""Command-line values out of range, of the wrong type, or that do not apply to the model given."""

from __future__ import annotations

import nir

from . import Workspace, case
from .nir_files import valid_graph


def _compile(ws: Workspace, *flags: str) -> list[str]:
    return ["compile", str(ws.model()), "-o", str(ws.out), *flags]


def _flag_case(command: str, name: str, flags: tuple[str, ...], *expect: str) -> None:
    @case("cli-values", name, *expect)
    def build(ws: Workspace) -> list[str]:
        return _compile(ws, *flags) if command == "compile" else ["verify", str(ws.bundle()), *flags]


def _compile_case(name: str, flags: tuple[str, ...], *expect: str) -> None:
    _flag_case("compile", name, flags, *expect)


def _verify_case(name: str, flags: tuple[str, ...], *expect: str) -> None:
    _flag_case("verify", name, flags, *expect)


_compile_case("timesteps-zero", ("--timesteps", "0"), "--timesteps", "at least 1")
_compile_case("timesteps-negative", ("--timesteps", "-5"), "--timesteps", "at least 1")
_compile_case("timesteps-billion", ("--timesteps", "1000000000"), "memory")
_compile_case("timesteps-text", ("--timesteps", "many"), "--timesteps", "many")
_compile_case("samples-zero", ("--samples", "0"), "--samples", "at least 1")
_compile_case("samples-billion", ("--samples", "1000000000"), "memory")
_compile_case("seed-negative", ("--seed", "-1"), "--seed", "0")
_compile_case("dt-on-torch-model", ("--dt", "1e-3"), "--dt", "NIR")
_compile_case("reset-on-torch-model", ("--reset", "subtract"), "--reset", "NIR")
_compile_case("from-on-torch-model", ("--from", "snntorch"), "--from", "NIR")
_compile_case("from-unknown-library", ("--from", "keras"), "--from", "keras")
_compile_case("threshold-on-torch-model", ("--threshold", "ge"), "--threshold", "NIR")
_compile_case("reset-unknown", ("--reset", "sometimes"), "--reset", "sometimes")
_compile_case("unknown-flag", ("--turbo",), "--turbo")
_compile_case("pipeline-unknown-pass", ("--passes", "canonicalize,teleport"), "teleport")
_compile_case("pipeline-unknown-option", ("--passes", "canonicalize,quantize{speed=11},lower-primitives,partition,"
                                                      "place"), "speed")
_compile_case("pipeline-without-quantize", ("--passes", "canonicalize,partition,place"), "quantize")
_compile_case("bias-resolution-unknown", ("--bias-resolution", "infinite"), "infinite")
_verify_case("verify-samples-zero", ("--samples", "0"), "--samples", "at least 1")
_verify_case("verify-samples-billion", ("--samples", "1000000000"), "memory")
_verify_case("verify-seed-negative", ("--seed", "-2"), "--seed", "0")
_verify_case("agreement-negative", ("--min-output-agreement", "-1"), "--min-output-agreement", "[0, 1]")
_verify_case("agreement-above-one", ("--min-output-agreement", "2"), "--min-output-agreement", "[0, 1]")
_verify_case("agreement-nan", ("--min-output-agreement", "nan"), "--min-output-agreement", "[0, 1]")
_verify_case("plot-without-fidelity", ("--plot", "f.png"), "--plot", "--fidelity")


@case("cli-values", "no-command", "command")
def _no_command(ws: Workspace) -> list[str]:
    return []


@case("cli-values", "run-backend-unknown", "--backend", "gpu")
def _backend(ws: Workspace) -> list[str]:
    return ["run", str(ws.bundle()), "--inputs", "x.npy", "--backend", "gpu"]


@case("cli-values", "nir-timesteps-billion", "memory")
def _nir_memory(ws: Workspace) -> list[str]:
    path = ws.root / "model.nir"
    nir.write(path, valid_graph())
    return ["compile", str(path), "--from", "nir", "--dt", "1e-4", "-o", str(ws.out), "--timesteps", "100000000",
            "--samples", "100000"]


_compile_case("calibrate-percentile-above-100", ("--calibrate-percentile", "150"), "percentile", "100")
_compile_case("calibrate-file-missing", ("--calibrate", "nothere.npy"), "nothere.npy", "does not exist")
