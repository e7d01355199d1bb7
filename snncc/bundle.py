"""The compiled bundle: a folder with the integer graph, the float graph, the netx file, manifest and reports.

Bundles are written atomically: everything goes to a temporary sibling folder which replaces the destination only
when complete, so a failed compile never leaves a half-written bundle behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backends import backend as find_backend
from .backends import target_backends
from .errors import BundleError, GraphError, SnnccError
from .ir import Graph, InputEncoding, read_graph
from .target import Target, parse_target

MANIFEST = "manifest.json"
GRAPH_FILE = "graph.nir"
FLOAT_GRAPH_FILE = "float.nir"
NETX_FILE = "network.net"


@dataclass
class Bundle:
    """A compiled network, in memory; ``path`` is its folder once written or loaded."""

    graph: Graph
    float_graph: Graph
    target: Target
    manifest: dict[str, Any]
    path: Path | None = None

    @property
    def timesteps(self) -> int:
        return int(self.manifest["timesteps"])

    @property
    def encoding(self) -> InputEncoding:
        return InputEncoding.from_metadata(self.graph.metadata)

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.graph.nodes[self.graph.input_names[0]].input_type["input"]))

    @property
    def report(self) -> dict[str, Any]:
        """The compile report: in memory right after compiling, else read from the bundle's ``report.json``."""
        if "report" in self.manifest:
            return self.manifest["report"]
        if self.path is None or not (self.path / "report.json").is_file():
            return {}
        return json.loads((self.path / "report.json").read_text())

    @property
    def netx_path(self) -> Path | None:
        if self.path is None or not self.manifest.get("netx", {}).get("file"):
            return None
        return self.path / NETX_FILE

    def run(self, inputs: np.ndarray, backend: str = "reference", record_states: bool = False) -> Any:
        """Run payloads (samples, T, n_in) on a backend (``snncc.backends.BACKENDS``: reference | lava | netx |
        float) the target runs; returns a SimResult."""
        chosen = find_backend(backend)
        runs = target_backends(self.target)
        if backend not in runs:
            raise BundleError(f"target '{self.target.name}' does not run the '{backend}' backend (its backends: "
                              f"{', '.join(runs)})")
        reason = chosen.supports(self)
        if reason:
            raise BundleError(reason)
        return chosen.run(self, inputs, record_states)

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Load a bundle folder, checking that it is complete and its files match the manifest's hashes."""
        folder = Path(path)
        if not (folder / MANIFEST).is_file():
            raise BundleError(f"{folder} is not an snncc bundle (no {MANIFEST}); run 'snncc compile' first")
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"{folder / MANIFEST} is corrupt: {exc}") from None
        if manifest.get("format") != 1:
            raise BundleError(f"{folder}: unsupported bundle format {manifest.get('format')!r}")
        for name, digest in manifest.get("files", {}).items():
            f = folder / name
            if not f.is_file():
                raise BundleError(f"{folder}: missing file {name}")
            if sha256(f) != digest:
                raise BundleError(f"{folder}: {name} does not match the manifest (modified or corrupt)")
        try:
            graph = read_graph(folder / GRAPH_FILE)
            float_graph = read_graph(folder / FLOAT_GRAPH_FILE)
        except GraphError as exc:
            raise BundleError(f"{folder}: {exc}") from None
        target = parse_target(manifest["target"]["data"], manifest["target"]["name"])
        return cls(graph=graph, float_graph=float_graph, target=target, manifest=manifest, path=folder)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomically(dest: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` populate a temporary folder, then move it to ``dest`` (replacing an old bundle)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise BundleError(f"output path {dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MANIFEST).is_file():
        raise BundleError(f"output folder {dest} is not empty and is not an snncc bundle; refusing to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        fill(tmp)
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise SnnccError(f"internal: cannot write {type(o).__name__} to JSON")
