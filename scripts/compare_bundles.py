"""Compare two compiled bundles field by field: did a change of snncc change what it compiles?

    .venv/bin/python scripts/compare_bundles.py OLD_BUNDLE NEW_BUNDLE [--ignore-meta KEY ...]
    .venv/bin/python scripts/compare_bundles.py OLD_ROOT NEW_ROOT --tree    # every bundle below two folders

It reads the files with h5py and json only (not with snncc), so bundles written by two versions of snncc compare
on equal terms. Compared: every dataset of ``graph.nir`` (the integer graph), ``float.nir`` and ``network.net``
(the netx file), value for value; ``report.json`` and ``manifest.json`` figure for figure. Left out, because they
change from run to run or describe the run rather than the network: timings, creation time, package versions,
file hashes and paths. The mapping (which neurons of each layer each core holds, which tile, which core) is compared
as one view whichever way a bundle stores it: per node (``snncc.blocks``, ``snncc.tiles``, ``snncc.placement``,
before the mapping package) or in the graph (``snncc.mapping``). Node metadata keys named with ``--ignore-meta``
are reported but do not count as a difference (a new annotation is not a new network). Exit status 0 when nothing
else differs, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

VOLATILE = {"pass_timings", "stage_timings", "created", "versions", "compile_seconds", "python", "files", "path",
            "sha256", "snncc_version"}
MAPPING_KEYS = {"snncc.blocks", "snncc.tiles", "snncc.placement", "snncc.mapping", "cores_used"}
HDF5_FILES = ("graph.nir", "float.nir", "network.net")
JSON_FILES = ("report.json", "manifest.json")


def _read_h5(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            value = item[()]
            if isinstance(value, bytes):
                value = value.decode("utf8")
            if isinstance(value, str) and value.startswith("json:"):
                value = json.loads(value[5:])
            out[name] = value

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind in "SUO" or b.dtype.kind in "SUO":
            return a.shape == b.shape and [str(x) for x in a.ravel()] == [str(x) for x in b.ravel()]
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b


def _diff_json(a: Any, b: Any, where: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in VOLATILE:
                continue
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'new' if k not in a else 'old'}")
            else:
                _diff_json(a[k], b[k], f"{where}.{k}", out)
    elif not _equal(a, b):
        out.append(f"{where}: {_short(a)} != {_short(b)}")


def _short(v: Any, width: int = 100) -> str:
    text = repr(v)
    return text if len(text) <= width else text[: width - 3] + "..."


def compare(old: Path, new: Path, ignore_meta: set[str]) -> tuple[list[str], list[str]]:
    """(differences, ignored metadata differences) between bundle folders ``old`` and ``new``."""
    diffs: list[str] = []
    ignored: list[str] = []
    for name in HDF5_FILES:
        fa, fb = old / name, new / name
        if fa.is_file() != fb.is_file():
            diffs.append(f"{name}: only in {'old' if fa.is_file() else 'new'}")
            continue
        if not fa.is_file():
            continue
        a, b = _read_h5(fa), _read_h5(fb)
        if name == "graph.nir":
            va, vb = _mapping_view(a), _mapping_view(b)
            for layer in sorted(set(va) | set(vb)):
                if not _equal(va.get(layer), vb.get(layer)):
                    diffs.append(f"{name}: mapping of {layer}: {_short(va.get(layer))} != {_short(vb.get(layer))}")
        for key in sorted(set(a) | set(b)):
            if name == "graph.nir" and key.rsplit("/", 1)[-1] in MAPPING_KEYS:
                continue  # compared as the mapping view above
            meta_key = key.rsplit("/", 1)[-1] if "/metadata/" in key else None
            target = ignored if meta_key in ignore_meta else diffs
            if key not in a or key not in b:
                target.append(f"{name}:{key}: only in {'new' if key not in a else 'old'}")
            elif not _equal(a[key], b[key]):
                target.append(f"{name}:{key}: {_short(a[key])} != {_short(b[key])}")
    for name in JSON_FILES:
        fa, fb = old / name, new / name
        if fa.is_file() and fb.is_file():
            _diff_json(json.loads(fa.read_text()), json.loads(fb.read_text()), name, diffs)
        elif fa.is_file() != fb.is_file():
            diffs.append(f"{name}: only in {'old' if fa.is_file() else 'new'}")
    return diffs, ignored


def _mapping_view(data: dict[str, Any]) -> dict[str, list[tuple]]:
    """Per layer, its blocks as (ranges, tile, core) in either storage format."""
    if "node/metadata/snncc.mapping" in data:
        view = {}
        for layer, m in data["node/metadata/snncc.mapping"]["layers"].items():
            cores = m.get("cores") or [None] * len(m["blocks"])
            view[layer] = [(_ranges(b), b.get("tile"), c) for b, c in zip(m["blocks"], cores, strict=True)]
        return view
    view = {}
    for key, blocks in data.items():
        if not key.endswith("/metadata/snncc.blocks"):
            continue
        node = key[: -len("/metadata/snncc.blocks")]
        tiles = data.get(f"{node}/metadata/snncc.tiles") or [None] * len(blocks)
        cores = data.get(f"{node}/metadata/snncc.placement") or [None] * len(blocks)
        ranges = [[b] if isinstance(b[0], int) else b for b in blocks]  # [a, b] or [[a, b], ...]
        view[node.rsplit("/", 1)[-1]] = list(zip(ranges, tiles, cores, strict=True))
    return view


def _ranges(block: dict[str, Any]) -> list[list[int]]:
    """A stored block's neuron ranges (a tile is stored as the tile and its layer's map)."""
    from snncc.mapping import Block

    return [list(r) for r in Block.from_data(block).ranges]


def _bundles(root: Path) -> list[Path]:
    return sorted(p.parent.relative_to(root) for p in root.rglob("manifest.json"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--tree", action="store_true", help="compare every bundle found below the two folders")
    p.add_argument("--ignore-meta", nargs="*", default=[], help="node metadata keys whose changes are only listed")
    p.add_argument("--show", type=int, default=12, help="differences printed per bundle")
    args = p.parse_args(argv)
    pairs = ([(args.old / r, args.new / r, str(r)) for r in _bundles(args.old)] if args.tree
             else [(args.old, args.new, str(args.new))])
    failed = 0
    for old, new, label in pairs:
        if not (new / "manifest.json").is_file():
            print(f"{label}: MISSING in new")
            failed += 1
            continue
        diffs, ignored = compare(old, new, set(args.ignore_meta))
        status = "same" if not diffs else f"DIFFERENT ({len(diffs)} entries)"
        note = f"; {len(ignored)} ignored metadata entries" if ignored else ""
        print(f"{label}: {status}{note}")
        for d in diffs[: args.show]:
            print(f"    {d}")
        failed += bool(diffs)
    print(f"{len(pairs) - failed} of {len(pairs)} bundles identical")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
