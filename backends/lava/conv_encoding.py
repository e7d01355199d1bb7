"""Translate a ``QConv`` into the parameters of Lava's ``Conv`` (lava-nc 0.10.0, ``lava.proc.conv``).

Lava's convolution differs from snncc's (:mod:`snncc.conv`, PyTorch's) in four ways, measured against
``lava.proc.conv.utils.conv`` and Lava runs; the kernel and the port wiring absorb them, the semantics stay snncc's:

* layout: Lava's tensors are ``(W, H, C)`` (x, y, channel) and its kernel ``(C_out, kW, kH, C_in / groups)``; its
  stride, padding and dilation pairs are ``(x, y)``. snncc's maps are flat ``(C, H, W)`` vectors and its pairs
  ``(y, x)``. A flat CHW vector becomes a WHC tensor by ``reshape((C, H, W))`` then ``transpose([2, 1, 0])``, and
  back by the same transpose then ``flatten()``; Lava ports support both as virtual ports.
* flip: Lava computes a true convolution (``scipy.signal.convolve2d`` per channel pair), snncc a
  cross-correlation, so the kernel is flipped in both spatial axes (as lava-dl's netx does).
* exponent: Lava's ``Conv`` ignores ``weight_exp`` (and ``num_weight_bits``: weights are used as given), so
  ``2**weight_exp`` is folded into the kernel. A negative exponent (a floor shift of the sum) has no kernel form;
  the quantizer gives convolutions ``weight_exp >= 0``.
* int8 parameters: Lava keeps ``kernel_size``, ``stride``, ``padding``, ``dilation`` and ``groups`` in int8 Vars,
  so a value above 127 wraps (``groups=256`` becomes 0: division by zero, garbage output and no error; 130 becomes
  -126, which Lava's conv rejects inside its process, and the run hangs).
  A convolution with more groups (a depthwise one over many channels, such as a relay stage) runs with the largest
  divisor of ``groups`` that fits, its kernel widened with zeros between the original groups (:func:`regroup`);
  the other parameters must fit as they are.

A convolution with a negative exponent (split-fan-in's sum of partial sums into a dense-fed layer) has no kernel
form; it runs as Lava's ``Sparse`` of its matrix (:func:`conv_sparse`, built from the taps, no dense matrix), which
applies the exponent as a floor shift. ``Sparse`` does not wrap its sum, so that is exact only where the sum provably
never reaches the 24-bit wrap (:func:`wrap_free`).

Lava sums in float64 (exact) and casts to int32 before wrapping the sum to signed 24 bits; a sum of magnitude
``>= 2**31`` would not survive the cast, so :func:`max_abs_sum` bounds it.

Lava executes every ``.py`` file of this folder as a top-level module (see ``processes.py``): absolute imports only.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from snncc import fixedpoint as fx
from snncc.conv import ConvGeometry

ACC_BITS = fx.STATE_BITS  # Lava's Conv wraps its sum to signed 24 bits
INT32_LIMIT = 1 << 31  # Lava casts its float64 convolution sum to int32 before the 24-bit wrap
INT8_MAX = 127  # Lava's Conv keeps kernel_size, stride, padding, dilation and groups in int8 Vars
LAVA_AXES = (2, 1, 0)  # (C, H, W) <-> (W, H, C): the transpose is its own inverse


def lava_conv_args(weight: np.ndarray, weight_exp: int, input_shape: tuple[int, int, int], stride: tuple[int, int],
                   padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> dict[str, object]:
    """All keyword arguments of Lava's ``Conv`` (kernel included) for a ``QConv``'s fields; ValueError if Lava's
    ``Conv`` cannot compute it exactly."""
    new_groups = lava_groups(groups)
    params = lava_conv_params(input_shape, stride, padding, dilation, new_groups)
    big = {k: v for k, v in (("kernel", np.shape(weight)[2:]), ("stride", stride), ("padding", padding),
                             ("dilation", dilation)) if max(v) > INT8_MAX}
    if big:
        raise ValueError(f"{big} exceed Lava's int8 Conv parameters (<= {INT8_MAX})")
    return {"weight": lava_conv_kernel(regroup(weight, groups, new_groups), weight_exp), **params}


def lava_groups(groups: int) -> int:
    """The largest divisor of ``groups`` that fits Lava's int8 ``groups`` Var."""
    return max(d for d in range(1, min(int(groups), INT8_MAX) + 1) if groups % d == 0)


def regroup(weight: np.ndarray, groups: int, new_groups: int) -> np.ndarray:
    """The kernel ``(C_out, C_in / new_groups, kH, kW)`` of the same convolution run with ``new_groups`` (a divisor
    of ``groups``): each output channel keeps its taps at its original group's place inside the wider new group,
    zeros elsewhere."""
    w = np.asarray(weight)
    if new_groups == groups:
        return w
    ratio = groups // new_groups  # original groups per new group
    c_out, cg_in = w.shape[:2]
    place = (np.arange(c_out) // (c_out // groups)) % ratio  # where an output's group sits in its new group
    wide = np.zeros((c_out, cg_in * ratio, *w.shape[2:]), w.dtype)
    for j in range(ratio):
        wide[place == j, j * cg_in:(j + 1) * cg_in] = w[place == j]
    return wide


def lava_conv_kernel(weight: np.ndarray, weight_exp: int) -> np.ndarray:
    """snncc kernel mantissas ``(C_out, C_in/g, kH, kW)`` with exponent ``weight_exp`` -> Lava's int32 kernel
    ``(C_out, kW, kH, C_in/g)``: ``2**weight_exp`` folded in, spatially flipped, transposed."""
    e = int(weight_exp)
    if e < 0:
        raise ValueError(f"Lava's Conv ignores weight_exp; weight_exp={e} < 0 (a floor shift of the sum) cannot be "
                         "folded into the kernel")
    w = np.asarray(weight, dtype=np.int64) << e
    if w.size and np.abs(w).max() >= INT32_LIMIT:
        raise ValueError(f"kernel << weight_exp={e} does not fit Lava's int32 kernel")
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)).astype(np.int32)


def lava_conv_params(input_shape: tuple[int, int, int], stride: tuple[int, int], padding: tuple[int, int],
                     dilation: tuple[int, int], groups: int) -> dict[str, object]:
    """Keyword arguments of Lava's ``Conv`` (besides ``weight``) for snncc's ``(C, H, W)`` shape and ``(y, x)``
    pairs."""
    c, h, w = (int(v) for v in input_shape)
    xy = lambda pair: (int(pair[1]), int(pair[0]))  # noqa: E731
    return {"input_shape": (w, h, c), "stride": xy(stride), "padding": xy(padding), "dilation": xy(dilation),
            "groups": int(groups)}


def max_abs_sum(weight: np.ndarray, weight_exp: int, max_payload: int) -> int:
    """An upper bound of ``|sum|`` for one output of the convolution (every tap at its largest payload)."""
    w = np.abs(np.asarray(weight, dtype=np.int64)).reshape(len(weight), -1)
    return int(w.sum(axis=1).max(initial=0)) * int(max_payload) << max(int(weight_exp), 0)


def to_lava_layout(x: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A flat ``(C*H*W,)`` map -> Lava's ``(W, H, C)`` tensor (what the input port's reshape + transpose do)."""
    return np.asarray(x).reshape(shape).transpose(LAVA_AXES)


def from_lava_layout(y: np.ndarray) -> np.ndarray:
    """Lava's ``(W, H, C)`` tensor -> a flat ``(C*H*W,)`` map (what the output port's transpose + flatten do)."""
    return np.asarray(y).transpose(LAVA_AXES).reshape(-1)


def conv_sparse(weight: np.ndarray, geom: ConvGeometry) -> csr_matrix:
    """The (out_size, in_size) sparse matrix of a convolution, from its non-zero taps (padding taps dropped)."""
    c_in, h, w = geom.in_shape
    c_out, ho, wo = geom.out_shape
    cg_in, cg_out = c_in // geom.groups, c_out // geom.groups
    (ky, kx), (sy, sx), (py, px), (dy, dx) = geom.kernel, geom.stride, geom.padding, geom.dilation
    o, y, x, j, a, b = np.meshgrid(np.arange(c_out), np.arange(ho), np.arange(wo), np.arange(cg_in), np.arange(ky),
                                   np.arange(kx), indexing="ij", sparse=True)
    iy, ix = y * sy - py + a * dy, x * sx - px + b * dx
    shape = np.broadcast_shapes(o.shape, y.shape, x.shape, j.shape, a.shape, b.shape)
    values = np.broadcast_to(np.asarray(weight)[o, j, a, b], shape)
    keep = (values != 0) & (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    rows = np.broadcast_to((o * ho + y) * wo + x, shape)[keep]
    cols = np.broadcast_to((((o // cg_out) * cg_in + j) * h + iy) * w + ix, shape)[keep]
    return csr_matrix((values[keep].astype(np.int64), (rows, cols)), shape=(geom.out_size, geom.in_size))


def wrap_free(weight: np.ndarray, weight_exp: int, max_payload: int) -> bool:
    """Whether no output of a convolution can reach its 24-bit wrap: ``|sum| * max_payload``, shifted by the
    exponent, stays inside ``[-2**23, 2**23 - 1]``."""
    bound = max_abs_sum(weight, 0, max_payload)
    half = 1 << (ACC_BITS - 1)
    return bool(fx.shift_floor(bound, weight_exp) <= half - 1 and fx.shift_floor(-bound, weight_exp) >= -half)
