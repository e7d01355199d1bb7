"""Load a model file without running code from it.

``.pt``/``.pth`` files go through torch's ``weights_only`` unpickler with an allow-list of torch.nn and snncc
module classes: a file that names any other class fails with a message saying so, and only an explicit opt-in
(``allow_unsafe=True``, CLI ``--allow-unsafe-pickle``) falls back to full unpickling, which can run arbitrary code.
``.nir`` files are HDF5 and carry no code.
"""

from __future__ import annotations

import collections
import pickle
import re
import sys
import types
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import torch
from torch import nn

from ..errors import ModelLoadError, first_line
from ..families import REGISTRY
from ..inputs import is_zip
from ..ir import Graph
from ..nn import SAFE_MODULES


def _torch_nn_classes() -> list[type]:
    """Every layer class torch.nn defines: part of torch itself, so unpickling one runs no code from the file.

    Whether snncc can *compile* the layer is the tracer's decision, which then names it in a clear error.
    """
    return [c for c in vars(nn).values() if isinstance(c, type) and issubclass(c, nn.Module)
            and c.__module__.startswith("torch.nn.modules")]


SNNCC_MODULES: tuple[type, ...] = (*REGISTRY.torch_modules(), *SAFE_MODULES)
"""Every snncc module class a model file may hold: the families' neurons, the input encoding, residual blocks."""
LEGACY_CLASSES: dict[str, type] = {path: cls for cls in SNNCC_MODULES for path in getattr(cls, "LEGACY_PATHS", ())}
"""Where older snncc versions pickled its modules, and the class each path means now."""
SAFE_GLOBALS: list = [*_torch_nn_classes(), *SNNCC_MODULES, *((cls, path) for path, cls in LEGACY_CLASSES.items()),
                      collections.OrderedDict, set]


class _LegacyUnpickler(pickle.Unpickler):
    """Full unpickling (the opt-in) that also reads files naming snncc's modules by an older path."""

    def find_class(self, module: str, name: str) -> object:
        return LEGACY_CLASSES.get(f"{module}.{name}") or super().find_class(module, name)


_LEGACY_PICKLE = types.SimpleNamespace(__name__="pickle", Unpickler=_LegacyUnpickler, load=pickle.load)

NIR_SUFFIXES = (".nir", ".h5", ".hdf5")
NETX_SUFFIX = ".net"  # lava-dl netx networks (HDF5; recognised by content)
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # torch.save before 1.6
TORCH_SUFFIXES = (".pt", ".pth")


@dataclass
class LoadedModel:
    """What the frontend got from a file: a torch module or an IR graph (from NIR)."""

    path: Path
    module: nn.Module | None = None
    graph: Graph | None = None
    unsafe: bool = False


def load_model(path: str | Path, allow_unsafe: bool = False) -> LoadedModel:
    """Load ``path`` (a pickled torch module or a NIR file), refusing to run code unless ``allow_unsafe``."""
    if not str(path).strip():
        raise ModelLoadError("the model file name is empty")
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file {p} does not exist")
    if not p.is_file():
        raise ModelLoadError(f"{p} is not a file")
    if p.stat().st_size == 0:
        raise ModelLoadError(f"model file {p} is empty")
    if h5py.is_hdf5(p):
        from .netx_import import is_netx, read_netx_file

        if is_netx(p):
            return LoadedModel(path=p, graph=read_netx_file(p))
    elif p.suffix.lower() == NETX_SUFFIX:
        raise ModelLoadError(f"{p} is not a netx network (not an HDF5 file: damaged or truncated)")
    if p.suffix.lower() in NIR_SUFFIXES or h5py.is_hdf5(p):
        from .nir_import import read_nir_file

        return LoadedModel(path=p, graph=read_nir_file(p))
    if p.suffix.lower() not in TORCH_SUFFIXES:
        raise ModelLoadError(f"{p}: unknown model file type '{p.suffix}'",
                             hint="give a .pt/.pth file saved with torch.save(model) or a .nir file")
    return _load_torch(p, allow_unsafe)


def _load_torch(p: Path, allow_unsafe: bool) -> LoadedModel:
    with open(p, "rb") as f:
        legacy = f.read(len(LEGACY_MAGIC)) == LEGACY_MAGIC
    if legacy and not allow_unsafe:
        raise ModelLoadError(f"{p} was saved in torch's legacy (pre-1.6) format, which cannot be loaded without "
                             "running code from the file",
                             hint="re-save it with torch.save(model, path) in a current torch, or pass "
                                  "--allow-unsafe-pickle if you trust it")
    if legacy:
        return _unsafe(p)
    if not is_zip(p):
        raise ModelLoadError(f"{p} is not a PyTorch file (corrupt, truncated or another format)")
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except Exception:  # a damaged archive makes zipfile fail in assorted ways (bad names, unknown versions...)
        raise ModelLoadError(f"{p} is not a PyTorch file (a damaged zip archive)") from None
    if not any(n.endswith("/data.pkl") for n in names):
        raise ModelLoadError(f"{p} is not a PyTorch file (a zip archive, but not one torch.save wrote)")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            with warnings.catch_warnings():  # torch's deprecation notes would break the one-line error output
                warnings.simplefilter("ignore")
                obj = torch.load(p, map_location="cpu", weights_only=True)
        unsafe = False
    except pickle.UnpicklingError as exc:
        blocked = _blocked_global(str(exc))
        if not allow_unsafe:
            raise ModelLoadError(
                f"{p} needs {blocked or 'a class or function'} that is not in snncc's allow-list of torch.nn and snncc "
                "modules; unpickling it could run code from the file",
                hint="if you trust the file, pass --allow-unsafe-pickle (allow_unsafe=True)",
            ) from None
        return _unsafe(p)
    except Exception as exc:  # damaged data fails inside torch's reader in assorted ways; no code from it ran
        raise ModelLoadError(f"{p} could not be read as a PyTorch file (truncated or corrupt): "
                             f"{first_line(exc)}") from None
    return _module(p, obj, unsafe)


def _unsafe(p: Path) -> LoadedModel:
    print(f"warning: loading {p} with full unpickling (--allow-unsafe-pickle): this runs code from the file",
          file=sys.stderr)
    return _module(p, _unsafe_load(p), unsafe=True)


def _module(p: Path, obj: object, unsafe: bool) -> LoadedModel:
    if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"{p} holds a state dict (tensors only), not a model",
                             hint="save the whole module with torch.save(model, path)")
    if not isinstance(obj, nn.Module):
        raise ModelLoadError(f"{p} holds a {type(obj).__name__}, not a torch.nn.Module")
    _check_intact(p, obj)
    obj.eval()
    return LoadedModel(path=p, module=obj, unsafe=unsafe)


def _check_intact(p: Path, module: nn.Module, where: str = "the model") -> None:
    """Every module of the tree has the tables torch.nn.Module keeps: a damaged file can unpickle into modules
    missing them, which would fail far from the load with an AttributeError."""
    state = vars(module)
    for table in ("_parameters", "_buffers", "_modules"):
        if not isinstance(state.get(table), dict):
            raise ModelLoadError(f"{p} is damaged: {where} ({type(module).__name__}) lacks its {table} table")
    for name, child in state["_modules"].items():
        if child is not None and not isinstance(child, nn.Module):
            raise ModelLoadError(f"{p} is damaged: {where}.{name} is a {type(child).__name__}, not a module")
        if child is not None:
            _check_intact(p, child, f"{where}.{name}")


def _unsafe_load(p: Path) -> object:
    try:
        return torch.load(p, map_location="cpu", weights_only=False, pickle_module=_LEGACY_PICKLE)
    except Exception as exc:  # arbitrary code ran; report whatever it raised as a load failure
        raise ModelLoadError(f"{p} could not be unpickled: {first_line(exc)}") from None


def _blocked_global(message: str) -> str | None:
    m = re.search(r"GLOBAL ([\w.<>]+)", message)
    return f"the global {m.group(1)}" if m else None
