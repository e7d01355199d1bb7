"""Where snncc may write: every output path is checked before any work starts, so that a long compile or verify
never fails at its last step, and nothing outside what snncc writes is touched.

A path is writable when its name is not empty, no component is longer than the file system allows, no ancestor is
a file, and the nearest existing ancestor accepts a new entry (probed by creating and removing a temporary folder,
since permission bits say nothing for root or read-only mounts).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SnnccError


def check_writable(path: str | Path, what: str, error: type[SnnccError] = SnnccError, folder: bool = False) -> Path:
    """``path`` as a Path, or ``error`` naming ``what`` (e.g. "--json file") and why it cannot be written."""
    if not str(path).strip():
        raise error(f"the {what} name is empty")
    p = Path(path)
    limit = _name_max(p)
    long = next((part for part in p.parts if len(os.fsencode(part)) > limit), None)
    if long is not None:
        raise error(f"the {what} {p} has a name too long for the file system ({len(long)} > {limit} characters)")
    if p.is_dir() and not folder:
        raise error(f"the {what} {p} is a folder")
    if p.exists() and not p.is_dir() and folder:
        raise error(f"the {what} {p} exists and is not a folder")
    existing = nearest_existing(p.parent if p.exists() else p)
    if not existing.is_dir():
        raise error(f"cannot write the {what} {p}: {existing} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".snncc-probe-", dir=existing)
    except OSError as exc:
        raise error(f"cannot write the {what} {p}: {existing}: {exc.strerror or exc}") from None
    os.rmdir(probe)
    return p


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


@contextmanager
def created_parents(folder: Path) -> Iterator[None]:
    """Create ``folder``'s missing ancestors (and it) for the duration; on failure remove those it created."""
    missing = []
    p = Path(os.path.abspath(folder))
    while not p.exists():
        missing.append(p)
        p = p.parent
    try:
        for d in reversed(missing):
            d.mkdir()
        yield
    except BaseException:
        for d in missing:
            try:
                d.rmdir()
            except OSError:
                break
        raise


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (the main thread only; elsewhere it is a no-op)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def normal_permissions(folder: Path) -> None:
    """Give ``folder`` (made by mkdtemp, mode 0700) the mode a new folder gets under the user's umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)


def remove_tree(folder: Path) -> None:
    """Remove a folder snncc wrote (a failed bundle, a temporary dump); never raises."""
    shutil.rmtree(folder, ignore_errors=True)


def os_error_text(exc: OSError) -> str:
    """An OSError as words: 'No space left on device', not '[Errno 28] ...'."""
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return exc.strerror or str(exc)


def _name_max(path: Path) -> int:
    try:
        return os.pathconf(nearest_existing(path), "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255
