"""Lowerings: exact ones give bit-identical spikes before and after on random inputs; approximate ones are
measured; missing target primitives are named."""

import nir
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from snncc.backends.reference import FloatSimulator, ReferenceSimulator
from snncc.errors import UnsupportedLayerError
from snncc.families.klif.nodes import KLIFNeuron
from snncc.families.lif.nodes import QLIF, LIFNeuron
from snncc.families.multilevel.nodes import MultiLevelNeuron, QMultiLevel
from snncc.fidelity import logical_spikes
from snncc.ir import Graph, QDense
from snncc.ir.keys import POPULATION as POPULATION_KEY
from snncc.passes import (
    Canonicalize,
    LowerNeurons,
    LowerPrimitives,
    PassContext,
    PassManager,
    Quantize,
)
from snncc.target import load_target

LOIHI2, LOIHI = load_target("loihi2"), load_target("loihi")


def chain(neuron_a, neuron_b, w1, w2, graded=False, max_value=1) -> Graph:
    n0, n2 = w1.shape[1], w2.shape[0]
    return Graph(
        nodes={"input": nir.Input(input_type={"input": np.array([n0])}), "fc1": nir.Linear(weight=w1),
               "a": neuron_a, "fc2": nir.Linear(weight=w2), "b": neuron_b,
               "output": nir.Output(output_type={"output": np.array([n2])})},
        edges=[("input", "fc1"), ("fc1", "a"), ("a", "fc2"), ("fc2", "b"), ("b", "output")],
        metadata={"dt": 1.0, "input": {"kind": "graded" if graded else "spikes", "scale": 1.0,
                                       "max_value": max_value}})


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.sampled_from([0.5, 1.0, 1.25, 1.5, 2.0]),
       tau=st.sampled_from([2.0, 4.0]), reset=st.sampled_from(["zero", "subtract"]), decay_input=st.booleans())
def test_klif_to_lif_with_floor_is_exact(seed, k, tau, reset, decay_input):
    """Dyadic parameters keep float64 exact, so the rewrite must give the very same spikes."""
    assume(k * (1 - 1 / tau) <= 1)  # KLIF's valid range (snncc.neurons.KLIF clamps k to it)
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-64, 128, (9, 7)) / 8.0
    w2 = rng.integers(-64, 128, (4, 9)) / 8.0
    g = chain(KLIFNeuron(threshold=np.full(9, 1.0), bias=rng.integers(-8, 8, 9) / 16.0, k=k, tau=tau,
                         decay_input=decay_input, reset=reset),
              KLIFNeuron(threshold=np.full(4, 0.5), bias=np.zeros(4), k=k, tau=tau, reset=reset), w1, w2)
    ctx = PassContext(target=LOIHI2)
    canonical = PassManager([Canonicalize()]).run(g, ctx)
    lowered = PassManager([LowerNeurons()]).run(canonical, ctx)
    assert isinstance(lowered.nodes["a"], LIFNeuron) and lowered.nodes["a"].v_min == 0.0
    assert ctx.lowerings["a"]["exact"]
    x = (rng.random((4, 12, 7)) < 0.5).astype(np.int64)
    before, after = FloatSimulator(canonical).run(x), FloatSimulator(lowered).run(x)
    for name in ("a", "b"):
        np.testing.assert_array_equal(before.layers[name].spikes, after.layers[name].spikes)
    assert before.layers["a"].spikes.any()  # the test exercises spiking, not a silent network


def multilevel(n, levels, theta, offset=0.0, beta=1.0, bias=None):
    return MultiLevelNeuron(decay_v=beta, decay_i=0.0, threshold=np.full(n, theta),
                            bias=np.zeros(n) if bias is None else bias, offset=offset, out_scale=1.0, levels=levels)


def quantized_multilevel_graph(seed, levels, offset, beta, n_in=6, n=5, n_out=3):
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-127, 128, (n, n_in)) / 64.0
    w2 = rng.integers(-127, 128, (n_out, n)) / 64.0
    g = chain(multilevel(n, levels, theta=1.0, offset=offset, beta=beta, bias=rng.integers(-16, 16, n) / 64.0),
              LIFNeuron(decay_v=1.0, decay_i=0.0, threshold=np.full(n_out, 2.0), bias=np.zeros(n_out),
                        reset="subtract"), w1, w2)
    ctx = PassContext(target=LOIHI)
    q = PassManager([Canonicalize(), Quantize()]).run(g, ctx)
    return q, rng


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), levels=st.integers(1, 6), offset=st.sampled_from([0.0, 0.25, 0.5]))
def test_population_lowering_is_exact_without_leak(seed, levels, offset):
    q, rng = quantized_multilevel_graph(seed, levels, offset, beta=1.0)
    assert isinstance(q.nodes["a"], QMultiLevel) and q.nodes["fc2"].graded
    ctx = PassContext(target=LOIHI)
    low = PassManager([LowerPrimitives()]).run(q, ctx)
    pop = low.nodes["a"]
    assert isinstance(pop, QLIF) and pop.reset == "subtract" and pop.metadata[POPULATION_KEY]["members"] == levels
    assert pop.bias_mant.shape == (5 * levels,) and not low.nodes["fc2"].graded
    assert low.is_recurrent("a__lateral") and ctx.lowerings["a"]["exact"]
    x = (rng.random((3, 15, 6)) < 0.6).astype(np.int64)
    ref, lowered = ReferenceSimulator(q).run(x), ReferenceSimulator(low).run(x)
    z = ref.layers["a"].spikes
    assume(z.max() >= 1)  # a silent layer would pass vacuously (some draws never reach a level, e.g. seed 5961)
    np.testing.assert_array_equal(logical_spikes(low, "a", lowered.layers["a"].spikes), z)
    np.testing.assert_array_equal(lowered.layers["b"].spikes, ref.layers["b"].spikes)


def test_population_reaches_every_level():
    """A strongly driven neuron must emit the maximum level, through all of its members at once."""
    q, _ = quantized_multilevel_graph(3, levels=4, offset=0.0, beta=1.0)
    q.nodes["fc1"].weight = np.abs(q.nodes["fc1"].weight) + 64  # every input excites: the residual outgrows 4 quanta
    low = PassManager([LowerPrimitives()]).run(q, PassContext(target=LOIHI))
    x = np.ones((1, 20, 6), np.int64)
    z = ReferenceSimulator(q).run(x).layers["a"].spikes
    pop = ReferenceSimulator(low).run(x).layers["a"].spikes
    assert z.max() == 4
    np.testing.assert_array_equal(logical_spikes(low, "a", pop), z)


def test_population_with_leak_is_flagged_approximate():
    q, rng = quantized_multilevel_graph(5, levels=3, offset=0.5, beta=0.75)
    ctx = PassContext(target=LOIHI)
    PassManager([LowerPrimitives()]).run(q, ctx)
    assert ctx.lowerings["a"]["exact"] is False and "approximate" in ctx.lowerings["a"]["note"]


def test_graded_primitive_kept_where_the_target_has_it():
    q, _ = quantized_multilevel_graph(1, levels=3, offset=0.0, beta=1.0)
    low = PassManager([LowerPrimitives()]).run(q, PassContext(target=LOIHI2))
    assert isinstance(low.nodes["a"], QMultiLevel) and low.nodes["fc2"].graded


def test_multilevel_quantization_is_exact_on_the_grid():
    """IF multi-level layers with weights on the 1/64 grid and theta = 1: the integer graph equals the float one."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        w1 = rng.integers(-127, 128, (5, 6)) / 64.0
        w2 = rng.integers(-127, 128, (3, 5)) / 64.0
        g = chain(multilevel(5, 4, 1.0, offset=0.5), multilevel(3, 2, 1.0), w1, w2)
        ctx = PassContext(target=LOIHI2)
        canonical = PassManager([Canonicalize()]).run(g, ctx)
        q = PassManager([Quantize()]).run(canonical, ctx)
        assert ctx.notes["quantize"]["a"]["theta_exp"] >= 6
        x = (rng.random((3, 10, 6)) < 0.5).astype(np.int64)
        f, i = FloatSimulator(canonical).run(x), ReferenceSimulator(q).run(x)
        for name in ("a", "b"):
            np.testing.assert_array_equal(f.layers[name].spikes, i.layers[name].spikes)


def test_missing_primitives_are_named():
    g = chain(multilevel(4, 3, 1.0), multilevel(2, 2, 1.0), np.ones((4, 3)) / 4, np.ones((2, 4)) / 4, graded=True,
              max_value=3)
    ctx = PassContext(target=LOIHI)
    q = PassManager([Canonicalize(), Quantize()]).run(g, ctx)
    with pytest.raises(UnsupportedLayerError, match="target 'loihi' has no graded spikes"):
        PassManager([LowerPrimitives()]).run(q, ctx)


def test_lateral_weights_inhibit_one_quantum():
    q, _ = quantized_multilevel_graph(2, levels=3, offset=0.0, beta=1.0)
    k = q.nodes["a"].theta_exp
    low = PassManager([LowerPrimitives()]).run(q, PassContext(target=LOIHI))
    lat: QDense = low.nodes["a__lateral"]
    effective = lat.weight * 2.0**lat.weight_exp * 64  # in voltage units
    group = effective[:3, :3]
    assert np.all(np.diag(group) == 0) and np.all(group[~np.eye(3, dtype=bool)] == -(2**k))
    assert np.all(effective[:3, 3:] == 0)  # no inhibition across neurons
    pop = low.nodes["a"]
    assert pop.vth << 6 == 2**k and pop.v_init[:3].tolist() == [1, 1 - 2**k, 1 - 2 * 2**k]


def test_arlif_program_lowering_is_reported_with_its_error(tmp_path):
    import torch
    from torch import nn

    import snncc
    from snncc import neurons as N

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), N.ARLIF(a=0.4, c=0.5), nn.Linear(8, 3), N.ARLIF())
    report = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=6)).manifest["report"]
    note = report["lowering"]["arlif_1"]
    assert note["exact"] is False and 0.5 < note["measured"]["spike_agreement"] <= 1.0
    assert report["primitives"]["arlif_1"]["kind"] == "custom"
    N.deploy_exact(model)
    note = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=6)).manifest["report"]["lowering"]["arlif_1"]
    assert note["exact"] is True and "deploy-exact" in note["note"]
    stock = snncc.compile(model, "loihi2",
                          options=snncc.Options(timesteps=6, passes={"arlif": "stock"})).manifest["report"]
    assert stock["lowering"]["arlif_1"]["exact"] is False and stock["primitives"]["arlif_1"]["kind"] == "stock"
