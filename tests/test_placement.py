"""Placement: every placer gives each slot one distinct core of the target's chips and mesh; the traffic placer
cuts the traffic between chips below the serpentine's; the core graph weighs what the energy report counts;
multi-chip targets pay static power for the chips used; placements are reproducible; too big a model is refused.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import scipy.sparse as sp

from snncc.backends.reference import ReferenceSimulator
from snncc.errors import GraphError, ResourceError
from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, QDense, keys
from snncc.mapping import PLACERS, Mapping
from snncc.mapping.coregraph import core_traffic, slot_order, spike_rates
from snncc.mapping.graphcut import cut
from snncc.mapping.traffic import chip_cells, order_chips
from snncc.passes import Partition, PassContext, PassManager, Place
from snncc.reports import energy_report
from snncc.reports.energy import traffic
from snncc.target import Target, load_target, target_variant

META = {keys.QUANTIZED: True, keys.DT: 1.0, keys.INPUT: {"kind": "spikes", "scale": 1.0, "max_value": 1}}


def lif(n: int, rates: np.ndarray | None = None) -> QLIF:
    meta = {} if rates is None else {keys.SPIKE_RATES: rates.tolist()}
    return QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n), metadata=meta)


def random_ensembles(seed: int, layers: int = 24, connections: int = 48, rates: bool = True) -> Graph:
    """Random layers of 20-60 neurons fed by the input, random connections between them (a connection back to the
    same or an earlier layer is recurrent), per-layer firing rates as in nengo-loihi's allocator test."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(20, 60, layers)
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([2])})}
    edges = []
    for e, n in enumerate(sizes):
        nodes[f"in{e}"] = QDense(weight=np.ones((n, 2), np.int64))
        nodes[f"l{e}"] = lif(n, rng.uniform(0.01, 0.1) * rng.uniform(0.9, 1, n) if rates else None)
        edges += [("input", f"in{e}"), (f"in{e}", f"l{e}")]
    for i, j in {(int(a), int(b)) for a, b in rng.integers(0, layers, (connections, 2))}:
        nodes[f"c{i}_{j}"] = QDense(weight=rng.integers(-8, 9, (sizes[j], sizes[i])),
                                    metadata={keys.RECURRENT: True} if i >= j else {})
        edges += [(f"l{i}", f"c{i}_{j}"), (f"c{i}_{j}", f"l{j}")]
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((f"l{layers - 1}", "output"))
    return Graph(nodes=nodes, edges=edges, metadata=dict(META))


@pytest.fixture(scope="module")
def small_chips(tmp_path_factory) -> Target:
    """loihi2 cut down: chips of 8 cores on a 3 x 3 mesh (one cell spare), 100 neurons a core, 4 chips."""
    path = target_variant("loihi2", {"system.chips": 4, "system.cores_per_chip": 8, "system.mesh_shape": [3, 3],
                                     "core_limits.neurons": 100}, "small chips for the placement tests",
                          tmp_path_factory.mktemp("target"))
    return load_target(path)


def placed(g: Graph, target: Target, algorithm: str, share: bool = True) -> Graph:
    return PassManager([Partition(share_cores=share), Place(algorithm=algorithm)]).run(g, PassContext(target=target))


def check_placement(g: Graph, target: Target) -> Mapping:
    """One distinct core per slot, inside the target's chips and on the core's own mesh cell."""
    mapping = Mapping.of(g)
    per_chip, chips = int(target.value("system", "cores_per_chip")), int(target.value("system", "chips"))
    cells = chip_cells(target)
    core_of: dict[int, tuple[int, int]] = {}
    for m in mapping.layers.values():
        for c, slot in zip(m.cores, m.slots, strict=True):
            assert 0 <= c.chip < chips and 0 <= c.core < per_chip
            assert (c.row, c.col) == tuple(cells[c.core])
            assert core_of.setdefault(slot, (c.chip, c.core)) == (c.chip, c.core)  # a slot's blocks: one core
    assert len(set(core_of.values())) == len(core_of) == mapping.cores_used
    return mapping


def inter_chip(g: Graph) -> int:
    rates = {n: spike_rates(g, n) * 1000 for n in Mapping.of(g).layers}
    return sum(t["messages_between_chips"] for t in traffic(g, rates).values())


@pytest.mark.parametrize("algorithm", sorted(PLACERS))
@pytest.mark.parametrize("share", [True, False])
def test_every_placer_gives_each_slot_one_distinct_core(algorithm: str, share: bool, small_chips: Target) -> None:
    g = placed(random_ensembles(0), small_chips, algorithm, share)
    mapping = check_placement(g, small_chips)
    assert len({c.chip for m in mapping.layers.values() for c in m.cores}) == -(-mapping.cores_used // 8)


@pytest.mark.parametrize("algorithm", sorted(PLACERS))
def test_single_chip(algorithm: str) -> None:
    target = load_target("loihi2")
    g = placed(random_ensembles(1, layers=6, connections=8), target, algorithm)
    mapping = check_placement(g, target)
    assert {c.chip for m in mapping.layers.values() for c in m.cores} == {0}


def test_traffic_placer_crosses_chips_less_than_serpentine(small_chips: Target) -> None:
    pairs = [tuple(inter_chip(placed(random_ensembles(seed), small_chips, a)) for a in ("traffic", "serpentine"))
             for seed in range(4)]
    assert all(t <= s for t, s in pairs), pairs
    assert sum(t for t, _ in pairs) < sum(s for _, s in pairs), pairs


def test_placements_are_reproducible(small_chips: Target) -> None:
    for algorithm in PLACERS:
        first, again = (Mapping.of(placed(random_ensembles(2), small_chips, algorithm)).to_data() for _ in range(2))
        assert first == again, algorithm


def test_core_graph_weighs_the_messages_the_energy_report_counts(small_chips: Target) -> None:
    """The core graph's weights are the messages between cores that the report's traffic counts: with measured
    rates (integer counts here, as the report counts), and without (each neuron's spike once per destination
    core); the symmetric graph sums both directions."""
    for rated in (True, False):
        g = random_ensembles(3, rates=rated)
        if rated:
            for name in [n for n, node in g.nodes.items() if isinstance(node, QLIF)]:
                g.nodes[name].metadata[keys.SPIKE_RATES] = np.rint(spike_rates(g, name) * 1000).tolist()
        g = placed(g, small_chips, "traffic")
        mapping = Mapping.of(g)
        counts = {n: spike_rates(g, n).astype(np.int64) for n in mapping.layers}
        between = sum(t["messages"] - t["messages_within_core"] for t in traffic(g, counts, mapping).values())
        directed = core_traffic(g, mapping, directed=True)
        assert directed.sum() == between > 0
        assert (core_traffic(g, mapping) - directed - directed.T).count_nonzero() == 0
        assert directed.shape == (len(slot_order(mapping)),) * 2 == (mapping.cores_used,) * 2


def test_bad_spike_rates_are_a_graph_error() -> None:
    g = random_ensembles(0, layers=2, connections=1)
    g.nodes["l0"].metadata[keys.SPIKE_RATES] = [1.0, -1.0]
    with pytest.raises(GraphError, match="spike rates"):
        spike_rates(g, "l0")


def test_cut_keeps_every_part_within_its_capacity() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((40, 40)) * (rng.random((40, 40)) < 0.2)
    w = np.triu(a, 1) + np.triu(a, 1).T
    for caps in ([16, 16, 8], [14, 14, 12], [39, 1]):
        parts = cut(sp.csr_matrix(w), caps)
        assert np.all(np.bincount(parts, minlength=len(caps)) <= np.array(caps)), caps
    assert np.array_equal(cut(sp.csr_matrix(w), [16, 16, 8]), cut(sp.csr_matrix(w), [16, 16, 8]))


def test_multi_chip_target_pays_static_power_for_the_chips_used() -> None:
    target = load_target("loihi2-kapoho-point")
    assert target.total_cores == 8 * 128
    g = PassManager([Partition(), Place()]).run(random_ensembles(4, layers=6, connections=8),
                                                PassContext(target=target))
    x = (np.random.default_rng(0).random((1, 4, 2)) < 0.5).astype(np.int64)
    r = ReferenceSimulator(g).run(x)
    e = energy_report(g, r.counts, target, samples=1, timesteps=4, latency=r.latency)
    tm = e["target_model"]
    assert tm["chips"] == 1 and tm["chips_available"] == 8
    power = target.value("energy", "static_power_per_chip")
    assert tm["static_j"] == pytest.approx(power * 1 * tm["latency_s"])


def test_more_cores_than_the_target_has_is_a_resource_error(small_chips: Target) -> None:
    with pytest.raises(ResourceError, match=r"the model needs \d+ cores but the target has 32"):
        placed(random_ensembles(5, layers=80, connections=10), small_chips, "traffic", share=False)


def test_calibration_data_give_the_measured_rates_the_placement_weighs() -> None:
    """With calibration data, every integer neuron layer carries the float run's spikes per step and neuron."""
    import snncc
    from tests.models import mlp

    x = np.random.default_rng(1).integers(0, 9, (4, 10, 16))
    bundle = snncc.compile(mlp(sizes=(16, 40, 6)), "loihi2", options=snncc.Options(
        inputs=x, timesteps=10, passes={"calibrate.data": x}))
    run = bundle.run(x, "float")
    layers = list(Mapping.of(bundle.graph).layers)
    assert layers
    for name in layers:
        measured = run.counts[name].spikes_per_neuron / (4 * 10)
        assert np.allclose(spike_rates(bundle.graph, name), measured, atol=1e-6), name
    assert any(np.ptp(spike_rates(bundle.graph, n)) > 0 for n in layers)  # measured, not the structural ones


@pytest.mark.parametrize("k", [3, 8, 12])
def test_chip_order_is_a_permutation_no_worse_than_the_given_one(k: int) -> None:
    rng = np.random.default_rng(k)
    chip = rng.integers(0, k, 60)
    a = rng.random((60, 60)) * (rng.random((60, 60)) < 0.1)
    w = sp.csr_matrix(np.triu(a, 1) + np.triu(a, 1).T)
    onehot = np.eye(k)[chip]
    c = onehot.T @ w.toarray() @ onehot
    np.fill_diagonal(c, 0)

    def cost(pos: np.ndarray) -> float:
        return float((c * np.abs(pos[:, None] - pos[None, :])).sum())

    pos = order_chips(w, chip, k)
    assert sorted(pos.tolist()) == list(range(k)) and cost(pos) <= cost(np.arange(k))
    assert np.array_equal(pos, order_chips(w, chip, k))


def test_chips_larger_than_the_swap_limit_keep_the_bisection(tmp_path) -> None:
    target = load_target(target_variant("loihi2", {"system.cores_per_chip": 300, "system.mesh_shape": [10, 30],
                                                   "core_limits.neurons": 30}, "a big chip", tmp_path))
    g = placed(random_ensembles(6, layers=30, connections=40), target, "traffic", share=False)
    assert Mapping.of(g).cores_used > 30
    check_placement(g, target)


def test_the_place_pass_refuses_a_core_outside_the_target(small_chips: Target) -> None:
    g = placed(random_ensembles(0, layers=4, connections=4), small_chips, "traffic")
    mapping = Mapping.of(g)
    first = next(iter(mapping.layers.values()))
    c = first.cores[0]
    first.cores[0] = type(c)(4, c.core, c.row, c.col)  # chip 4 of a 4-chip target
    mapping.store(g)
    with pytest.raises(GraphError, match=r"core 4:\d+ at mesh .* lies outside the target's 4 chip\(s\) of 8 cores "
                                         r"on a 3x3 mesh"):
        Place().ensures(g, PassContext(target=small_chips))
