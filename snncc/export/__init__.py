"""Exporting a compiled bundle to other tools' formats (``snncc export BUNDLE --<format> FILE``).

``FORMATS`` is the one list of them: a format is a name, the flag that names its file, its own options and the
function that writes it; the command line is made from this table, so another format is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import Bundle
from ..errors import OptionError
from .nir_file import write_nir


@dataclass(frozen=True)
class FormatOption:
    """A flag of one format (``--dt`` of ``--nir``): argparse's keyword arguments, passed to ``write`` as ``name``."""

    flag: str
    name: str
    help: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Format:
    name: str
    flag: str  # the option naming the file to write
    help: str
    write: Callable[..., Path]  # write(bundle, dest, *, force, warn, **options) -> the file written
    options: tuple[FormatOption, ...] = ()


FORMATS: dict[str, Format] = {
    "nir": Format("nir", "--nir", "the float graph as standard NIR (nir.read accepts it; docs/nir_export.md)",
                  write_nir, (
                      FormatOption("--dt", "dt", "seconds per step the time constants are written for (default: the "
                                   "bundle's dt; snnTorch's importer assumes 1e-4)", {"type": float}),
                      FormatOption("--allow-metadata", "allow_metadata", "keep what standard NIR cannot say (subtract "
                                   "reset) as node metadata, which only snncc reads back", {"action": "store_true"}),
                  )),
}


def export_bundle(bundle: Bundle | str | Path, fmt: str, dest: str | Path, *, force: bool = False,
                  warn: Callable[[str], None] | None = None, **options: Any) -> Path:
    """Write ``bundle`` (a Bundle or its folder) as format ``fmt`` to ``dest``; returns the file written."""
    if fmt not in FORMATS:
        raise OptionError(f"unknown export format {fmt!r} (formats: {', '.join(FORMATS)})")
    chosen = FORMATS[fmt]
    known = {o.name for o in chosen.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise OptionError(f"the {fmt} export has no option {unknown[0]!r} (options: {', '.join(sorted(known))})")
    return chosen.write(bundle, dest, force=force, warn=warn, **options)


__all__ = ["FORMATS", "Format", "FormatOption", "export_bundle"]
