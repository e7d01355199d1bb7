"""Compiled (numba) kernels of the reference simulator, and numba's view of :mod:`snncc.fixedpoint`'s arithmetic.

numba does not get rules of its own: the neuron kernels compile the families' integer steps (``lif_step``, ...)
themselves, with ``fx.EXACT`` as their arithmetic. :func:`_bind_arithmetic` types ``EXACT`` for numba as a value
without data whose methods are the very functions ``ExactArithmetic``'s methods are (``register_jitable`` rules on
int64 scalars), so the compiled and the numpy path run one definition. A kernel gets the neuron format as
:class:`CompiledFormat`, a named tuple of :class:`snncc.fixedpoint.NeuronFormat`'s fields.

The synapse kernel, :func:`event_dense`, is the column sum of a binary input over its non-zero entries, in the
weight's integer type: the caller picks that type from a static bound (:class:`DenseProduct`).

Kernels are cached on disk (:func:`kernel`), in a folder named by a hash of every source file of the package:
numba's own cache is keyed by the kernel's file alone, and would keep running a rule edited in another file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types
from numba.extending import NativeValue, models, overload, overload_method, register_model, typeof_impl, unbox

from . import fixedpoint as fx

# LLVM vectorizes a loop over several arrays only after run-time checks that they do not overlap, and gives up
# beyond 8 such checks by default: the LIF kernel reads and writes six arrays, and ran 3.4x slower unvectorized
# (measured). The checks keep the vector loop exact; a larger budget only lets LLVM emit them.
llvm.set_option("snncc", "--runtime-memory-check-threshold=64")

CACHE_ENV = "SNNCC_KERNEL_CACHE"  # where compiled kernels are kept ("off": compile in every process)


@functools.lru_cache(maxsize=1)
def _sources_hash() -> str:
    """A digest of every Python file of snncc: the rules a kernel compiles may live in any of them."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        digest.update(str(f.relative_to(root)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir() -> Path | None:
    setting = os.environ.get(CACHE_ENV)
    if setting == "off":
        return None
    base = Path(setting) if setting else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "snncc"
    return base / "kernels" / _sources_hash()


def kernel(fn: Callable) -> Callable:
    """``numba.njit(nogil=True)``, cached in this version's folder of :func:`_cache_dir` when it can be written."""
    folder = _cache_dir()
    if folder is None:
        return numba.njit(nogil=True)(fn)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return numba.njit(nogil=True)(fn)
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)  # read once, when the dispatcher picks its cache locator
    try:
        return numba.njit(nogil=True, cache=True)(fn)
    finally:
        numba.config.CACHE_DIR = previous


CompiledFormat = namedtuple("CompiledFormat", [f.name for f in dataclasses.fields(fx.NeuronFormat)])

EVENT_MAX_DENSITY = 0.25  # above this share of non-zero inputs a float BLAS product beats the event loop (measured)
INT32_BOUND = 1 << 31


@functools.lru_cache(maxsize=16)
def compiled_format(fmt: fx.NeuronFormat) -> CompiledFormat:
    """The neuron format as a named tuple numba reads fields from."""
    return CompiledFormat(*(int(getattr(fmt, f)) for f in CompiledFormat._fields))


def compiled_step_applies(state) -> bool:  # noqa: ANN001 - a NeuronState (snncc.ir sits above this module)
    """True when a layer's state suits the compiled kernels: C-ordered int64 (batch, n) words and a per-neuron
    int64 bias (the reference simulator's; other callers, e.g. Lava's models, may hand other arrays)."""
    words = (state.u, state.v)
    return (all(isinstance(w, np.ndarray) and w.dtype == np.int64 and w.ndim == 2 and w.flags.c_contiguous
                for w in words) and isinstance(state.bias, np.ndarray) and state.bias.dtype == np.int64
            and state.bias.shape == state.u.shape[1:])


class ExactArithmeticType(types.Type):
    """numba's type of :data:`snncc.fixedpoint.EXACT` (it holds no data)."""

    def __init__(self) -> None:
        super().__init__(name="ExactArithmetic")


EXACT_TYPE = ExactArithmeticType()


def _bind_arithmetic() -> None:
    """Type ``ExactArithmetic`` values for numba and bind each method to the function it is in Python."""
    typeof_impl.register(fx.ExactArithmetic)(lambda val, c: EXACT_TYPE)
    register_model(ExactArithmeticType)(models.OpaqueModel)
    unbox(ExactArithmeticType)(lambda typ, obj, c: NativeValue(c.context.get_dummy_value()))
    for name in fx.ARITHMETIC_METHODS:
        _bind_method(name, getattr(fx.ExactArithmetic, name))


def _bind_method(name: str, rule) -> None:
    arity = rule.__code__.co_argcount
    if arity == 2:
        def typer(self, a, b):
            return lambda self, a, b: rule(a, b)
    elif arity == 3:
        def typer(self, a, b, c):
            return lambda self, a, b, c: rule(a, b, c)
    elif arity == 4:
        def typer(self, a, b, c, d):
            return lambda self, a, b, c, d: rule(a, b, c, d)
    else:  # pragma: no cover - a new rule with another arity needs a line here
        raise TypeError(f"ExactArithmetic.{name}: no numba binding for {arity} arguments")
    overload_method(ExactArithmeticType, name)(typer)


_bind_arithmetic()


@overload(fx.as_int64)
def _as_int64_scalar(x):  # noqa: ANN001 - numba typing hook: a scalar stays a scalar (np.asarray would allocate)
    if isinstance(x, (types.Integer, types.Boolean)):
        return lambda x: np.int64(x)
    return None


@kernel
def event_dense(spikes: np.ndarray, weight_t: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[b] = sum of weight_t[i] over the i where spikes[b, i] != 0``; without the GIL, so that the simulator's
    threads run it on their shards of the batch at once. The active inputs are listed first (a branch-free loop)
    and their rows added four at a time (2.1x faster than a branch per input, measured); the sum is the same in
    any order, the bound on the column sums keeping it exact in the weight's type."""
    batch, n_in = spikes.shape
    n_out = weight_t.shape[1]
    active = np.empty(n_in, np.int64)
    acc = np.empty(n_out, weight_t.dtype)
    for b in range(batch):
        k = 0
        for i in range(n_in):
            active[k] = i
            k += spikes[b, i] != 0
        acc[:] = 0
        m = 0
        while m + 3 < k:
            r1, r2, r3, r4 = (weight_t[active[m]], weight_t[active[m + 1]], weight_t[active[m + 2]],
                              weight_t[active[m + 3]])
            for j in range(n_out):
                acc[j] += (r1[j] + r2[j]) + (r3[j] + r4[j])
            m += 4
        while m < k:
            last = weight_t[active[m]]
            for j in range(n_out):
                acc[j] += last[j]
            m += 1
        for j in range(n_out):
            out[b, j] = acc[j]


@kernel
def count_at_limit(v: np.ndarray, limit: int) -> int:  # pragma: no cover - compiled
    """How many entries of ``v`` have ``|v| >= limit`` (one pass, no temporary arrays)."""
    n = 0
    for x in v.ravel():
        n += (x >= limit) | (x <= -limit)  # no branch: the loop vectorizes
    return n


@kernel
def nonzero_per_column(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Per column of a 2-D array, its non-zero entries (one pass, no temporary arrays)."""
    rows, cols = x.shape
    out = np.zeros(cols, np.int64)
    for r in range(rows):
        for c in range(cols):
            out[c] += x[r, c] != 0  # no branch: the loop vectorizes
    return out


@kernel
def abs_max(x: np.ndarray) -> int:  # pragma: no cover - compiled
    """``max |x|`` of a non-empty array (one pass)."""
    m = 0
    for v in x.ravel():
        m = max(m, abs(np.int64(v)))
    return m


class DenseProduct:
    """``spikes @ weight.T`` exactly, for one fixed integer ``weight`` (n_out, n_in), by the fastest exact route.

    Binary input at most :data:`EVENT_MAX_DENSITY` non-zero: the event kernel, in int32 when every column sum of
    ``|weight|`` is below 2**31 (else int64). Otherwise :func:`snncc.fixedpoint.exact_matmul`, whose bound on the
    weight is computed here once instead of at every step.
    """

    def __init__(self, weight: np.ndarray) -> None:
        self.weight_t = np.ascontiguousarray(np.asarray(weight, dtype=np.int64).T)  # (n_in, n_out)
        self.column_bound = int(np.abs(self.weight_t).sum(axis=0).max()) if self.weight_t.size else 0
        fits32 = self.column_bound < INT32_BOUND
        self.event_weight = self.weight_t.astype(np.int32) if fits32 else self.weight_t
        self._float: dict[type, np.ndarray] = {}

    def __call__(self, s: np.ndarray, binary: bool) -> np.ndarray:
        """The integer product of ``s`` (batch, n_in); ``binary``: every non-zero entry counts as 1."""
        if binary and s.size and np.count_nonzero(s) <= EVENT_MAX_DENSITY * s.size:
            out = np.empty((s.shape[0], self.weight_t.shape[1]), np.int64)
            event_dense(s, self.event_weight, out)
            return out
        a = (s != 0).astype(np.int64) if binary else np.asarray(s, dtype=np.int64)
        return fx.exact_matmul(a, self.weight_t, self.column_bound, self._float)
