"""2-D convolution geometry and arithmetic, written once for the float simulator, the integer reference and the
quantizer.

Layout everywhere in snncc: a feature map is a flat vector in PyTorch's C-major ``(C, H, W)`` order; a kernel is
PyTorch's ``(C_out, C_in / groups, kH, kW)``; the operation is PyTorch's cross-correlation (``nn.Conv2d``), with
zero padding. On integers the sums are exact (int64); a backend that computes a true convolution or another layout
(Lava's ``Conv``) converts the kernel, not the semantics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes and hyper-parameters of one 2-D convolution (each pair is (y, x))."""

    in_shape: tuple[int, int, int]  # (C_in, H, W)
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        c_in = self.in_shape[0]
        if self.groups < 1 or c_in % self.groups or self.out_channels % self.groups:
            raise ValueError(f"groups={self.groups} must divide C_in={c_in} and C_out={self.out_channels}")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0 or min(self.kernel) < 1:
            raise ValueError(f"invalid convolution {self}")
        if min(self.out_shape[1:]) < 1:
            raise ValueError(f"the kernel does not fit the input: {self}")

    @property
    def out_shape(self) -> tuple[int, int, int]:
        hw = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in
              zip(self.in_shape[1:], self.padding, self.dilation, self.kernel, self.stride, strict=True)]
        return (self.out_channels, hw[0], hw[1])

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.out_channels, self.in_shape[0] // self.groups, *self.kernel)


def pair(value: int | tuple[int, ...] | np.ndarray) -> tuple[int, int]:
    """(y, x) from a scalar or a pair (NIR and torch accept both)."""
    v = np.atleast_1d(np.asarray(value)).astype(int).tolist()
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def nir_geometry(node: object) -> ConvGeometry:
    """The geometry of a ``nir.Conv2d`` (its ``input_shape`` is (H, W); the channels come from the kernel)."""
    w = np.asarray(node.weight)
    if node.input_shape is None:
        raise ValueError("nir.Conv2d without input_shape")
    if isinstance(node.padding, str):
        raise ValueError(f"string padding {node.padding!r}: give explicit padding")
    h, wd = (int(v) for v in np.asarray(node.input_shape).ravel()[-2:])
    groups = int(node.groups)
    return ConvGeometry((int(w.shape[1]) * groups, h, wd), int(w.shape[0]), (int(w.shape[2]), int(w.shape[3])),
                        pair(node.stride), pair(node.padding), pair(node.dilation), groups)


def conv2d(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """``x`` (batch, C_in*H*W) -> (batch, C_out*H_out*W_out): PyTorch's ``conv2d`` without bias.

    Integer inputs give exact int64 sums; float inputs are computed in float64.
    """
    x = np.asarray(x)
    dtype = np.int64 if np.issubdtype(x.dtype, np.integer) else np.float64
    w = np.asarray(weight).astype(dtype)
    if w.shape != geom.weight_shape:
        raise ValueError(f"kernel shape {w.shape} does not match {geom.weight_shape}")
    batch = x.shape[0]
    c_in, h, wd = geom.in_shape
    (py, px), (sy, sx), (dy, dx), (ky, kx) = geom.padding, geom.stride, geom.dilation, geom.kernel
    xs = x.astype(dtype).reshape(batch, c_in, h, wd)
    xs = np.pad(xs, ((0, 0), (0, 0), (py, py), (px, px)))
    c_out, ho, wo = geom.out_shape
    # patches[b, c, i, j, a, e] = xs[b, c, i*sy + a*dy, j*sx + e*dx]
    span_y, span_x = dy * (ky - 1) + 1, dx * (kx - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(xs, (span_y, span_x), axis=(2, 3))
    patches = windows[:, :, ::sy, ::sx, ::dy, ::dx][:, :, :ho, :wo]
    g = geom.groups
    cg_in, cg_out = c_in // g, c_out // g
    exact_in_float = dtype is np.int64 and _float_exact(xs, w)
    if exact_in_float:  # BLAS: int64 products have no BLAS kernel; float64 holds these sums exactly
        patches, w = patches.astype(np.float64), w.astype(np.float64)
    if g == 1:
        out = np.einsum("bcijye,ocye->boij", patches, w, optimize=True)
    else:  # all groups in one call (a loop over groups is slow for depthwise maps with thousands of channels)
        out = np.einsum("bgcijye,gocye->bgoij", patches.reshape(batch, g, cg_in, *patches.shape[2:]),
                        w.reshape(g, cg_out, *w.shape[1:]), optimize=True)
    if exact_in_float:
        out = np.rint(out).astype(np.int64)
    return out.reshape(batch, -1)


def _float_exact(x: np.ndarray, w: np.ndarray) -> bool:
    """True when every partial sum of integers ``x`` times kernel ``w`` has magnitude below 2**53, so float64 computes
    the convolution exactly."""
    if x.size == 0 or w.size == 0:
        return True
    per_output = np.abs(w).reshape(w.shape[0], -1).sum(axis=1, dtype=np.float64).max()
    return float(np.abs(x).max()) * per_output < 2.0 ** 53


def conv_matrix(weight: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """The dense (out_size, in_size) matrix of a convolution (for small layers and tests)."""
    eye = np.eye(geom.in_size, dtype=np.asarray(weight).dtype)
    return conv2d(eye, weight, geom).T


def fan_in_mask(geom: ConvGeometry) -> np.ndarray:
    """(out_size, in_size) bool: which inputs each output reads (the receptive fields; for mapping and tests)."""
    ones = np.ones(geom.weight_shape, np.int64)
    return conv_matrix(ones, geom) != 0


def fan_out(weight: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """(in_size,) int64: how many (output, non-zero weight) connections each input has (padding excluded).

    The transpose of the convolution applied to a map of ones, with the kernel's non-zero mask: one loop over the
    kernel's taps, so it scales to large feature maps (for operation counts and synapse totals).
    """
    mask = (np.asarray(weight) != 0).astype(np.int64)
    c_in, h, wd = geom.in_shape
    c_out, ho, wo = geom.out_shape
    (py, px), (sy, sx), (dy, dx), (ky, kx) = geom.padding, geom.stride, geom.dilation, geom.kernel
    g = geom.groups
    cg_in, cg_out = c_in // g, c_out // g
    # outputs per input channel reading tap (a, e): summed over the C_out of its group (all groups at once)
    per_in = mask.reshape(g, cg_out, cg_in, ky, kx).sum(axis=1).reshape(c_in, ky, kx)
    padded = np.zeros((c_in, h + 2 * py + sy * ho + dy * ky, wd + 2 * px + sx * wo + dx * kx), np.int64)
    for a in range(ky):
        for e in range(kx):
            ys, xs = a * dy, e * dx
            padded[:, ys:ys + sy * ho:sy, xs:xs + sx * wo:sx] += per_in[:, a, e][:, None, None]
    return padded[:, py:py + h, px:px + wd].reshape(-1)
