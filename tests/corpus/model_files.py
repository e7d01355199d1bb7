"""Model files that are missing, of the wrong kind, corrupt, or that would need code from the file to load."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile

import torch
from torch import nn

from tests.models import mlp

from . import Workspace, case


class ColleagueLayer(nn.Module):
    """A class outside snncc's allow-list: loading it would run code from the file's own module."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _compile(path: object, ws: Workspace) -> list[str]:
    return ["compile", str(path), "-o", str(ws.out)]


@case("model-files", "missing", "nothere.pt", "does not exist")
def _missing(ws: Workspace) -> list[str]:
    return _compile(ws.root / "nothere.pt", ws)


@case("model-files", "directory", "is not a file")
def _directory(ws: Workspace) -> list[str]:
    (ws.root / "model.pt").mkdir()
    return _compile(ws.root / "model.pt", ws)


@case("model-files", "empty", "model.pt", "empty")
def _empty(ws: Workspace) -> list[str]:
    return _compile(ws.write("model.pt", b""), ws)


@case("model-files", "random-bytes", "model.pt", "not a PyTorch file")
def _random(ws: Workspace) -> list[str]:
    return _compile(ws.write("model.pt", bytes(range(256)) * 4), ws)


@case("model-files", "truncated", "model.pt", "truncated")
def _truncated(ws: Workspace) -> list[str]:
    path = ws.model()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return _compile(path, ws)


@case("model-files", "foreign-zip", "model.pt", "not a PyTorch file")
def _zip(ws: Workspace) -> list[str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    return _compile(ws.write("model.pt", buf.getvalue()), ws)


@case("model-files", "state-dict", "state dict", "torch.save(model")
def _state_dict(ws: Workspace) -> list[str]:
    path = ws.root / "model.pt"
    torch.save(mlp().state_dict(), path)
    return _compile(path, ws)


@case("model-files", "tensor", "holds a Tensor", "not a torch.nn.Module")
def _tensor(ws: Workspace) -> list[str]:
    path = ws.root / "model.pt"
    torch.save(torch.zeros(3), path)
    return _compile(path, ws)


@case("model-files", "list-of-modules", "holds a list")
def _list(ws: Workspace) -> list[str]:
    path = ws.root / "model.pt"
    torch.save([nn.Linear(2, 2)], path)
    return _compile(path, ws)


@case("model-files", "blocked-class", "ColleagueLayer", "--allow-unsafe-pickle")
def _blocked(ws: Workspace) -> list[str]:
    path = ws.root / "model.pt"
    torch.save(nn.Sequential(nn.Linear(2, 2), ColleagueLayer()), path)
    return _compile(path, ws)


@case("model-files", "unknown-suffix", "model.onnx", "unknown model file type")
def _suffix(ws: Workspace) -> list[str]:
    return _compile(ws.write("model.onnx", b"onnx"), ws)


@case("model-files", "nir-not-hdf5", "model.nir", "not a NIR")
def _nir_text(ws: Workspace) -> list[str]:
    return _compile(ws.write("model.nir", "this is text"), ws)


@case("model-files", "unsupported-layer", "LSTM")
def _lstm(ws: Workspace) -> list[str]:
    return _compile(ws.model(nn.Sequential(nn.LSTM(4, 4))), ws)


@case("model-files", "empty-name", "model file", "empty")
def _empty_name(ws: Workspace) -> list[str]:
    return _compile("", ws)


@case("model-files", "legacy-format", "model.pt", "legacy", "torch.save")
def _legacy(ws: Workspace) -> list[str]:
    path = ws.root / "model.pt"
    torch.save(mlp(), path, _use_new_zipfile_serialization=False)
    return _compile(path, ws)


class _Hostile:
    """Unpickling this runs ``call(*args)``: the classic payload of a malicious model file."""

    def __init__(self, call: object, *args: object) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple:
        return self.call, self.args


def _hostile_case(name: str, call: object, args: tuple, *expect: str) -> None:
    @case("model-files", name, "--allow-unsafe-pickle", *expect)
    def build(ws: Workspace) -> list[str]:
        """A payload that would create ``pwned`` in the working folder: the corpus test sees any new file."""
        path = ws.root / "model.pt"
        torch.save({"model": _Hostile(call, *args)}, path)
        return _compile(path, ws)


_hostile_case("hostile-os-system", os.system, ("touch pwned",), "system")
_hostile_case("hostile-eval", eval, ("open('pwned', 'w').close()",), "eval")
_hostile_case("hostile-exec", exec, ("open('pwned', 'w').close()",), "exec")
_hostile_case("hostile-subprocess", subprocess.call, (["touch", "pwned"],), "call")
