"""IR files round-trip; graphs of standard nodes stay plain NIR; structural checks name the offender."""

import nir
import numpy as np
import pytest

from snncc.errors import GraphError
from snncc.families.lif.nodes import QLIF, LIFNeuron
from snncc.ir import Graph, QDense, read_graph, write_graph
from tests.graphs import qgraph


def test_quantized_graph_round_trips(tmp_path):
    g = qgraph([5, 4, 3], np.random.default_rng(1), graded=True, max_value=7, resets=["zero", "subtract"])
    g.nodes["lif0"].metadata["snncc.blocks"] = [[0, 2], [2, 4]]
    g.metadata["timesteps"] = 9
    write_graph(tmp_path / "g.nir", g)
    h = read_graph(tmp_path / "g.nir")
    assert list(h.nodes) == list(g.nodes) and h.edges == g.edges
    assert h.metadata["timesteps"] == 9 and h.metadata["input"]["kind"] == "graded"
    assert isinstance(h.nodes["dense0"], QDense) and h.nodes["dense0"].graded
    np.testing.assert_array_equal(h.nodes["dense1"].weight, g.nodes["dense1"].weight)
    assert isinstance(h.nodes["lif1"], QLIF) and h.nodes["lif1"].reset == "subtract"
    assert h.nodes["lif0"].metadata["snncc.blocks"] == [[0, 2], [2, 4]]


def test_float_neuron_round_trips(tmp_path):
    g = Graph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "fc": nir.Linear(weight=np.eye(2)),
               "lif": LIFNeuron(decay_v=0.5, decay_i=0.25, threshold=[1.0, 2.0], bias=[0.1, -0.1], reset="subtract"),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], metadata={"dt": 1.0})
    write_graph(tmp_path / "f.nir", g)
    lif = read_graph(tmp_path / "f.nir").nodes["lif"]
    assert lif.reset == "subtract" and lif.decay_i.tolist() == [0.25, 0.25] and lif.bias.tolist() == [0.1, -0.1]


def test_standard_graph_is_plain_nir(tmp_path):
    g = Graph(
        nodes={"input": nir.Input(input_type={"input": np.array([3])}),
               "fc": nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
               "lif": nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], metadata={"dt": 1e-3})
    write_graph(tmp_path / "s.nir", g)
    plain = nir.read(tmp_path / "s.nir")
    assert set(plain.nodes) == {"input", "fc", "lif", "output"}
    assert isinstance(plain.nodes["lif"], nir.LIF)
    assert read_graph(tmp_path / "s.nir").metadata["dt"] == 1e-3


def test_validate_names_the_problem():
    g = qgraph([3, 2], np.random.default_rng(0))
    g.edges.append(("lif0", "missing"))
    with pytest.raises(GraphError, match="'missing'"):
        g.validate()
    g = qgraph([3, 2], np.random.default_rng(0))
    g.nodes["dense0"] = QDense(weight=np.zeros((2, 4), np.int64))
    with pytest.raises(GraphError, match="shape mismatch on edge \\(input -> dense0\\)"):
        g.validate()
    g = qgraph([3, 3], np.random.default_rng(0))
    g.edges.append(("lif0", "dense0"))
    with pytest.raises(GraphError, match="recurrent"):
        g.validate()


def test_latency_is_synapse_depth():
    g = qgraph([3, 4, 5, 2], np.random.default_rng(0))
    d = g.synapse_depth()
    assert (d["lif0"], d["lif1"], d["lif2"]) == (1, 2, 3)


def test_recurrent_synapses_close_cycles_without_latency():
    g = qgraph([3, 4, 2], np.random.default_rng(0))
    g.nodes = {"lat": QDense(weight=-np.ones((4, 4), np.int64), metadata={"snncc.recurrent": True}), **g.nodes}
    g.edges += [("lif0", "lat"), ("lat", "lif0")]
    g.validate()
    d = g.synapse_depth()
    assert (d["lif0"], d["lat"], d["lif1"]) == (1, 1, 2)
    g.nodes["lat"].metadata = {}
    with pytest.raises(GraphError, match="cycle"):
        g.validate()


def test_adjacency_follows_every_way_passes_change_the_edges():
    """predecessors/successors are served from an index: it must follow appends, in-place additions, a new edge
    list and copies, exactly as a scan of the edges would."""
    import copy

    from snncc.ir import Graph

    def scan(g, name):
        return [b for a, b in g.edges if a == name], [a for a, b in g.edges if b == name]

    nodes = {k: nir.Linear(weight=np.ones((1, 1))) for k in "abcd"}
    g = Graph(nodes=nodes, edges=[("a", "b")])
    checks = []
    for change in (lambda g: g.edges.append(("b", "c")), lambda g: g.edges.__iadd__([("a", "c"), ("c", "d")]),
                   lambda g: setattr(g, "edges", [e for e in g.edges if e != ("a", "c")]),
                   lambda g: g.edges.append(("a", "d"))):
        change(g)
        for h in (g, g.copy(), copy.deepcopy(g)):
            checks += [(h.successors(n), h.predecessors(n)) == scan(h, n) for n in nodes]
    assert all(checks) and g.successors("a") == ["b", "d"] and g.predecessors("d") == ["c", "a"]
