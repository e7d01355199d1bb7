"""Convolution arithmetic along one axis: which inputs a range of outputs reads, how many kernel taps it uses.

Closed-form worst-case bounds (:meth:`Axis.max_reads` ...) size tiles of large maps without building any (out, in)
matrix; the exact counts (:meth:`Axis.reads` ...) are cached, axes being few, small and immutable.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..conv import ConvGeometry


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a convolution: input length, kernel, stride, padding, dilation, output length."""

    n_in: int
    k: int
    s: int
    p: int
    d: int
    n_out: int

    def _taps(self, o0: int, o1: int) -> np.ndarray:
        """(outputs, taps) input position each tap of outputs ``o0..o1`` reads; -1 where it reads padding."""
        pos = np.arange(o0, o1)[:, None] * self.s - self.p + np.arange(self.k)[None, :] * self.d
        return np.where((pos >= 0) & (pos < self.n_in), pos, -1)

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - axes are few, small, immutable and reused
    def reads(self, o0: int, o1: int) -> np.ndarray:
        """Sorted input positions that outputs ``o0..o1`` read (the receptive field along this axis; read-only,
        shared by every caller)."""
        pos = self._taps(o0, o1)
        out = np.unique(pos[pos >= 0])
        out.flags.writeable = False
        return out

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - axes are few, small, immutable and reused
    def taps_used(self, o0: int, o1: int) -> int:
        """Kernel taps that read a real input for at least one of the outputs."""
        return int((self._taps(o0, o1) >= 0).any(axis=0).sum())

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - axes are few, small, immutable and reused
    def connections(self, o0: int, o1: int) -> int:
        """(output, tap) pairs that read a real input (padding reads are no synapse)."""
        return int((self._taps(o0, o1) >= 0).sum())

    def max_reads(self, t: int) -> int:
        """Upper bound of :meth:`reads` over all ranges of ``t`` outputs (exact for the whole axis)."""
        if t >= self.n_out:
            return len(self.reads(0, self.n_out))
        return min(self.n_in, t * self.k, (t - 1) * self.s + (self.k - 1) * self.d + 1)

    def max_taps(self, t: int) -> int:
        """Upper bound of :meth:`taps_used` over all ranges of ``t`` outputs."""
        return self.taps_used(0, self.n_out) if t >= self.n_out else self.k

    def max_connections(self, t: int) -> int:
        """Upper bound of :meth:`connections` over all ranges of ``t`` outputs."""
        return self.connections(0, self.n_out) if t >= self.n_out else t * min(self.k, self.n_in)


def axes(geom: ConvGeometry) -> tuple[Axis, Axis]:
    """The (y, x) axes of a convolution."""
    _, h_out, w_out = geom.out_shape
    return tuple(Axis(geom.in_shape[1 + i], geom.kernel[i], geom.stride[i], geom.padding[i], geom.dilation[i],
                      (h_out, w_out)[i]) for i in range(2))  # type: ignore[return-value]


def in_channels(geom: ConvGeometry, c0: int, c1: int) -> tuple[int, int]:
    """Input channels ``[start, stop)`` read by output channels ``c0..c1``: those of the groups they belong to."""
    cg_out, cg_in = geom.out_channels // geom.groups, geom.in_shape[0] // geom.groups
    return (c0 // cg_out) * cg_in, ((c1 - 1) // cg_out + 1) * cg_in


def max_in_channels(geom: ConvGeometry, cc: int) -> int:
    """Upper bound of the input channels any ``cc`` consecutive output channels read."""
    cg_out, cg_in = geom.out_channels // geom.groups, geom.in_shape[0] // geom.groups
    return min(geom.groups, -(-(cc - 1) // cg_out) + 1) * cg_in


