"""The Lava backend against the reference simulator: bit-exact spikes, u and v at every step of every layer."""

from __future__ import annotations

import importlib

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snncc.backends.reference import ReferenceSimulator, SimResult
from snncc.errors import GraphError, QuantizationError, VerificationError
from snncc.families.lif.nodes import QLIF
from snncc.ir import Graph, QDense
from tests.graphs import lava_runner, qgraph, random_inputs

V_MAX = (1 << 23) - 1

LAVA_SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same(ref: SimResult, lava: SimResult, states: bool = True) -> None:
    assert ref.layers.keys() == lava.layers.keys()
    assert (ref.timesteps, ref.batch, ref.latency) == (lava.timesteps, lava.batch, lava.latency)
    for name, r in ref.layers.items():
        got = lava.layers[name]
        assert got.latency == r.latency, name
        np.testing.assert_array_equal(got.spikes, r.spikes, err_msg=f"{name} spikes")
        if states:
            np.testing.assert_array_equal(got.u, r.u, err_msg=f"{name} u")
            np.testing.assert_array_equal(got.v, r.v, err_msg=f"{name} v")
    assert {k: c.to_dict() for k, c in lava.counts.items()} == {k: c.to_dict() for k, c in ref.counts.items()}


def run_both(graph: Graph, x: np.ndarray, states: bool = True) -> tuple[SimResult, SimResult]:
    ref = ReferenceSimulator(graph).run(x, record_states=states)
    lava = lava_runner(graph).run(x, record_states=states)
    assert_same(ref, lava, states)
    return ref, lava


@st.composite
def quantized_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    n_layers = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 40), min_size=n_layers + 1, max_size=n_layers + 1))
    graded = draw(st.booleans())
    max_value = draw(st.integers(1, 255)) if graded else 1
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    decay = st.one_of(st.sampled_from([-1, 0, 4095]), st.integers(-1, 4095))
    vth_bits = st.integers(1, 17)
    bias = []
    for n in sizes[1:]:
        mant_bits = draw(st.integers(0, 13))
        bm = rng.integers(-(1 << mant_bits) // 2, max((1 << mant_bits) // 2, 1), size=n)
        bias.append((np.clip(bm, -4096, 4095), rng.integers(0, 8, size=n)))
    graph = qgraph(
        sizes, rng, graded=graded, max_value=max_value,
        exps=draw(st.lists(st.integers(-3, 3), min_size=n_layers, max_size=n_layers)),
        du=[draw(decay) for _ in range(n_layers)],
        dv=[draw(st.one_of(st.sampled_from([0, 4096]), st.integers(0, 4096))) for _ in range(n_layers)],
        vth=[int(rng.integers(1, 1 << draw(vth_bits), endpoint=False)) for _ in range(n_layers)],
        bias=bias,
        resets=[draw(st.sampled_from(["zero", "subtract"])) for _ in range(n_layers)],
    )
    batch, timesteps = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    x = random_inputs(rng, batch, timesteps, sizes[0], graded=graded, max_value=max_value,
                      rate=draw(st.sampled_from([0.1, 0.3, 0.7])))
    return graph, x


@pytest.mark.lava
@LAVA_SETTINGS
@given(quantized_cases())
def test_random_graphs_bit_exact(case: tuple[Graph, np.ndarray]) -> None:
    graph, x = case
    run_both(graph, x)


@pytest.mark.lava
def test_voltage_saturates_and_both_resets_agree() -> None:
    """A bias of -4096 << 7 per step drives v into negative saturation; a large positive bias with the largest
    threshold makes v saturate at +(2**23 - 1) just before a (soft) reset."""
    rng = np.random.default_rng(5)
    n = 6
    bias = [(np.array([-4096, -4096, 4095, 4095, 100, -5]), np.array([7, 7, 7, 7, 0, 3])),
            (np.full(3, 4095), np.full(3, 7))]
    for reset in ("zero", "subtract"):
        graph = qgraph([5, n, 3], rng, du=[-1, 100], dv=[0, 0], vth=[(1 << 17) - 1, (1 << 17) - 1], bias=bias,
                       resets=[reset, reset])
        ref, _ = run_both(graph, random_inputs(rng, 2, 40, 5))
        v = ref.layers["lif0"].v
        assert v.min() == -V_MAX, "the test must drive v into negative saturation"
        if reset == "subtract":
            # saturated at 2**23 - 1, spiked, and kept the excess over vth << 6
            assert np.any(v == V_MAX - (((1 << 17) - 1) << 6))


def always_on_graph(n_in: int) -> Graph:
    """n_in always-on inputs through weights 127 << 3 into 4 non-decaying (du=-1) current integrators."""
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "dense0": QDense(weight=np.full((4, n_in), 127), weight_exp=3),
             "lif0": QLIF(du=-1, dv=4096, vth=(1 << 17) - 1, bias_mant=np.zeros(4), bias_exp=np.zeros(4),
                          reset="subtract"),
             "output": nir.Output(output_type={"output": np.array([4])})}
    return Graph(nodes=nodes, edges=[("input", "dense0"), ("dense0", "lif0"), ("lif0", "output")],
                 metadata={"input": {"kind": "spikes"}})


@pytest.mark.lava
def test_current_wraps_around_24_bits() -> None:
    """40 inputs add 40*127*8 << 6 = 2600960 per step: u passes +2**23 on the 4th step and comes back negative."""
    ref, _ = run_both(always_on_graph(40), np.ones((2, 10, 40), np.int64))
    u = ref.layers["lif0"].u[0, :, 0]
    assert u[2] == 3 * 2600960 and u[3] == 4 * 2600960 - (1 << 24), "the test must make u wrap"


@pytest.mark.lava
def test_current_wrap_is_a_single_correction() -> None:
    """300 inputs add 19507200 > 2**24 per step: one -2**24 fold per step is not enough, u climbs past +2**23."""
    ref, _ = run_both(always_on_graph(300), np.ones((1, 8, 300), np.int64))
    u = ref.layers["lif0"].u[0, :, 0]
    assert u[0] == 19507200 - (1 << 24)
    assert u.max() > 1 << 23, "the test must leave u outside the 24-bit range"


def fan_in_graph(rng: np.random.Generator, skip: bool) -> Graph:
    """input -> d0 -> lif0 -> {d1, d2} -> lif1, and with ``skip`` also input -> d3 -> lif1 (a shorter path)."""
    w = lambda o, i: rng.integers(-128, 128, size=(o, i))  # noqa: E731
    nodes = {
        "input": nir.Input(input_type={"input": np.array([12])}),
        "d0": QDense(weight=w(20, 12), weight_exp=1),
        "lif0": QLIF(du=300, dv=100, vth=150, bias_mant=rng.integers(-50, 50, 20), bias_exp=np.full(20, 4)),
        "d1": QDense(weight=w(8, 20), weight_exp=0),
        "d2": QDense(weight=w(8, 20), weight_exp=-2),
        "lif1": QLIF(du=-1, dv=500, vth=80, bias_mant=np.zeros(8), bias_exp=np.zeros(8), reset="subtract"),
        "output": nir.Output(output_type={"output": np.array([8])}),
    }
    edges = [("input", "d0"), ("d0", "lif0"), ("lif0", "d1"), ("lif0", "d2"), ("d1", "lif1"), ("d2", "lif1"),
             ("lif1", "output")]
    if skip:
        nodes["d3"] = QDense(weight=w(8, 12), weight_exp=2)
        edges += [("input", "d3"), ("d3", "lif1")]
    return Graph(nodes=nodes, edges=edges, metadata={"input": {"kind": "spikes"}})


@pytest.mark.lava
@pytest.mark.parametrize("skip", [False, True])
def test_fan_in_sums_synapses(skip: bool) -> None:
    """Two synapses from lif0 into lif1 (same depth); with ``skip`` a third, one step shallower, from the input.

    The skewed fan-in needs one silent step between samples (the runner's ``gap``) to match the reference."""
    rng = np.random.default_rng(11)
    graph = fan_in_graph(rng, skip)
    runner = lava_runner(graph)
    assert runner.gap == (1 if skip else 0)
    ref, _ = run_both(graph, random_inputs(rng, 3, 9, 12, rate=0.4))
    assert ref.layers["lif1"].spikes.sum() > 0


@pytest.mark.lava
def test_t1_and_single_neuron() -> None:
    rng = np.random.default_rng(2)
    graph = qgraph([1, 1, 1], rng, vth=[1, 1], du=[-1, 0], dv=[0, 4096])
    x = np.array([[[1]], [[0]], [[1]]])
    ref, _ = run_both(graph, x)
    assert ref.batch == 3 and ref.timesteps == 1
    spikes_only = lava_runner(graph).run(x)
    assert spikes_only.layers["lif1"].u is None and spikes_only.layers["lif1"].v is None
    assert_same(ReferenceSimulator(graph).run(x), spikes_only, states=False)


def test_rejects_unquantized_graph() -> None:
    graph = Graph(nodes={"input": nir.Input(input_type={"input": np.array([2])}),
                         "aff": nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2)),
                         "output": nir.Output(output_type={"output": np.array([2])})},
                  edges=[("input", "aff"), ("aff", "output")])
    with pytest.raises(GraphError, match="aff"):
        lava_runner(graph)


def test_rejects_weights_outside_lava_mantissa_range() -> None:
    graph = qgraph([3, 2], np.random.default_rng(0))
    graph.nodes["dense0"].weight[0, 0] = 200
    with pytest.raises(QuantizationError) as exc:
        lava_runner(graph)
    assert exc.value.layer == "dense0"


def test_rejects_bad_inputs() -> None:
    runner = lava_runner(qgraph([3, 2], np.random.default_rng(0)))
    with pytest.raises(VerificationError):
        runner.run(np.zeros((1, 4, 5)))
    with pytest.raises(VerificationError):
        runner.run(np.full((1, 4, 3), 2))


@pytest.mark.lava
@pytest.mark.parametrize("seed", range(4))
def test_sparse_weights_run_as_lava_sparse_bit_exact(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruned layers (about 10% non-zero) run as Lava's Sparse, binary and graded, exponents -3..3: still bit-exact."""
    from snncc.backends.lava.processes import uses_sparse
    from snncc.compat.lava import import_lava

    import_lava()  # the compatibility workaround, before any lava module
    sparse_process = importlib.import_module("lava.proc.sparse.process")

    made: list[str] = []
    real_init = sparse_process.Sparse.__init__

    def counting_init(self, *args, **kwargs):
        made.append(kwargs["name"])
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(sparse_process.Sparse, "__init__", counting_init)
    rng = np.random.default_rng(seed)
    graded = seed % 2 == 1
    graph = qgraph([30, 40, 20], rng, graded=graded, max_value=15 if graded else 1, exps=[seed - 3, 3 - seed],
                   vth=[20, 20])
    for name in ("dense0", "dense1"):
        w = graph.nodes[name].weight
        graph.nodes[name].weight = np.where(rng.random(w.shape) < 0.1, np.minimum(np.abs(w), 127), 0)  # excitatory
    assert all(uses_sparse(graph.nodes[n]) for n in ("dense0", "dense1"))
    x = random_inputs(rng, 2, 8, 30, graded=graded, max_value=15 if graded else 1, rate=0.5)
    ref, _ = run_both(graph, x)
    assert sorted(made) == ["sparse:dense0", "sparse:dense1"]
    assert ref.layers["lif1"].spikes.any()  # activity reaches the last layer
