"""The core graph a placer works on: one node per slot (shared core), edge weight = spikes per step between the two
cores, counted the way the energy report counts messages (a neuron's spike reaches each destination core once).

Spike rates: a neuron layer's ``snncc.spike_rates`` node metadata (mean spikes per step, one number or one per
neuron; the calibrate pass writes them from its float run on the calibration data) when present, else the
structural estimate: every neuron spikes once, so an edge weighs the neurons whose spikes cross it (one per
destination core). Rates measured before lower-primitives made each neuron a population of N members are shared
out over the members.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import GraphError
from ..ir import Graph, keys, layer_size
from .blocks import Mapping
from .layers import reads_by_core


def spike_rates(graph: Graph, layer: str) -> np.ndarray:
    """Per neuron of ``layer`` its mean spikes per step (measured), or ones (the structural estimate)."""
    n = layer_size(graph.nodes[layer])
    given = (graph.nodes[layer].metadata or {}).get(keys.SPIKE_RATES)
    if given is None:
        return np.ones(n)
    rates = np.broadcast_to(np.asarray(given, np.float64), (n,)) if np.ndim(given) == 0 else np.asarray(given,
                                                                                                        np.float64)
    pop = (graph.nodes[layer].metadata or {}).get(keys.POPULATION)
    if pop and rates.shape == (int(pop["neurons"]),):  # measured before lower-primitives made each neuron N members
        rates = np.repeat(rates / int(pop["members"]), int(pop["members"]))
    if rates.shape != (n,) or not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise GraphError(f"spike rates ({keys.SPIKE_RATES}) must be {n} finite non-negative numbers", layer=layer)
    return rates


def slot_order(mapping: Mapping) -> list[int]:
    """The mapping's slots in network order of their first block (node ``i`` of the core graph is slot
    ``slot_order(mapping)[i]``)."""
    return list(mapping.slot_members())


def core_traffic(graph: Graph, mapping: Mapping, directed: bool = False) -> sp.csr_matrix:
    """(n_slots x n_slots) matrix of spikes per step between two cores, traffic within a core left out: both
    directions summed (symmetric), or with ``directed`` from the row's core to the column's."""
    order = slot_order(mapping)
    node = {s: i for i, s in enumerate(order)}
    blocks = {name: m.blocks for name, m in mapping.layers.items()}
    rows, cols, vals = [], [], []
    for name, m in mapping.layers.items():
        rates = spike_rates(graph, name)
        owner = np.empty(rates.size, np.int64)
        for i, b in enumerate(m.blocks):
            owner[b.index()] = i
        every = np.bincount(owner, weights=rates, minlength=len(m.blocks))
        src = np.asarray([node[s] for s in m.slots], np.int64)
        for dst, (idx, _) in reads_by_core(graph, name, blocks, lambda c, i: node[mapping.layers[c].slots[i]]).items():
            sent = every if idx is None else np.bincount(owner[idx], weights=rates[idx], minlength=len(m.blocks))
            keep = (sent > 0) & (src != dst)
            rows.append(src[keep])
            cols.append(np.full(int(keep.sum()), dst, np.int64))
            vals.append(sent[keep])
    n = len(order)
    if not rows:
        return sp.csr_matrix((n, n))
    a = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    a.sum_duplicates()
    return a if directed else (a + a.T).tocsr()
