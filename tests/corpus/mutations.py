"""Seeded random mutations of valid inputs: the fuzzing half of the malformed-input corpus.

Where the corpus cases (the other modules of this package) are hand-picked, these damage a valid file at random:
a figure of a target replaced by a nasty value, a field of a NIR file deleted or retyped, bytes of a model, NIR or
payload file flipped or cut, a manifest key retyped. Whatever comes out, snncc must either accept it (exit 0) or
refuse it on one line (exit 2); nothing else.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np
import yaml

from . import Workspace
from .nir_files import valid_graph

NASTY: tuple[Any, ...] = (None, "", "8", "nan", -1, 0, 1, 2**70, -(2**70), 0.5, -0.5, 1e308, float("nan"),
                          float("inf"), True, False, [], [1, 2, 3], {}, {"value": 1})
Mutation = Callable[[Workspace, random.Random], list[str]]


def _paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of nested dicts and lists."""
    out = []
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


def _mutate_tree(data: Any, rng: random.Random) -> None:
    """Replace, delete or add one entry somewhere in nested dicts and lists."""
    path = rng.choice(_paths(data))
    parent = data
    for k in path[:-1]:
        parent = parent[k]
    action = rng.random()
    if action < 0.6:
        parent[path[-1]] = copy.deepcopy(rng.choice(NASTY))
    elif action < 0.85 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[f"unexpected_{rng.randrange(100)}"] = copy.deepcopy(rng.choice(NASTY))
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(NASTY))


def target(ws: Workspace, rng: random.Random) -> list[str]:
    data = yaml.safe_load((files("snncc.targets") / "loihi2.yaml").read_text())
    for _ in range(rng.randint(1, 3)):
        _mutate_tree(data, rng)
    path = ws.write("target.yaml", yaml.safe_dump(data, sort_keys=False))
    return ["compile", str(ws.model()), "--target", str(path), "-o", str(ws.out), "--samples", "2",
            "--timesteps", "4"]


def manifest(ws: Workspace, rng: random.Random) -> list[str]:
    bundle = ws.bundle()
    data = json.loads((bundle / "manifest.json").read_text())
    for _ in range(rng.randint(1, 3)):
        _mutate_tree(data, rng)
    (bundle / "manifest.json").write_text(json.dumps(data))
    return rng.choice((["verify", str(bundle), "--no-netx", "--samples", "2"], ["report", str(bundle)]))


def nir_fields(ws: Workspace, rng: random.Random) -> list[str]:
    path = ws.root / "model.nir"
    nir.write(path, valid_graph())
    with h5py.File(path, "r+") as f:
        datasets: list[str] = []
        f.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        for _ in range(rng.randint(1, 2)):
            name = rng.choice(datasets)
            if name not in f:
                continue
            del f[name]
            if rng.random() < 0.7:
                f[name] = rng.choice([rng.choice(NASTY[1:4]), np.full(rng.randint(0, 4), np.nan),
                                      np.ones((rng.randint(1, 3), rng.randint(1, 3))), np.array(-1),
                                      np.array([1 + 2j]), np.zeros((0,))])
    return ["compile", str(path), "-o", str(ws.out), "--from", "nir", "--dt", "1e-4", "--samples", "2"]


def _damaged(data: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return data[: rng.randrange(len(data))]
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def model_bytes(ws: Workspace, rng: random.Random) -> list[str]:
    path = ws.model()
    path.write_bytes(_damaged(path.read_bytes(), rng))
    return ["compile", str(path), "-o", str(ws.out), "--samples", "2", "--timesteps", "4"]


def nir_bytes(ws: Workspace, rng: random.Random) -> list[str]:
    path = ws.root / "model.nir"
    nir.write(path, valid_graph())
    path.write_bytes(_damaged(path.read_bytes(), rng))
    return ["compile", str(path), "-o", str(ws.out), "--from", "nir", "--dt", "1e-4", "--samples", "2"]


def payload(ws: Workspace, rng: random.Random) -> list[str]:
    shape = tuple(rng.choice((0, 1, 2, 4, 5, 6, 7)) for _ in range(rng.choice((0, 1, 2, 3, 3, 3, 4))))
    dtype = rng.choice((np.int64, np.int8, np.uint16, np.float32, np.float64, np.bool_, np.complex64))
    x = np.asarray(np.random.default_rng(rng.randrange(2**32)).integers(-2, 10, size=shape)).astype(dtype)
    if x.size and dtype in (np.float32, np.float64) and rng.random() < 0.3:
        x.flat[rng.randrange(x.size)] = rng.choice((np.nan, np.inf, 0.5))
    path = ws.root / "x.npy"
    np.save(path, x)
    if rng.random() < 0.3:
        path.write_bytes(_damaged(path.read_bytes(), rng))
    command = rng.choice(("verify", "run"))
    if command == "verify":
        return ["verify", str(ws.bundle()), "--inputs", str(path), "--no-netx"]
    return ["run", str(ws.bundle()), "--inputs", str(path)]


MUTATIONS: dict[str, Mutation] = {"target": target, "manifest": manifest, "nir-fields": nir_fields,
                                  "model-bytes": model_bytes, "nir-bytes": nir_bytes, "payload": payload}


def mutation(seed: int) -> tuple[str, Mutation, random.Random]:
    """The mutation of ``seed``: its kind, its builder, and the random stream it draws from."""
    rng = random.Random(seed)
    kind = sorted(MUTATIONS)[seed % len(MUTATIONS)]
    return kind, MUTATIONS[kind], rng


def run_mutation(seed: int, root: Path, bundle_source: Path) -> tuple[str, int, str]:
    """Build mutation ``seed`` in ``root`` and run it through the CLI in-process: (kind, exit status, stderr).
    Any exception other than argparse's exit propagates: that is the failure the fuzz looks for."""
    import contextlib
    import io
    import os

    from snncc.cli import main

    kind, build, rng = mutation(seed)
    argv = build(Workspace(root=root, bundle_source=bundle_source), rng)
    err, out = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                status = main(argv)
            except SystemExit as exc:
                status = int(exc.code or 0)
    finally:
        os.chdir(cwd)
    return kind, status, err.getvalue()
