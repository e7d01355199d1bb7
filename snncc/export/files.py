"""Writing an exported file: checked before any work, never half-written, never over a file of another kind.

The file is written to a temporary sibling, checked by its format's own reader, and renamed over the destination
with SIGINT/SIGTERM held back; an existing destination is replaced only when it is a file of the same format (or
with ``force``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import OptionError
from ..outputs import check_writable, created_parents, normal_permissions, os_error_text, signals_held


def check_file_destination(dest: str | Path, what: str, same_kind: Callable[[Path], bool], kind: str,
                           force: bool = False) -> Path:
    """``dest`` as a Path, or OptionError: it cannot be written, or it is an existing file that is not ``kind``."""
    path = check_writable(dest, what, OptionError)
    if path.exists() and not force and not same_kind(path):
        raise OptionError(f"the {what} {path} exists and is not a {kind} file; refusing to replace it",
                          hint="choose another name, or pass --force to replace it")
    return path


def write_file_atomically(dest: Path, fill: Callable[[Path], None], check: Callable[[Path], None], what: str) -> None:
    """``fill`` writes a temporary sibling of ``dest``, ``check`` reads it back, then it replaces ``dest``."""
    with created_parents(dest.parent):
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            try:
                fill(tmp)
            except OSError as exc:
                raise OptionError(f"cannot write the {what} {dest}: {os_error_text(exc)}") from None
            check(tmp)
            normal_permissions(tmp, 0o666)
            with signals_held():
                os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
