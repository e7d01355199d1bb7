"""Each pass: the IR before and after, its errors, and quantization exactness on the integer grid."""

import copy

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.backends.reference import FloatSimulator, ReferenceSimulator
from snncc.errors import GraphError, QuantizationError, ResourceError
from snncc.families.lif.nodes import QLIF, LIFNeuron
from snncc.ir import Graph, QDense, keys
from snncc.mapping import Mapping
from snncc.passes import (
    BalanceLatency,
    Canonicalize,
    DumpIR,
    Partition,
    PassContext,
    PassManager,
    Place,
    Quantize,
    Timings,
    default_pipeline,
)
from snncc.target import load_target, parse_target
from tests.models import mlp

TARGET = load_target("loihi2")


def ctx(target=TARGET):
    return PassContext(target=target)


def float_graph(w1, w2, thr=(1.0, 1.0), beta=(1.0, 1.0), bias=None, resets=("zero", "zero"), graded=False,
                max_value=1):
    n0, n1, n2 = w1.shape[1], w1.shape[0], w2.shape[0]
    return Graph(
        nodes={"input": nir.Input(input_type={"input": np.array([n0])}),
               "fc1": nir.Linear(weight=w1),
               "lif1": LIFNeuron(decay_v=beta[0], decay_i=0.0, threshold=np.full(n1, thr[0]),
                                 bias=np.zeros(n1) if bias is None else bias, reset=resets[0]),
               "fc2": nir.Linear(weight=w2),
               "lif2": LIFNeuron(decay_v=beta[1], decay_i=0.0, threshold=np.full(n2, thr[1]), bias=np.zeros(n2),
                                 reset=resets[1]),
               "output": nir.Output(output_type={"output": np.array([n2])})},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        metadata={"dt": 1.0, "input": {"kind": "graded" if graded else "spikes", "scale": 1.0,
                                       "max_value": max_value}})


def test_canonicalize_before_after():
    from snncc.frontend import trace_module

    before = trace_module(mlp(sizes=(4, 3, 2)))
    after = PassManager([Canonicalize()]).run(before, ctx())
    assert isinstance(before.nodes["linear_1"], nir.Affine)
    assert isinstance(after.nodes["linear_1"], nir.Linear)  # bias moved out of the synapse ...
    b = before.nodes["linear_1"].bias
    np.testing.assert_allclose(after.nodes["lif_2"].bias, b)  # ... into the neuron
    # the graded input scale (1/8) is folded into the first synapse only
    np.testing.assert_allclose(after.nodes["linear_1"].weight, before.nodes["linear_1"].weight / 8)
    np.testing.assert_allclose(after.nodes["linear_3"].weight, before.nodes["linear_3"].weight)
    assert after.metadata["canonical"] and "canonical" not in before.metadata  # input untouched


def test_canonicalize_merges_chains_and_removes_flatten():
    g = Graph(nodes={"input": nir.Input(input_type={"input": np.array([2, 2])}),
                     "flat": nir.Flatten(input_type={"input": np.array([2, 2])}, start_dim=0),
                     "a": nir.Affine(weight=np.eye(4) * 2, bias=np.ones(4)),
                     "b": nir.Linear(weight=np.ones((3, 4))),
                     "lif": LIFNeuron(decay_v=1.0, decay_i=0.0, threshold=np.ones(3), bias=np.zeros(3)),
                     "output": nir.Output(output_type={"output": np.array([3])})},
              edges=[("input", "flat"), ("flat", "a"), ("a", "b"), ("b", "lif"), ("lif", "output")],
              metadata={"dt": 1.0})
    out = PassManager([Canonicalize()]).run(g, ctx())
    assert set(out.nodes) == {"input", "b", "lif", "output"}
    np.testing.assert_allclose(out.nodes["b"].weight, np.full((3, 4), 2.0))
    np.testing.assert_allclose(out.nodes["lif"].bias, np.full(3, 4.0))
    assert out.nodes["input"].input_type["input"].tolist() == [4]


def test_canonicalize_puts_a_bias_into_a_decaying_current_and_quantize_keeps_it():
    """Before: an Affine with bias into a LIF whose current decays. After canonicalize: a bias-free synapse and
    the bias in the layer's current_bias (not its voltage bias); after quantize: the QLIF adds round(scale * b)
    to its input every step, and the float and integer runs agree spike for spike."""
    g = float_graph(np.full((2, 2), 0.5), np.ones((2, 2)))
    g.nodes["fc1"] = nir.Affine(weight=np.full((2, 2), 0.5), bias=np.array([0.25, -0.125]))
    g.nodes["lif1"].decay_i[:] = 0.5
    c = PassManager([Canonicalize()]).run(g, ctx())
    assert isinstance(c.nodes["fc1"], nir.Linear)
    np.testing.assert_array_equal(c.nodes["lif1"].current_bias, [0.25, -0.125])
    np.testing.assert_array_equal(c.nodes["lif1"].bias, [0.0, 0.0])
    q = PassManager([Quantize()]).run(c, ctx())
    lif = q.nodes["lif1"]
    assert isinstance(lif, QLIF) and not lif.stock
    scale = q.nodes["lif1"].metadata[keys.SCALE]
    np.testing.assert_array_equal(lif.current_bias, np.round(np.array([0.25, -0.125]) * scale))
    x = (np.random.default_rng(0).random((3, 12, 2)) < 0.5).astype(np.int64)
    f, r = FloatSimulator(c).run(x), ReferenceSimulator(q).run(x)
    assert f.layers["lif1"].spikes.any()
    np.testing.assert_array_equal(f.layers["lif1"].spikes, r.layers["lif1"].spikes)


def test_quantize_before_after():
    w1 = np.array([[0.5, -0.25], [1.0, 0.0]])
    g = float_graph(w1, np.array([[2.0, -1.0]]), thr=(1.5, 3.0), beta=(0.75, 1.0), bias=np.array([0.125, 0.0]),
                    resets=("zero", "subtract"))
    q = PassManager([Quantize()]).run(g, ctx())
    d1, l1 = q.nodes["fc1"], q.nodes["lif1"]
    assert isinstance(d1, QDense) and isinstance(l1, QLIF)
    # mantissa scale 127 / max|W| = 127; exponent raised while vth < 256: 1.5 * 127 = 190.5 -> e = 1
    assert d1.weight_exp == 1 and d1.weight.tolist() == [[64, -32], [127, 0]]
    scale = 127 * 2
    assert l1.vth == round(1.5 * scale) and l1.dv == 1024 and l1.du == 4095 and l1.reset == "zero"
    # bias 0.125 in weight units: round(0.125 * 254) = 32 -> mantissa 32 << 6
    assert (l1.bias_mant[0] << l1.bias_exp[0]) == 32 * 64
    assert q.nodes["lif2"].reset == "subtract" and q.nodes["lif2"].dv == 0
    assert isinstance(g.nodes["fc1"], nir.Linear)  # input graph untouched


def test_quantize_range_errors():
    g = float_graph(np.full((2, 2), 1e-6), np.ones((2, 2)), thr=(1e4, 1.0))
    with pytest.raises(QuantizationError, match="layer 'lif1'.*17-bit limit 131071"):
        PassManager([Quantize()]).run(g, ctx())
    g = float_graph(np.ones((2, 2)), np.ones((2, 2)), bias=np.array([1e6, 0.0]))
    with pytest.raises(QuantizationError, match="layer 'lif1'.*13-bit mantissa"):
        PassManager([Quantize()]).run(g, ctx())
    g = float_graph(np.ones((2, 2)), np.ones((2, 2)))
    g.nodes["lif1"].threshold = np.array([1.0, 2.0])
    with pytest.raises(QuantizationError, match="2 different threshold values"):
        PassManager([Quantize()]).run(g, ctx())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), m=st.integers(1, 8), k=st.integers(1, 6),
       resets=st.sampled_from([("zero", "zero"), ("subtract", "subtract"), ("zero", "subtract")]),
       graded=st.booleans(), unit=st.sampled_from([1.0, 0.375, 5.0]))
def test_quantize_is_exact_on_the_integer_grid(seed, n, m, k, resets, graded, unit):
    """IF layers whose weights, thresholds and biases lie on the quantization grid: integer == float, spike for
    spike (the only differences quantization may cause come from rounding, so none here). The grid unit is dyadic
    so that the float simulator's own arithmetic is exact too (with 0.37 it rounds at exact threshold ties)."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-127, 128, (m, n)).astype(float)
    w1[0, 0] = 127  # fixes max|W| = 127 units, so the mantissa scale is exactly 1/unit
    w2 = rng.integers(-127, 128, (k, m)).astype(float)
    w2[0, 0] = -127
    bias = rng.integers(-50, 50, m).astype(float)
    g = float_graph(w1 * unit, w2 * unit, thr=(200 * unit, 150 * unit), bias=bias * unit, resets=resets,
                    graded=graded, max_value=3)
    x = rng.integers(0, 4 if graded else 2, (3, 10, n))
    f = FloatSimulator(g).run(x)
    q = ReferenceSimulator(PassManager(default_pipeline().passes[1:]).run(g, ctx())).run(x)
    for name in ("lif1", "lif2"):
        np.testing.assert_array_equal(f.layers[name].spikes, q.layers[name].spikes)


def test_partition_splits_by_the_binding_limit():
    g = float_graph(np.ones((3000, 600)) * 0.01, np.ones((4, 3000)))
    out = PassManager([Quantize(), Partition()]).run(g, ctx())
    mapping = Mapping.of(out)
    blocks = mapping.layers["lif1"].blocks
    # 600 inputs x 20 bits per neuron, 600 x 3 bytes of axon table: 62 neurons per 96,000-byte core
    assert len(blocks) == 49 and blocks[0].ranges == ((0, 62),) and blocks[-1].ranges[-1][1] == 3000
    assert [b.ranges for b in mapping.layers["lif2"].blocks] == [((0, 4),)]


def test_partition_errors_name_layer_and_limit():
    with pytest.raises(ResourceError, match="layer 'lif1'.*fan-in 16001 exceeds the 16000 input axons"):
        PassManager([Quantize(), Partition()]).run(float_graph(np.ones((2, 16001)), np.ones((2, 2))), ctx())
    small = copy.deepcopy(TARGET.to_dict())
    data = {"schema_version": 1, "name": "tiny", **{s: {k: {kk: vv for kk, vv in f.items()} for k, f in sec.items()}
                                                     for s, sec in small["figures"].items()},
            "primitives": {k: {"kind": p["kind"], "lava": p["lava"]} for k, p in small["primitives"].items()}}
    data["system"]["cores_per_chip"]["value"] = 2
    data["system"]["mesh_shape"]["value"] = [1, 2]
    data["core_limits"]["neurons"]["value"] = 10
    tiny = parse_target(data, "tiny.yaml")
    with pytest.raises(ResourceError, match="needs 4 cores but the target has 2.*layer 'lif1' alone takes 3"):
        PassManager([Quantize(), Partition()]).run(float_graph(np.ones((25, 2)), np.ones((5, 25))), ctx(tiny))


def test_partition_checks_every_block_against_every_core_limit(monkeypatch):
    """A partitioner that puts a whole layer on one core is caught by the pass's own check, naming the limit."""
    from snncc.mapping import PARTITIONERS, Block

    greedy = PARTITIONERS["greedy"]

    class OneBlockPerLayer(greedy):
        def partition(self, graph, target):
            blocks, notes = greedy().partition(graph, target)
            return {name: [Block.span(0, sum(b.size for b in bs))] for name, bs in blocks.items()}, notes

    g = float_graph(np.ones((3000, 600)) * 0.01, np.ones((4, 3000)))
    PassManager([Quantize(), Partition()]).run(g, ctx())  # the greedy blocks pass the check
    monkeypatch.setitem(PARTITIONERS, "greedy", OneBlockPerLayer)
    # 3000 x 600 synapses x 20 bits + 600 x 3 bytes of axon table = 4501800 bytes
    with pytest.raises(ResourceError, match="in pass 'partition': layer 'lif1': the core holding lif1 block 0 "
                                            r"\(partitioner 'greedy'\) uses 4501800 memory, more than a core's "
                                            r"96000 \(core_limits.memory"):
        PassManager([Quantize(), Partition()]).run(g, ctx())


def test_place_assigns_unique_neighbouring_cores():
    g = float_graph(np.ones((3000, 600)) * 0.01, np.ones((4, 3000)))
    out = PassManager([Quantize(), Partition(), Place(algorithm="serpentine")]).run(g, ctx())
    mapping = Mapping.of(out)
    places = mapping.layers["lif1"].cores + mapping.layers["lif2"].cores
    assert len({(p.chip, p.core) for p in places}) == 50  # lif2's 4 x 3000 synapses fill no lif1 core's room
    assert [(p.row, p.col) for p in places[:17]] == [(0, c) for c in range(16)] + [(1, 15)]  # serpentine, 8 x 16
    assert (places[49].row, places[49].col) == (3, 14)
    assert mapping.cores_used == 50


def test_pass_manager_checks_and_dumps(tmp_path):
    g = float_graph(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(GraphError, match="in pass 'partition'.*quantized"):
        PassManager([Partition()]).run(g, ctx())
    timings = Timings()
    PassManager(default_pipeline(), [DumpIR(tmp_path), timings]).run(g, ctx())
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[:2] == ["00-input.nir", "00-input.txt"] and "08-place.txt" in names
    assert "snncc.QLIF" in (tmp_path / "04-quantize.txt").read_text()
    assert set(timings.seconds) == {"canonicalize", "balance-latency", "lower-neurons", "quantize", "split-fan-in",
                                    "lower-primitives", "partition", "place"}


def test_unequal_path_depths_are_balanced_with_a_relay_and_rejected_without():
    g = float_graph(np.ones((2, 2)), np.ones((2, 2)))
    g.nodes["skip"] = nir.Linear(weight=np.ones((2, 2)))
    g.edges += [("input", "skip"), ("skip", "lif2")]
    with pytest.raises(Exception, match="layer 'lif2'.*different synaptic depth \\(\\[1, 2\\]\\)"):
        PassManager([Canonicalize(), Quantize()]).run(g, ctx())  # quantize needs balanced paths
    out = PassManager(default_pipeline()).run(g, ctx())
    depth = out.synapse_depth()
    assert "input__relay0" in out.nodes and len({depth[p] for p in out.predecessors("lif2")}) == 1


def test_a_source_read_by_two_shorter_paths_gets_one_relay_chain():
    """input -> fc1 -> lif1 -> fc2 -> lif2 -> fc3 -> lif3, plus skips input -> lif2 (1 stage) and input -> lif3
    (2 stages): the two skips share stage 0 of the input's chain."""
    g = float_graph(np.ones((2, 2)), np.ones((2, 2)))
    g.nodes["fc3"] = nir.Linear(weight=np.eye(2))
    g.nodes["lif3"] = copy.deepcopy(g.nodes["lif2"])
    g.edges = [e for e in g.edges if e[1] != "output"] + [("lif2", "fc3"), ("fc3", "lif3"), ("lif3", "output")]
    for skip, dst in (("skip2", "lif2"), ("skip3", "lif3")):
        g.nodes[skip] = nir.Linear(weight=np.ones((2, 2)))
        g.edges += [("input", skip), (skip, dst)]
    c = ctx()
    out = PassManager([Canonicalize(), BalanceLatency()]).run(g, c)
    relays = sorted(n for n in out.nodes if "__relay" in n)
    assert relays == ["input__relay0", "input__relay1"]
    assert out.predecessors("skip2") == ["input__relay0"] and out.predecessors("skip3") == ["input__relay1"]
    notes = c.notes["balance-latency"]
    assert notes["skip2"]["relay_neurons"] + notes["skip3"]["relay_neurons"] == 2 * 2  # two stages of 2, built once
    depth = out.synapse_depth()
    assert all(len({depth[p] for p in out.predecessors(n)}) == 1 for n in ("lif2", "lif3"))


def test_quantize_keeps_lava_int32_headroom():
    # fan-in 4096 x 127 x payload 255: the exponent must drop until the worst-case sum stays below 2**25
    g = float_graph(np.ones((2, 4096)), np.ones((2, 2)), thr=(1e3, 1.0), graded=True, max_value=255)
    q = PassManager([Quantize()]).run(g, ctx())
    assert 4096 * 127 * 255 * 2.0 ** q.nodes["fc1"].weight_exp < 2**25


def test_quantize_rejects_decays_outside_the_unit_interval():
    g = float_graph(np.ones((2, 2)), np.ones((2, 2)), beta=(1.5, 1.0))
    with pytest.raises(QuantizationError, match="layer 'lif1'.*decays.*must lie in \\[0, 1\\]"):
        PassManager([Quantize()]).run(g, ctx())
