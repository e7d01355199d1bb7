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

Call :func:`import_lava` (or :func:`import_netx`) before any ``import lava...``; both are idempotent.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import threading
import types
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


def import_lava() -> types.ModuleType:
    """Import lava-nc (applying workaround 1) and return the ``lava`` package."""
    with _LOCK:
        if "lava.magma.compiler.var_model" not in sys.modules:
            original = dataclasses._get_field  # type: ignore[attr-defined]
            dataclasses._get_field = _lenient_get_field(original)  # type: ignore[attr-defined]
            try:
                importlib.import_module("lava.magma.compiler.var_model")
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"lava-nc cannot be imported ({exc})", hint="run scripts/install.sh to install lava-nc 0.10.0"
                ) from None
            finally:
                dataclasses._get_field = original  # type: ignore[attr-defined]
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
