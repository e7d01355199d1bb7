"""Bundles that are missing, incomplete, tampered with, or whose manifest is not what snncc writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import Workspace, case

COMMANDS = {
    "verify": lambda b: ["verify", str(b), "--no-netx", "--samples", "2"],
    "report": lambda b: ["report", str(b)],
}


def _bundle_case(name: str, corrupt: Callable[[Path], None], *expect: str,
                 commands: tuple[str, ...] = ("verify", "report")) -> None:
    for command in commands:
        @case("bundles", f"{name}-{command}", *expect)
        def build(ws: Workspace, command: str = command) -> list[str]:
            bundle = ws.bundle()
            corrupt(bundle)
            return COMMANDS[command](bundle)


def _manifest(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Edit the manifest in place (what ``edit`` returns is ignored)."""
    def corrupt(bundle: Path) -> None:
        data = json.loads((bundle / "manifest.json").read_text())
        edit(data)
        (bundle / "manifest.json").write_text(json.dumps(data))

    return corrupt


def _manifest_as(make: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Replace the manifest by what ``make`` returns from the real one."""
    def corrupt(bundle: Path) -> None:
        data = json.loads((bundle / "manifest.json").read_text())
        (bundle / "manifest.json").write_text(json.dumps(make(data)))

    return corrupt


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda bundle: (bundle / name).write_bytes(data)


_bundle_case("manifest-not-utf8", _write("manifest.json", b"\xff\xfe\x00{"), "manifest.json", "UTF-8")
_bundle_case("manifest-not-json", _write("manifest.json", b"{format: 1"), "manifest.json", "JSON")
_bundle_case("manifest-a-list", _manifest_as(lambda d: [d]), "manifest.json", "object")
_bundle_case("manifest-empty-object", _manifest_as(lambda d: {}), "manifest.json", "format")
_bundle_case("manifest-lacks-target", _manifest(lambda d: d.pop("target")), "manifest.json", "target")
_bundle_case("manifest-target-lacks-data", _manifest(lambda d: d["target"].pop("data")), "manifest.json", "target")
_bundle_case("manifest-lacks-files", _manifest(lambda d: d.pop("files")), "manifest.json", "files")
_bundle_case("manifest-files-a-list", _manifest(lambda d: d.__setitem__("files", ["graph.nir"])), "files")
_bundle_case("manifest-format-two", _manifest(lambda d: d.__setitem__("format", 2)), "format")
_bundle_case("manifest-timesteps-text", _manifest(lambda d: d.__setitem__("timesteps", "many")), "timesteps")
_bundle_case("manifest-timesteps-negative", _manifest(lambda d: d.__setitem__("timesteps", -4)), "timesteps")
_bundle_case("manifest-path-escapes", _manifest(lambda d: d["files"].__setitem__("../escape", "0" * 64)),
             "../escape")
_bundle_case("manifest-bad-target", _manifest(
    lambda d: d["target"]["data"]["formats"]["state_bits"].__setitem__("value", 0)), "formats.state_bits")
_bundle_case("graph-missing", lambda b: (b / "graph.nir").unlink(), "graph.nir", "missing")
_bundle_case("graph-tampered", lambda b: (b / "graph.nir").write_bytes(b"x"), "graph.nir", "does not match")
_bundle_case("no-manifest", lambda b: (b / "manifest.json").unlink(), "manifest.json")


@case("bundles", "missing-folder", "nothing", "does not exist")
def _missing(ws: Workspace) -> list[str]:
    return ["verify", str(ws.root / "nothing")]


@case("bundles", "a-file", "is not a folder")
def _file(ws: Workspace) -> list[str]:
    return ["report", str(ws.write("bundle", "text"))]


@case("bundles", "graph-rehashed-garbage", "graph.nir")
def _rehashed(ws: Workspace) -> list[str]:
    """A graph file replaced by garbage and the manifest's hash updated to match: the content is still checked."""
    from snncc.bundle import sha256

    bundle = ws.bundle()
    (bundle / "graph.nir").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    data = json.loads((bundle / "manifest.json").read_text())
    data["files"]["graph.nir"] = sha256(bundle / "graph.nir")
    (bundle / "manifest.json").write_text(json.dumps(data))
    return ["verify", str(bundle), "--no-netx"]
