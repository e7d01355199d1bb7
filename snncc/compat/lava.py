"""Import lava-nc 0.10.0 and lava-dl 0.6.0 on Python 3.11: the only place snncc patches anything.

Both packages declare ``python < 3.11`` but run here once two import-time problems are worked around
(``docs/install.md``; measured facts in the shared note ``reference/loihi2_lava.md`` sections 0 and 6):

1. Python 3.11's dataclasses reject *any* unhashable default as "mutable"; ``lava.magma.compiler.var_model``
   declares ``CoreEncoder``/``ChipEncoder`` fields with a ``ByteEncoder()`` instance default, so its import raises
   ``ValueError: mutable default ...``. While (and only while) that module is imported, dataclasses' field
   collection turns such a default into an equivalent ``default_factory``.
2. ``lava.lib.dl.slayer/__init__`` imports its ``object_detection`` subpackage, which imports torchvision; no
   torchvision build loads against the CPU torch used here, and netx/slayer do not need it. An empty placeholder
   module is registered under that name before lava-dl is imported.

3. netx 0.6.0's ``Network`` cannot build the ``pool`` blocks lava-dl's SLAYER exports; :func:`netx_network` builds
   such a file with each pool block written as the equivalent depthwise ``conv`` block.

4. lava-nc's message infrastructure calls ``multiprocessing.set_start_method('fork')`` at import, which raises
   "context has already been set" when anything made a multiprocessing object first (tqdm makes a lock, and
   torch.fx's shape propagation, which SpikingJelly's NIR export runs, makes a tqdm bar). While (and only while)
   lava is imported, that call forces the start method it asks for (``fork``, the default here anyway).

Call :func:`import_lava` (or :func:`import_netx`) before any ``import lava...``; both are idempotent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import multiprocessing
import shutil
import sys
import tempfile
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError

_LOCK = threading.Lock()
_OBJECT_DETECTION = "lava.lib.dl.slayer.object_detection"


def _lenient_get_field(original: Any) -> Any:
    def get_field(cls: type, a_name: str, a_type: Any, *args: Any) -> Any:
        default = cls.__dict__.get(a_name, dataclasses.MISSING)
        if (default is not dataclasses.MISSING and not isinstance(default, dataclasses.Field)
                and default.__class__.__hash__ is None):
            setattr(cls, a_name, dataclasses.field(default_factory=lambda v=default: v))
        return original(cls, a_name, a_type, *args)

    return get_field


def _forced(set_start_method: Any) -> Any:
    def forced(method: str, force: bool = False) -> None:
        set_start_method(method, force=True)
    return forced


def import_lava() -> types.ModuleType:
    """Import lava-nc (applying workaround 1) and return the ``lava`` package."""
    with _LOCK:
        if "lava.magma.compiler.var_model" not in sys.modules:
            original = dataclasses._get_field  # type: ignore[attr-defined]
            set_start_method = multiprocessing.set_start_method
            dataclasses._get_field = _lenient_get_field(original)  # type: ignore[attr-defined]
            multiprocessing.set_start_method = _forced(set_start_method)  # workaround 4
            try:
                importlib.import_module("lava.magma.compiler.var_model")
                importlib.import_module("lava.magma.runtime.message_infrastructure.multiprocessing")
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"lava-nc cannot be imported ({exc})", hint="run scripts/install.sh to install lava-nc 0.10.0"
                ) from None
            finally:
                dataclasses._get_field = original  # type: ignore[attr-defined]
                multiprocessing.set_start_method = set_start_method
        return importlib.import_module("lava")


def import_netx() -> types.ModuleType:
    """Import lava-dl's netx (applying workarounds 1 and 2) and return ``lava.lib.dl.netx``."""
    import_lava()
    with _LOCK:
        sys.modules.setdefault(_OBJECT_DETECTION, types.ModuleType(_OBJECT_DETECTION))
        try:
            return importlib.import_module("lava.lib.dl.netx")
        except ImportError as exc:
            raise BackendUnavailableError(
                f"lava-dl cannot be imported ({exc})", hint="run scripts/install.sh to install lava-dl 0.6.0"
            ) from None


POOL_GROUPS_MAX = 127  # Lava's Conv keeps groups in an int8 Var


@contextlib.contextmanager
def netx_network(path: str | Path, **kwargs: Any) -> Iterator[Any]:
    """``lava.lib.dl.netx.hdf5.Network(net_config=path, **kwargs)``, closed (its HDF5 handle) on exit.

    Workaround 3: netx 0.6.0 raises NotImplementedError for the ``pool`` blocks lava-dl's own SLAYER exports. A pool
    block is a per-channel sum pooling, i.e. a depthwise convolution whose kernel is the pool's weight; such a file
    is built from a temporary copy in which each pool block is that ``conv`` block (``groups`` = channels, the same
    shape, stride, padding, dilation and neuron), so every process is netx's own.
    """
    import h5py

    netx = import_netx()
    with tempfile.TemporaryDirectory(prefix="snncc-netx-") as tmp:
        config = str(path)
        with h5py.File(path, "r") as f:
            pools = [k for k, g in f["layer"].items() if _block_type(g) == "pool"]
        if pools:
            config = str(Path(tmp) / "network.net")
            shutil.copyfile(path, config)
            with h5py.File(config, "r+") as f:
                for key in pools:
                    _pool_as_conv(f["layer"][key], key)
        net = netx.hdf5.Network(net_config=config, **kwargs)
        try:
            yield net
        finally:
            net.net_config.f.close()


def _block_type(group: Any) -> str:
    value = group["type"][()]
    value = value.ravel()[0] if hasattr(value, "ravel") and getattr(value, "size", 1) else value
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _pool_as_conv(block: Any, key: str) -> None:
    import numpy as np

    channels = int(np.ravel(block["shape"][()])[0])
    if channels > POOL_GROUPS_MAX:
        raise BackendUnavailableError(f"layer/{key}: a pool block of {channels} channels exceeds Lava's int8 Conv "
                                      f"groups ({POOL_GROUPS_MAX}) as a depthwise convolution")
    w = np.asarray(block["weight"][()])
    size = tuple(int(v) for v in np.ravel(block["kernelSize"][()])) if "kernelSize" in block else w.shape[-2:]
    kernel = np.broadcast_to(w.reshape(-1, *w.shape[-2:])[0], size)
    del block["type"], block["weight"]
    block.create_dataset("type", (1,), "S10", [b"conv"])
    block.create_dataset("weight", data=np.tile(kernel, (channels, 1, 1, 1)).astype(np.float32))
    if "groups" in block:
        del block["groups"]
    block.create_dataset("groups", data=channels)
