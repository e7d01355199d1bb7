"""``--nir``: a bundle's float graph written as a standard NIR file that ``nir.read`` (type-checked) accepts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import nir

from .. import values
from ..bundle import FLOAT_GRAPH_FILE, Bundle
from ..errors import SnnccError, first_line
from ..ir import keys
from .files import check_file_destination, write_file_atomically
from .nir import to_nir_graph

WHAT = "--nir file"


def is_nir_file(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file holding a NIR graph (what an export may replace without --force)."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            kind = f.get("node/type")
            return kind is not None and kind[()] in (b"NIRGraph", "NIRGraph")
    except (OSError, ValueError, TypeError):
        return False


def write_nir(bundle: Bundle | str | Path, dest: str | Path, *, force: bool = False,
              warn: Callable[[str], None] | None = None, dt: float | None = None,
              allow_metadata: bool = False) -> Path:
    """Write ``bundle``'s float graph to ``dest`` as standard NIR with time step ``dt`` (default: the bundle's)."""
    path = check_file_destination(dest, WHAT, is_nir_file, "NIR", force)
    if dt is not None:
        dt = values.positive(dt, "--dt")
    if not isinstance(bundle, Bundle):
        bundle = Bundle.load(bundle)
    meta = bundle.float_graph.metadata
    provenance = {"bundle": str(bundle.path) if bundle.path else "", "graph": FLOAT_GRAPH_FILE,
                  "target": bundle.target.name, "source": str(meta.get(keys.SOURCE_KIND, "")),
                  "source_file": str(meta.get(keys.SOURCE_FILE, ""))}
    graph = to_nir_graph(bundle.float_graph, dt, allow_metadata=allow_metadata, warn=warn, provenance=provenance)
    write_file_atomically(path, lambda tmp: nir.write(tmp, graph), _check_readable, WHAT)
    return path


def _check_readable(path: Path) -> None:
    try:
        nir.read(path)  # type_check=True, as every NIR consumer reads it
    except Exception as exc:  # nir raises assorted errors for what it rejects
        raise SnnccError(f"internal: nir.read rejects the exported file: {first_line(exc)}") from None
