"""Cutting a weighted core graph into parts of bounded size: METIS (pymetis) k-way partitioning minimising the
cut weight, then a repair that moves the cheapest nodes out of any part METIS left over its capacity (METIS's
balance is a tolerance, a chip's core count is a hard limit). Seeded: the same graph gives the same parts.
docs/placement.md says why METIS (measured against KaHIP and Mt-KaHyPar).
"""

from __future__ import annotations

import numpy as np
import pymetis
import scipy.sparse as sp

SEED = 0
INT_WEIGHT_MAX = 1_000_000  # the heaviest edge after scaling to METIS's integer weights
INT_TOTAL_MAX = 1 << 30  # the summed weights stay within METIS's 32-bit integers


def integer_weights(w: np.ndarray) -> np.ndarray:
    """Positive integer edge weights proportional to ``w`` (METIS takes integers only)."""
    if w.size == 0:
        return np.zeros(0, np.int64)
    scale = min(INT_WEIGHT_MAX / float(w.max()), INT_TOTAL_MAX / float(w.sum())) if w.max() > 0 else 1.0
    return np.maximum(1, np.rint(w * scale)).astype(np.int64)


def cut(w: sp.csr_matrix, caps: list[int], seed: int = SEED) -> np.ndarray:
    """Part (index into ``caps``) of every node of the symmetric graph ``w``, part ``p`` holding at most
    ``caps[p]`` nodes (``sum(caps) >= nodes``), the weight of edges between parts kept small."""
    n, k = w.shape[0], len(caps)
    if sum(caps) < n:
        raise ValueError(f"{n} nodes do not fit parts of {caps}")
    if k == 1 or n == 0:
        return np.zeros(n, np.int64)
    w = sp.csr_matrix(w)
    w.setdiag(0)
    w.eliminate_zeros()
    total = float(sum(caps))
    if w.nnz == 0 or n <= k:  # nothing to cut (or one node a part): fill the parts in order
        return np.repeat(np.arange(k), caps)[:n].astype(np.int64)
    opts = pymetis.Options(seed=seed, ufactor=_ufactor(caps, n))
    _, parts = pymetis.part_graph(k, xadj=w.indptr.astype(np.int64), adjncy=w.indices.astype(np.int64),
                                  eweights=integer_weights(w.data), tpwgts=[c / total for c in caps], options=opts)
    return repair(w, np.asarray(parts, np.int64), caps)


def _ufactor(caps: list[int], n: int) -> int:
    """METIS's allowed imbalance, in 1/1000 of each part's target share, that still keeps every part within its
    capacity (part p's target is ``n * caps[p] / sum(caps)``, so the room is ``sum(caps) / n - 1``)."""
    return int(max(1, min(1000, np.floor(1000 * (sum(caps) / n - 1)))))


def repair(w: sp.csr_matrix, parts: np.ndarray, caps: list[int]) -> np.ndarray:
    """Move nodes out of parts above their capacity, each time the node and destination (a part with room) that
    cost the least cut weight."""
    k = len(caps)
    cap = np.asarray(caps, np.int64)
    parts = parts.copy()
    sizes = np.bincount(parts, minlength=k)
    while np.any(sizes > cap):
        p = int(np.argmax(sizes - cap))
        members = np.flatnonzero(parts == p)
        onehot = sp.csr_matrix((np.ones(parts.size), (np.arange(parts.size), parts)), shape=(parts.size, k))
        link = np.asarray((w[members] @ onehot).todense())  # each member's traffic to each part
        gain = link - link[:, [p]]
        gain[:, sizes >= cap] = -np.inf
        m, q = np.unravel_index(int(np.argmax(gain)), gain.shape)
        parts[members[m]] = q
        sizes[p] -= 1
        sizes[q] += 1
    return parts
