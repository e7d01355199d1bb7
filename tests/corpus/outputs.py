"""Output paths that cannot be written, or whose writing would destroy what snncc did not write."""

from __future__ import annotations

import json

import numpy as np

from . import Workspace, case

UNWRITABLE = "/proc/snncc-cannot-write-here"  # not writable even by root


def _compile(ws: Workspace, out: str) -> list[str]:
    return ["compile", str(ws.model()), "-o", out, "--samples", "2", "--timesteps", "4"]


@case("outputs", "under-a-file", "notes.txt", "not a folder")
def _under_file(ws: Workspace) -> list[str]:
    return _compile(ws, str(ws.write("notes.txt", "keep me") / "out"))


@case("outputs", "unwritable", "snncc-cannot-write-here", "cannot")
def _unwritable(ws: Workspace) -> list[str]:
    return _compile(ws, UNWRITABLE)


@case("outputs", "name-too-long", "too long")
def _too_long(ws: Workspace) -> list[str]:
    return _compile(ws, str(ws.root / ("b" * 300)))


@case("outputs", "existing-file", "out", "not a folder")
def _existing_file(ws: Workspace) -> list[str]:
    return _compile(ws, str(ws.write("out", "a file")))


@case("outputs", "foreign-folder", "out", "not an snncc bundle", "--force")
def _foreign(ws: Workspace) -> list[str]:
    ws.write("out/thesis.tex", "years of work")
    return _compile(ws, str(ws.out))


@case("outputs", "manifest-and-other-files", "out", "not an snncc bundle", "thesis.tex")
def _manifest_and_others(ws: Workspace) -> list[str]:
    """The data-loss case: a folder holding a manifest.json beside files snncc never wrote."""
    ws.write("out/manifest.json", json.dumps({"format": 1, "files": {}}))
    ws.write("out/thesis.tex", "years of work")
    return _compile(ws, str(ws.out))


@case("outputs", "bundle-with-extra-file", "out", "notes.md")
def _bundle_plus(ws: Workspace) -> list[str]:
    """A real bundle into which the user put a file of their own."""
    bundle = ws.bundle()
    (bundle / "notes.md").write_text("mine")
    return _compile(ws, str(bundle.rename(ws.out)))


@case("outputs", "foreign-manifest", "out", "not an snncc bundle")
def _foreign_manifest(ws: Workspace) -> list[str]:
    ws.write("out/manifest.json", json.dumps({"name": "my web app", "version": "1.0"}))
    return _compile(ws, str(ws.out))


@case("outputs", "model-folder", "not an snncc bundle")
def _model_folder(ws: Workspace) -> list[str]:
    model = ws.model()
    return ["compile", str(model), "-o", str(model.parent), "--samples", "2"]


@case("outputs", "empty-name", "output", "empty")
def _empty(ws: Workspace) -> list[str]:
    return _compile(ws, "")


@case("outputs", "verify-json-under-file", "notes.txt", "not a folder")
def _json(ws: Workspace) -> list[str]:
    return ["verify", str(ws.bundle()), "--json", str(ws.write("notes.txt", "x") / "v.json")]


@case("outputs", "verify-json-is-folder", "verdict", "is a folder")
def _json_dir(ws: Workspace) -> list[str]:
    (ws.root / "verdict").mkdir()
    return ["verify", str(ws.bundle()), "--json", str(ws.root / "verdict")]


@case("outputs", "verify-plot-unwritable", "snncc-cannot-write-here", "cannot")
def _plot(ws: Workspace) -> list[str]:
    return ["verify", str(ws.bundle()), "--fidelity", "--plot", UNWRITABLE + "/f.png"]


@case("outputs", "run-output-under-file", "notes.txt", "not a folder")
def _run_out(ws: Workspace) -> list[str]:
    x = ws.root / "x.npy"
    np.save(x, np.ones((1, 4, 6), np.int64))
    return ["run", str(ws.bundle()), "--inputs", str(x), "-o", str(ws.write("notes.txt", "x") / "y.npy")]
