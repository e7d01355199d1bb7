"""Error-minimising weight rounding: choose each weight's mantissa so the layer's *input current* on calibration
data stays closest to the float one, not each weight closest on its own.

Rounding every weight to its nearest mantissa makes independent errors that add up in every neuron's input. The
sequential rounding of OPTQ/GPTQ (Frantar et al., 2023) quantizes one input column at a time and spreads its
rounding error onto the columns not yet quantized, weighted by the inverse of the input Gram matrix
``H = X^T X`` of the calibration inputs, which minimises ``|X (W - Q)|^2`` far better than nearest rounding. Inputs
that never carry a spike get the damping term only, so their weights are rounded to nearest. Works on dense
weights (rows: output neurons) and, through input patches, on convolutions (per group).
"""

from __future__ import annotations

import numpy as np
import torch

from ..conv import ConvGeometry

DAMPING = 0.01  # of the mean diagonal of H: keeps H invertible and the correction local
MAX_PATCH_ROWS = 200_000  # patches used for a convolution's H (sampled evenly)


def gram_dense(x: np.ndarray) -> np.ndarray:
    """``H = X^T X / N`` of calibration inputs ``x`` (N, n_in)."""
    x = np.asarray(x, np.float64)
    return x.T @ x / max(1, len(x))


def gram_conv(x: np.ndarray, geom: ConvGeometry) -> list[np.ndarray]:
    """Per group, ``H`` of the convolution's input patches (C_in/groups * kh * kw square)."""
    c, h, w = geom.in_shape
    xt = torch.from_numpy(np.asarray(x, np.float64).reshape(-1, c, h, w))
    kh, kw = geom.kernel
    cols = torch.nn.functional.unfold(xt, (kh, kw), dilation=geom.dilation, padding=geom.padding,
                                      stride=geom.stride)  # (N, C*kh*kw, L)
    cols = cols.transpose(1, 2).reshape(-1, c * kh * kw)
    if len(cols) > MAX_PATCH_ROWS:
        cols = cols[torch.linspace(0, len(cols) - 1, MAX_PATCH_ROWS).long()]
    per = c // geom.groups * kh * kw
    return [(g.T @ g / max(1, len(g))).numpy() for g in (cols[:, i * per:(i + 1) * per] for i in range(geom.groups))]


def round_to_grid(weight: np.ndarray, unit: float, lo: int, hi: int, gram: np.ndarray) -> np.ndarray:
    """Mantissas (int64, same shape as ``weight`` (n_out, n_in)) in ``[lo, hi]`` on the grid ``unit`` that minimise
    the input-current error ``sum_rows (w - m unit)^T H (w - m unit)`` by sequential rounding with error feedback."""
    w = np.asarray(weight, np.float64) / unit  # in mantissa units
    n = w.shape[1]
    h = np.array(gram, np.float64, copy=True)
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    h += np.eye(n) * DAMPING * float(np.mean(np.diag(h)))
    # upper Cholesky factor of H^-1: row j holds how column j's error moves the columns after it
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    q = np.zeros_like(w)
    for j in range(n):
        q[:, j] = np.clip(np.round(w[:, j]), lo, hi)
        err = (w[:, j] - q[:, j]) / u[j, j]
        w[:, j + 1:] -= np.outer(err, u[j, j + 1:])
    return q.astype(np.int64)


def round_conv_to_grid(weight: np.ndarray, unit: float, lo: int, hi: int, grams: list[np.ndarray],
                       groups: int) -> np.ndarray:
    """:func:`round_to_grid` for a convolution weight (C_out, C_in/groups, kh, kw), one ``H`` per group."""
    w = np.asarray(weight, np.float64)
    per_out = w.shape[0] // groups
    out = np.zeros(w.shape, np.int64)
    for i in range(groups):
        rows = w[i * per_out:(i + 1) * per_out].reshape(per_out, -1)
        out[i * per_out:(i + 1) * per_out] = round_to_grid(rows, unit, lo, hi, grams[i]).reshape(
            (per_out, *w.shape[1:]))
    return out
