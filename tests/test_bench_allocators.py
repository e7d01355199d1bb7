"""The placement benchmark (benchmarks/bench_allocators.py): its network is nengo-loihi's allocator test (the same
draws: 40,015 neurons in 256 ensembles), and on it snncc's mapper meets the benchmark's goal: no more spikes
between chips than METIS with one block per core, within 1.25 x the cores lower bound."""

from __future__ import annotations

import numpy as np

from snncc.families.lif.nodes import QLIF
from snncc.ir import QDense, keys
from tests.benchmarks import load


def _bench():
    return load("bench_allocators")


def test_the_network_is_nengo_loihis_allocator_test():
    g = _bench().nengo_loihi_network()
    layers = [n for n in g.nodes.values() if isinstance(n, QLIF)]
    assert len(layers) == 256 and sum(n.size for n in layers) == 40_015  # nengo-loihi's 40,015 neurons
    connections = [n for name, n in g.nodes.items() if isinstance(n, QDense) and name.startswith("c")]
    assert 500 <= len(connections) <= 512  # 512 drawn pairs, the few repeated ones merged
    rates = np.concatenate([n.metadata[keys.SPIKE_RATES] for n in layers])
    assert rates.min() >= 0.9e-3 and rates.max() <= 0.1  # uniform(1, 100) Hz x uniform(0.9, 1), 1 ms steps


def test_snncc_meets_the_goal_against_metis():
    rows = {r.mapper: r for r in _bench().allocator_benchmark()}
    for r in rows.values():
        assert r.cores <= 1.25 * r.bound and r.chips == 3
    assert rows["snncc"].inter_chip <= rows["metis"].inter_chip < rows["serpentine"].inter_chip
    assert rows["snncc"].mean_hops < rows["serpentine"].mean_hops
