"""Where snncc may write: every output path is checked before any work starts, so that a long compile or verify
never fails at its last step, and nothing outside what snncc writes is touched. Also how it reads back the JSON
files it (or a user) wrote: any fault is one error naming the file.

A path is writable when its name is not empty, no component is longer than the file system allows, no ancestor is
a file, and the nearest existing ancestor accepts a new entry (probed by creating and removing a temporary folder,
since permission bits say nothing for root or read-only mounts).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def normal_permissions(path: Path, mode: int = 0o777) -> None:
    """Give ``path`` (made by mkdtemp or mkstemp, mode 0700 or 0600) the mode a new folder (``0o777``) or file
    (``0o666``) gets under the user's umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, mode & ~mask)


def replace_folder(dest: Path, fill: Callable[[Path], None], what: str, error: type[SnnccError]) -> None:
    """Let ``fill`` populate a temporary sibling folder, then swap it in for ``dest`` (replacing what is there; the
    caller has checked that snncc may). ``what`` names the folder in ``error`` when the system refuses a write.

    On any failure or signal the temporary folder (and any parent folder made for it) is removed and ``dest`` is
    as it was; the swap itself runs with SIGINT/SIGTERM held back, so it is never left half done."""
    with created_parents(dest.parent):
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            try:
                fill(tmp)
            except OSError as exc:
                raise error(f"cannot write the {what} {dest}: {os_error_text(exc)}") from None
            normal_permissions(tmp)
            with signals_held():
                old = None
                if dest.exists():
                    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
                    os.replace(dest, old)
                try:
                    os.replace(tmp, dest)
                except OSError:
                    if old is not None:
                        os.replace(old, dest)
                    raise
                if old is not None:
                    remove_tree(old)
        except BaseException:
            remove_tree(tmp)
            raise


def remove_tree(folder: Path) -> None:
    """Remove a folder snncc wrote (a failed bundle, a temporary dump); never raises."""
    shutil.rmtree(folder, ignore_errors=True)


def read_json(path: Path, where: str, error: type[SnnccError]) -> Any:
    """The JSON value in the file ``path``, or ``error`` saying ``where`` (how the message names the file) is not
    UTF-8 text or not valid JSON, and at which line."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{where} is not UTF-8 text (corrupt)") from None
    except json.JSONDecodeError as exc:
        raise error(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}") from None


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
