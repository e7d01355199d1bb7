"""The compiled bundle: a folder with the integer graph, the float graph, the netx file, manifest and reports.

Bundles are written atomically: everything goes to a temporary sibling folder which replaces the destination only
when complete, so a failed compile never leaves a half-written bundle behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backends import backend as find_backend
from .backends import target_backends
from .errors import BundleError, GraphError, SnnccError, TargetError
from .inputs import trace_values
from .ir import Graph, InputEncoding, read_graph
from .outputs import check_writable, read_json, replace_folder
from .target import Target, parse_target
from .values import check_memory

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
        shape = np.shape(inputs)
        if len(shape) == 3:  # before the backend allocates its traces
            check_memory(shape[0], shape[1], trace_values(self.graph), f"the {backend} run")
        return chosen.run(self, inputs, record_states)

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Load a bundle folder, checking its manifest's schema and that its files match the manifest's hashes."""
        folder = Path(path)
        if not folder.exists():
            raise BundleError(f"bundle folder {folder} does not exist; run 'snncc compile' first")
        if not folder.is_dir():
            raise BundleError(f"{folder} is not a folder; a bundle is the folder 'snncc compile -o' writes")
        manifest = read_manifest(folder)
        for name, digest in manifest["files"].items():
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
        try:
            where = f"{folder / MANIFEST} (target {manifest['target']['name']})"
            target = parse_target(manifest["target"]["data"], where)
        except TargetError as exc:
            raise BundleError(str(exc)) from None
        return cls(graph=graph, float_graph=float_graph, target=target, manifest=manifest, path=folder)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of bundle ``folder``, checked against the schema snncc writes (BundleError naming the key)."""
    where = folder / MANIFEST
    if not where.is_file():
        raise BundleError(f"{folder} is not an snncc bundle (no {MANIFEST}); run 'snncc compile' first")
    manifest = read_json(where, str(where), BundleError)
    if not isinstance(manifest, dict):
        raise BundleError(f"{where} must hold a JSON object, not {type(manifest).__name__}")
    if manifest.get("format") != 1:
        raise BundleError(f"{where}: unsupported bundle format {manifest.get('format')!r} (this snncc reads format 1)")
    problem = _manifest_problem(manifest)
    if problem:
        raise BundleError(f"{where}: {problem}")
    return manifest


def _manifest_problem(m: dict[str, Any]) -> str | None:
    target = m.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("name"), str) or not isinstance(
            target.get("data"), dict):
        return "'target' must be an object with 'name' and 'data' (the target description)"
    steps = m.get("timesteps")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        return f"'timesteps' must be a positive integer, got {steps!r}"
    files = m.get("files")
    if not isinstance(files, dict) or not files:
        return "'files' must map each file of the bundle to its sha256"
    for name, digest in files.items():
        if Path(name).name != name or name in (".", "..") or name == MANIFEST:
            return f"'files' names '{name}', which is not a file of the bundle folder"
        if not (isinstance(digest, str) and len(digest) == 64):
            return f"'files' gives '{name}' the hash {digest!r}, not a sha256"
    for name in (GRAPH_FILE, FLOAT_GRAPH_FILE):
        if name not in files:
            return f"'files' lacks {name}"
    return None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


BUNDLE_EXTRAS = ("ir", "fidelity.png", "report")  # what snncc adds to a bundle besides its listed files
# (--dump-ir, verify --fidelity, report)


def check_destination(dest: str | Path, force: bool = False) -> Path:
    """Refuse, before any work, an output folder snncc cannot write or must not replace: a folder that is not
    exactly an snncc bundle (unless ``force``) would lose files snncc did not write."""
    dest = check_writable(dest, "output folder", BundleError, folder=True)
    if dest.is_dir() and any(dest.iterdir()) and not force:
        foreign = foreign_entries(dest)
        if foreign:
            raise BundleError(f"output folder {dest} is not an snncc bundle: it holds {foreign}, which snncc did not "
                              "write; refusing to replace it", hint="choose another -o, or pass --force to replace "
                                                                    "the folder and everything in it")
    return dest


def foreign_entries(folder: Path) -> str | None:
    """What in ``folder`` an snncc bundle would not hold (a short listing), or None when it is exactly a bundle."""
    entries = sorted(p.name for p in folder.iterdir())
    try:
        own = {MANIFEST, *read_manifest(folder)["files"], *BUNDLE_EXTRAS}
    except BundleError:
        own = set()
    extra = [name for name in entries if name not in own]
    if not extra:
        return None
    return ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")


def write_atomically(dest: Path, fill: Callable[[Path], None], force: bool = False) -> None:
    """Let ``fill`` populate a temporary sibling folder, then swap it in for ``dest`` (replacing an old bundle), or
    on any failure or signal leave ``dest`` as it was (:func:`snncc.outputs.replace_folder`)."""
    replace_folder(check_destination(dest, force), fill, "bundle", BundleError)


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
