"""Checks of the numbers a user gives (time steps, samples, seeds, shares) and of the memory a run would need.

Each check names the option as the command line spells it, so the CLI and the Python API report alike. The memory
guard runs before anything is allocated: a request that cannot fit is refused with the figure, instead of failing
deep inside numpy (or swapping the machine to a halt).
"""

from __future__ import annotations

import math
import os
from typing import Any

from .errors import OptionError, ResourceError

MEMORY_SHARE = 0.5  # of the machine's physical memory that one run's traces may take
TRACE_BYTES = 8  # every recorded value is an int64 or a float64


def count(value: Any, option: str, minimum: int = 1) -> int:
    """An integer option that must be at least ``minimum`` (``--timesteps``, ``--samples``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            as_int = int(value)
        except (TypeError, ValueError, OverflowError):
            raise OptionError(f"{option} must be an integer, got {value!r}") from None
        if as_int != value:
            raise OptionError(f"{option} must be an integer, got {value!r}")
        value = as_int
    if value < minimum:
        raise OptionError(f"{option} must be at least {minimum}, got {value}")
    return value


def seed(value: Any, option: str = "--seed") -> int:
    """A random seed: an integer >= 0 (numpy's generators take no negative seeds)."""
    return count(value, option, minimum=0)


def share(value: Any, option: str) -> float:
    """A share in [0, 1] (``--min-output-agreement``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{option} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= x <= 1.0:  # NaN fails too
        raise OptionError(f"{option} must be a number in [0, 1], got {value!r}")
    return x


def positive(value: Any, option: str) -> float:
    """A finite positive number (``--dt``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{option} must be a positive number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise OptionError(f"{option} must be a finite positive number, got {value!r}")
    return x


def check_memory(samples: int, timesteps: int, values_per_step: int, what: str) -> None:
    """Refuse a run whose traces (samples x timesteps x values, 8 bytes each) exceed the share of this machine's
    memory one run may take; ``what`` says which run, for the message."""
    need = samples * timesteps * values_per_step * TRACE_BYTES
    have = physical_memory() * MEMORY_SHARE
    if need > have:
        raise ResourceError(
            f"{what}: {samples} samples x {timesteps} time steps x {values_per_step} recorded values need about "
            f"{size_text(need)} of memory, more than the {size_text(have)} this machine can spare",
            hint="use fewer samples (--samples, or a smaller --inputs file) or fewer time steps (--timesteps)")


def physical_memory() -> int:
    """Bytes of physical memory (a generous default where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def size_text(n: float) -> str:
    """Bytes as words: '715.3 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"
