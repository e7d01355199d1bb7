"""Cutting a weighted core graph into parts of bounded size: Mt-KaHyPar's graph partitioner (its deterministic
preset, one thread, seeded) minimising the cut weight, the parts' capacity given as its allowed imbalance (equal
parts: that cut better than hard maxima, docs/placement.md) or as each part's maximum weight (unequal parts), then
a repair that moves the cheapest nodes out of any part still over its capacity (a chip's core count is a hard
limit). The same graph gives the same parts. docs/placement.md says why Mt-KaHyPar (measured against METIS and
KaHIP).
"""

from __future__ import annotations

import mtkahypar
import numpy as np
import scipy.sparse as sp

SEED = 0
INT_WEIGHT_MAX = 1_000_000  # the heaviest edge after scaling to the partitioner's integers
INT_TOTAL_MAX = 1 << 30  # the summed weights stay within 32-bit integers
_STATE: dict[str, mtkahypar.Initializer] = {}


def _initializer() -> mtkahypar.Initializer:
    """Mt-KaHyPar's thread pool, made once per process (one thread: a compile must not depend on the cores)."""
    if "init" not in _STATE:
        _STATE["init"] = mtkahypar.initialize(1)
    return _STATE["init"]


def integer_weights(w: np.ndarray) -> np.ndarray:
    """Positive integer edge weights proportional to ``w`` (the partitioner takes integers only)."""
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
    if w.nnz == 0 or n <= k:  # nothing to cut (or one node a part): fill the parts in order
        return np.repeat(np.arange(k), caps)[:n].astype(np.int64)
    init = _initializer()
    mtkahypar.set_seed(seed)
    ctx = init.context_from_preset(mtkahypar.PresetType.DETERMINISTIC)
    ctx.logging = False
    ctx.set_partitioning_parameters(k, max(0.001, sum(caps) / n - 1), mtkahypar.Objective.CUT)
    if len(set(caps)) > 1:  # parts of different sizes (a bisection of a mesh region): each part's maximum
        ctx.set_individual_target_block_weights([int(c) for c in caps])
    upper = sp.triu(w, 1).tocoo()
    graph = init.create_graph(ctx, n, upper.nnz, np.stack([upper.row, upper.col], axis=1).tolist(), [1] * n,
                              integer_weights(upper.data).tolist())
    parts = np.asarray(graph.partition(ctx).get_partition(), np.int64)
    return repair(w, parts, caps)


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
