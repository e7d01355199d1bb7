"""The sub-step lowering of multi-level neurons: exact against the unlowered (graded) integer graph, leak included;
the sub-step primitive is bit-exact between the reference simulator and Lava; what it cannot lower is named."""

from __future__ import annotations

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.backends.reference import ReferenceSimulator
from snncc.errors import GraphError, UnsupportedLayerError
from snncc.families.lif.nodes import QLIF
from snncc.families.multilevel.nodes import QMultiLevel
from snncc.families.substep.nodes import QSubStepMultiLevel
from snncc.families.substep.runners import SubStepSimulator
from snncc.fidelity import predictions
from snncc.ir import Graph, QDense, read_graph, write_graph
from snncc.ir.keys import RECURRENT as RECURRENT_KEY
from snncc.passes import LowerPrimitives, PassContext, PassManager
from snncc.target import load_target
from snncc.verify import compare_results

LOIHI, LOIHI2 = load_target("loihi"), load_target("loihi2")


def integer_chain(seed: int, depth: int = 2, n_in: int = 6, width: int = 5, leak: bool = True) -> Graph:
    """A random graded multi-level chain ``input -> (QDense -> QMultiLevel) x depth`` with random leaks, biases,
    thresholds, offsets, levels and weight exponents (negative ones floor, so per-delivery flooring would show)."""
    rng = np.random.default_rng(seed)
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges, prev, fan_in = [], "input", n_in
    for i in range(depth):
        n = width if i < depth - 1 else 3
        k = int(rng.integers(6, 10))
        nodes[f"fc{i}"] = QDense(weight=rng.integers(-128, 128, (n, fan_in)), weight_exp=int(rng.integers(-4, 3)),
                                 graded=i > 0)
        nodes[f"ml{i}"] = QMultiLevel(du=int(rng.choice([4095, int(rng.integers(0, 4096))])),
                                      dv=int(rng.integers(0, 1200)) if leak else 0,
                                      bias_mant=rng.integers(-40, 80, n), bias_exp=int(rng.integers(0, 3)),
                                      theta_exp=k, offset=int(rng.integers(0, 1 << k)),
                                      levels=int(rng.integers(1, 7)))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"ml{i}")]
        prev, fan_in = f"ml{i}", n
    nodes["output"] = nir.Output(output_type={"output": np.array([fan_in])})
    edges.append((prev, "output"))
    return Graph(nodes=nodes, edges=edges, metadata={"dt": 1.0, "quantized": True,
                                                      "input": {"kind": "spikes", "scale": 1.0, "max_value": 1}})


def lower(graph: Graph, target=LOIHI) -> tuple[Graph, PassContext]:
    ctx = PassContext(target=target)
    return PassManager([LowerPrimitives(multilevel="substep")]).run(graph, ctx), ctx


def spikes_in(seed: int, batch: int, timesteps: int, n_in: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    return (rng.random((batch, timesteps, n_in)) < rng.uniform(0.2, 0.9)).astype(np.int64)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), depth=st.integers(1, 3), leak=st.booleans())
def test_substep_lowering_is_exact_leak_included(seed: int, depth: int, leak: bool) -> None:
    graph = integer_chain(seed, depth, leak=leak)
    low, ctx = lower(graph)
    x = spikes_in(seed, batch=3, timesteps=9)
    before = ReferenceSimulator(graph).run(x, record_states=True)
    after = SubStepSimulator(low).run(x, record_states=True)
    levels = max(graph.nodes[f"ml{i}"].levels for i in range(depth))
    assert after.substeps == levels
    for i in range(depth):
        name = f"ml{i}"
        assert ctx.lowerings[name]["exact"] and ctx.lowerings[name]["timestep_factor"] == levels
        for trace in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(after.layers[name], trace), getattr(before.layers[name], trace),
                                          err_msg=f"{name}.{trace}")
        bursts = after.layers[name].bursts.reshape(3, 9, levels, -1)
        # a payload z is z spikes at the start of its period, then silence
        np.testing.assert_array_equal(bursts, (np.arange(levels)[None, None, :, None]
                                               < before.layers[name].spikes[:, :, None, :]).astype(np.int8))
    np.testing.assert_array_equal(predictions(low, after), predictions(graph, before))


def test_exactness_test_sees_the_flooring_it_avoids() -> None:
    """Flooring each sub-step's delivery instead of the period's sum (what keeping the synapse's exponent would do)
    changes the spikes, so the lowering's hand-over of the exponent is what makes it exact."""
    differs = 0
    for seed in range(20):
        graph = integer_chain(seed, depth=2)
        low, _ = lower(graph)
        x = spikes_in(seed, batch=2, timesteps=8)
        want = ReferenceSimulator(graph).run(x).layers["ml1"].spikes
        for name in ("fc0", "fc1"):
            low.nodes[name].weight_exp, low.nodes[name.replace("fc", "ml")].input_exp = \
                low.nodes[name.replace("fc", "ml")].input_exp, 0
        differs += not np.array_equal(SubStepSimulator(low).run(x).layers["ml1"].spikes, want)
    assert differs > 0


def test_ir_before_and_after() -> None:
    graph = integer_chain(7, depth=2)
    low, ctx = lower(graph)
    assert isinstance(graph.nodes["ml0"], QMultiLevel) and graph.nodes["fc1"].graded  # the input is untouched
    for i in range(2):
        before, after = graph.nodes[f"ml{i}"], low.nodes[f"ml{i}"]
        assert isinstance(after, QSubStepMultiLevel) and after.input_exp == graph.nodes[f"fc{i}"].weight_exp
        assert (after.theta_exp, after.offset, after.levels, after.du, after.dv) == \
               (before.theta_exp, before.offset, before.levels, before.du, before.dv)
        syn = low.nodes[f"fc{i}"]
        assert syn.weight_exp == 0 and not syn.graded
        np.testing.assert_array_equal(syn.weight, graph.nodes[f"fc{i}"].weight)
    assert low.nodes["ml0"].substeps == low.nodes["ml1"].substeps == max(graph.nodes["ml0"].levels,
                                                                         graph.nodes["ml1"].levels)


def test_substep_node_round_trips(tmp_path) -> None:
    low, _ = lower(integer_chain(3, depth=2))
    write_graph(tmp_path / "g.nir", low)
    back = read_graph(tmp_path / "g.nir")
    node, orig = back.nodes["ml1"], low.nodes["ml1"]
    assert isinstance(node, QSubStepMultiLevel)
    assert (node.substeps, node.input_exp, node.levels) == (orig.substeps, orig.input_exp, orig.levels)
    np.testing.assert_array_equal(node.bias_mant, orig.bias_mant)


def test_graded_target_keeps_the_graded_neuron() -> None:
    low, ctx = lower(integer_chain(2), target=LOIHI2)
    assert isinstance(low.nodes["ml0"], QMultiLevel) and low.nodes["fc1"].graded
    assert not ctx.lowerings


def test_binary_layers_cannot_join_the_substep_clock() -> None:
    graph = integer_chain(4, depth=2)
    graph.nodes["ml1"] = QLIF(du=4095, dv=0, vth=10, bias_mant=np.zeros(3), bias_exp=0, reset="subtract")
    graph.nodes["fc1"].graded = True
    with pytest.raises(UnsupportedLayerError, match="ml1.*multi-level|multi-level.*ml1") as exc:
        lower(graph)
    assert "population" in str(exc.value.hint)


def test_recurrent_synapse_is_refused_by_name() -> None:
    graph = integer_chain(5, depth=2)
    graph.nodes["lat"] = QDense(weight=np.zeros((5, 5), np.int64), weight_exp=0, graded=True,
                                metadata={RECURRENT_KEY: True})
    graph.edges += [("ml0", "lat"), ("lat", "ml0")]
    with pytest.raises(UnsupportedLayerError, match="lat"):
        lower(graph)


def test_mixed_exponents_into_one_layer_are_refused() -> None:
    graph = integer_chain(6, depth=1)
    fc = graph.nodes["fc0"]
    graph.nodes["fc0b"] = QDense(weight=fc.weight.copy(), weight_exp=fc.weight_exp + 1, graded=False)
    graph.edges += [("input", "fc0b"), ("fc0b", "ml0")]
    with pytest.raises(UnsupportedLayerError, match="ml0.*exponents|exponents.*ml0"):
        lower(graph)


def test_simulator_refuses_graded_synapses_on_the_clock() -> None:
    low, _ = lower(integer_chain(8, depth=2))
    low.nodes["fc1"].graded = True
    with pytest.raises(GraphError, match="fc1"):
        SubStepSimulator(low)


def lava_equal(graph: Graph, x: np.ndarray) -> None:
    from snncc.families.substep.runners import SubStepLavaRunner

    ref = SubStepSimulator(graph).run(x, record_states=True)
    lava = SubStepLavaRunner(graph).run(x, record_states=True)
    cmp = compare_results("reference", ref, "lava", lava, states=True)
    assert cmp.equal, cmp.first_mismatch
    assert {"ml0.bursts", "ml0.u", "ml0.v"} <= set(cmp.checked)
    assert any(t.bursts.any() for t in ref.layers.values())
    np.testing.assert_array_equal(ref.counts["fc1"].synops, lava.counts["fc1"].synops)


@pytest.mark.lava
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 100_000), depth=st.integers(2, 3))
def test_substep_primitive_reference_equals_lava(seed: int, depth: int) -> None:
    low, _ = lower(integer_chain(seed, depth))
    lava_equal(low, spikes_in(seed, batch=3, timesteps=6))


@pytest.mark.lava
def test_substep_lava_saturates_like_the_reference() -> None:
    """Large biases and no leak drive v into saturation; both backends must clip it the same way."""
    graph = integer_chain(11, depth=2, leak=False)
    graph.nodes["ml0"].bias_mant[:] = 4000
    graph.nodes["ml0"].bias_exp[:] = 7
    graph.nodes["ml0"].theta_exp = 6
    low, _ = lower(graph)
    x = spikes_in(11, batch=2, timesteps=40)
    ref = SubStepSimulator(low).run(x, record_states=True)
    layer = ref.layers["ml0"]
    before_reset = layer.v + (layer.spikes.astype(np.int64) << 6)  # v after the update, before the soft reset
    assert before_reset.max() == (1 << 23) - 1
    lava_equal(low, x)
