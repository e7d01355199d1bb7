"""The Lava backend: run quantized graphs in Lava's fixed-point simulator and export them as lava-dl netx HDF5.

Lava is imported lazily (on first use of an attribute), so that ``import snncc.backends.lava`` stays cheap and a
missing Lava surfaces as :class:`snncc.errors.BackendUnavailableError` where it is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FileProbe", "FileSink", "LavaRunner", "netx_expressible", "run_netx", "write_netx"]

_WHERE = {
    "LavaRunner": "runner",
    "write_netx": "netx_export",
    "run_netx": "netx_export",
    "netx_expressible": "netx_export",
    "FileSink": "recorders",
    "FileProbe": "recorders",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
