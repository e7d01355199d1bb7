"""split-fan-in: a fan-in beyond a core's input axons cut into exact partial sums (snncc.passes.split_fan_in).

Random integer graphs (dense and convolutional wide layers, random mantissas and exponents, binary and graded input)
run on a target copy whose input axons are few, so the pass splits: every original layer's spikes, u and v are the
unsplit graph's bit for bit (each layer records its own window, so the one step it now fires later is its latency),
on the reference simulator and on Lava. Then the IR the pass makes, the rebalanced skip path, the refusals (an
unprovable wrap, a target without graded spikes, a loop whose latency changes) and a compile of a model the loihi2
target used to refuse.
"""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

import snncc
from snncc import neurons as N
from snncc.backends.lava.conv_encoding import conv_sparse
from snncc.backends.reference.simulator import ReferenceSimulator
from snncc.conv import ConvGeometry, conv_matrix
from snncc.errors import ResourceError, UnsupportedLayerError
from snncc.families.lif.nodes import QLIF
from snncc.families.partial_sum.nodes import QRelay
from snncc.ir import Graph, QConv, QDense, keys, read_graph, write_graph
from snncc.mapping.layers import fan_in, neuron_layers
from snncc.passes import LowerPrimitives, Partition, PassContext, PassManager, Place
from snncc.passes.split_fan_in import SplitFanIn, integer_stage
from snncc.target import load_target
from snncc.testing import assert_equivalent
from tests.test_cli import assert_user_error
from tests.test_cli import snncc as run_cli
from tests.test_conv_lava import Seen, run_both
from tests.test_conv_mapping import target_with

ORIGINAL = ("wide", "skip", "out")
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def lif(n: int, rng: np.random.Generator) -> QLIF:
    return QLIF(du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)), vth=int(rng.integers(1, 200)),
                bias_mant=rng.integers(-20, 21, n), bias_exp=np.zeros(n, np.int64),
                reset=str(rng.choice(["zero", "subtract"])))


def skip_graph(rng: np.random.Generator, in_shape: tuple[int, int, int], wide: QDense | QConv, graded: bool,
               max_value: int, n_out: int) -> Graph:
    """input -> wide synapse -> 'wide' -> 'out', and input -> 1x1 depthwise 'skip' -> 'out' (equal depths)."""
    c, h, w = in_shape
    chw = c * h * w
    n_wide = wide.out_shape[0]
    skip = QConv(weight=rng.integers(-128, 128, (c, 1, 1, 1)), input_shape=in_shape, groups=c,
                 weight_exp=int(rng.integers(0, 3)), graded=graded)
    nodes = {"input": nir.Input(input_type={"input": np.array([chw])}), "s_wide": wide, "wide": lif(n_wide, rng),
             "s_skip": skip, "skip": lif(chw, rng),
             "s_out_wide": QDense(weight=rng.integers(-128, 128, (n_out, n_wide)), weight_exp=int(rng.integers(-3, 2))),
             "s_out_skip": QDense(weight=rng.integers(-128, 128, (n_out, chw)), weight_exp=int(rng.integers(-3, 2))),
             "out": lif(n_out, rng), "output": nir.Output(output_type={"output": np.array([n_out])})}
    edges = [("input", "s_wide"), ("s_wide", "wide"), ("input", "s_skip"), ("s_skip", "skip"),
             ("wide", "s_out_wide"), ("s_out_wide", "out"), ("skip", "s_out_skip"), ("s_out_skip", "out"),
             ("out", "output")]
    meta = {"input": {"kind": "graded" if graded else "spikes", "scale": 1.0, "max_value": max_value},
            keys.QUANTIZED: True}
    return Graph(nodes=nodes, edges=edges, metadata=meta)


@st.composite
def split_cases(draw: st.DrawFn, kind: str) -> tuple[Graph, Graph, dict, np.ndarray]:
    """A random graph whose wide layer is fed by a ``kind`` ("dense" or "conv") synapse, the pass's result on a
    target with a lowered limit, its note and inputs."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    graded = draw(st.booleans())
    max_value = draw(st.integers(1, 15)) if graded else 1
    dense = kind == "dense"
    in_shape = (draw(st.integers(1 if dense else 2, 4)), draw(st.integers(2, 4)), draw(st.integers(2, 4)))
    c, h, w = in_shape
    lowest = 2  # the smallest limit tried: a convolution's kernel must fit it (one input channel per chunk)
    if dense:
        wide = QDense(weight=rng.integers(-128, 128, (draw(st.integers(1, 6)), c * h * w)),
                      weight_exp=draw(st.integers(-6, 3)), graded=graded)
    else:
        k, pad, stride, dil = (draw(st.integers(1, 3)), draw(st.integers(0, 1)), draw(st.integers(1, 2)),
                               draw(st.integers(1, 2)))
        assume(min(h, w) + 2 * pad >= dil * (k - 1) + 1)
        wide = QConv(weight=rng.integers(-128, 128, (draw(st.integers(1, 3)), c, k, k)), input_shape=in_shape,
                     padding=(pad, pad), stride=(stride, stride), dilation=(dil, dil),
                     weight_exp=draw(st.integers(0, 3)), graded=graded)
        lowest = max(k * k, c * k * k // 2)  # 'out' (reading the map and the skip) must fit after its split too
    g = skip_graph(rng, in_shape, wide, graded, max_value, draw(st.integers(1, 4)))
    limit = draw(st.integers(lowest, max(lowest, fan_in(g, "wide") - 1)))
    assume(fan_in(g, "wide") > limit)
    ctx = PassContext(target=target_with(input_axons=limit))
    try:
        out = PassManager([SplitFanIn()]).run(g, ctx)
    except ResourceError as exc:  # e.g. a prime fan-in over a tiny limit: refused on one line naming the layer
        assert "\n" not in str(exc) and "layer '" in str(exc) and str(limit) in str(exc)
        assume(False)
    x = rng.integers(0, max_value + 1, (2, draw(st.integers(3, 8)), c * h * w)) if graded else \
        (rng.random((2, draw(st.integers(3, 8)), c * h * w)) < 0.4).astype(np.int64)
    return g, out, ctx.notes["split-fan-in"], x


def assert_same_layers(before: Graph, after: Graph, x: np.ndarray) -> dict:
    """Every original layer of ``after`` sends, and holds, what it did in ``before``, step for step of its own
    window; returns the latency each layer gained."""
    a = ReferenceSimulator(before).run(x, record_states=True)
    b = ReferenceSimulator(after).run(x, record_states=True)
    for name in ORIGINAL:
        for what in ("spikes", "u", "v"):
            assert np.array_equal(getattr(a.layers[name], what), getattr(b.layers[name], what)), (name, what)
    return {name: b.layers[name].latency - a.layers[name].latency for name in ORIGINAL}


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_split_equals_unsplit_on_the_reference(kind: str) -> None:
    seen = Seen()

    @settings(SETTINGS, max_examples=50)
    @given(split_cases(kind))
    def check(case: tuple[Graph, Graph, dict, np.ndarray]) -> None:
        before, after, note, x = case
        shift = assert_same_layers(before, after, x)
        assert shift["wide"] == 1 and shift["out"] >= 1
        limit = note["input_axons"]
        assert all(fan_in(after, n) <= limit for n in neuron_layers(after))
        wide = before.nodes["s_wide"]
        seen.note("graded", wide.graded)
        seen.note("binary", not wide.graded)
        seen.note("negative exponent", wide.weight_exp < 0)
        seen.note("stride or dilation", isinstance(wide, QConv) and max(*wide.stride, *wide.dilation) > 1)
        seen.note("padding", isinstance(wide, QConv) and max(wide.padding) > 0)
        seen.note("several chunks", note["layers"]["wide"]["synapses"]["s_wide"]["chunks"] > 1)
        seen.note("skip delayed", bool(note["delays"]))
        seen.note("wide spikes", ReferenceSimulator(after).run(x).layers["wide"].spikes.any())

    check()
    seen.check("graded", "binary", "several chunks", "skip delayed", "wide spikes",
               *(("negative exponent",) if kind == "dense" else ("stride or dilation", "padding")))


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_split_graph_is_bit_exact_on_lava(kind: str) -> None:
    seen = Seen()

    @settings(SETTINGS, max_examples=4)
    @given(split_cases(kind))
    def check(case: tuple[Graph, Graph, dict, np.ndarray]) -> None:
        before, after, note, x = case
        assert_same_layers(before, after, x)
        lowered = PassManager([LowerPrimitives()]).run(after, PassContext(target=load_target("loihi2")))
        run_both(lowered, x)  # every layer, relays included: spikes, u, v and operation counts
        seen.note("several chunks", note["layers"]["wide"]["synapses"]["s_wide"]["chunks"] > 1)

    check()
    seen.check("several chunks")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
       st.integers(1, 2), st.sampled_from([1, 2]))
def test_the_sparse_matrix_of_a_convolution_is_its_matrix(seed, c, k, stride, pad, dil, groups) -> None:
    """conv_sparse (Lava's Sparse form of a convolution with a negative exponent) against the dense matrix."""
    rng = np.random.default_rng(seed)
    geom = ConvGeometry((2 * c, 5, 4), 2 * groups, (k, 1 + k % 2), (stride, 1), (pad, 0), (dil, 1), groups)
    weight = rng.integers(-3, 4, geom.weight_shape)
    assert np.array_equal(conv_sparse(weight, geom).toarray(), conv_matrix(weight, geom))


def test_a_grouped_convolution_that_needs_its_groups_cut_is_refused() -> None:
    wide = QConv(weight=np.ones((4, 6, 3, 3), np.int64), input_shape=(12, 3, 3), groups=2)
    g = skip_graph(np.random.default_rng(7), (12, 3, 3), wide, False, 1, 2)
    with pytest.raises(ResourceError, match=r"layer 'wide'.*fan-in 54 exceeds the 20 input axons of a core and "
                                            r"cannot be split: synapse 's_wide' \(54 inputs\): a grouped conv"):
        PassManager([SplitFanIn()]).run(g, PassContext(target=target_with(input_axons=20)))


def dense_wide(rng: np.random.Generator, n: int = 3, m: int = 24, exp: int = -3, graded: bool = False) -> Graph:
    return skip_graph(rng, (m, 1, 1), QDense(weight=rng.integers(-128, 128, (n, m)), weight_exp=exp, graded=graded),
                      graded, 7 if graded else 1, 2)


def test_ir_before_and_after(tmp_path) -> None:
    g = dense_wide(np.random.default_rng(1))
    ctx = PassContext(target=target_with(input_axons=16))
    out = PassManager([SplitFanIn()]).run(g, ctx)
    assert fan_in(g, "wide") == 24 and fan_in(out, "wide") == 3  # three chunks of 8 (half the limit), one input each
    partial, relay, total = out.nodes["s_wide"], out.nodes["s_wide__sums"], out.nodes["s_wide__total"]
    assert isinstance(partial, QConv) and partial.groups == 3 and partial.weight_exp == 0
    assert partial.input_shape == (24, 1, 1) and partial.weight.shape == (9, 8, 1, 1)
    w = g.nodes["s_wide"].weight
    assert np.array_equal(partial.weight[3 * 2 + 1, :, 0, 0], w[1, 16:24])  # relay k*n + i: chunk k of neuron i
    assert isinstance(relay, QRelay) and relay.size == 9
    assert relay.levels == int(np.abs(w).reshape(3, 3, 8).sum(axis=2).max())
    assert isinstance(total, QConv) and total.input_shape == (1, 3, 3) and np.all(total.weight == 1)
    assert total.weight_exp == -3 and total.graded
    assert out.predecessors("wide") == ["s_wide__total"] and out.predecessors("s_wide__total") == ["s_wide__sums"]
    # 'out' reads 3 + 24 inputs > 16: split too; its skip path, one step shorter, gets one relay stage
    assert out.predecessors("s_out_skip__total") == ["s_out_skip__sums__relay0"]
    note = ctx.notes["split-fan-in"]
    assert note["layers"]["wide"]["synapses"]["s_wide"]["chunks"] == 3
    assert note["layers"]["wide"]["fan_in_after"] == 3 and note["relay_neurons"] > 0
    assert set(note["delays"]) == {"s_out_skip__total"}
    assert {n for n in g.nodes} <= set(out.nodes)  # every original node stays, under its name
    write_graph(tmp_path / "split.nir", out)  # the relays (graded, and binary on a delay path) survive a round trip
    back = read_graph(tmp_path / "split.nir")
    assert isinstance(back.nodes["s_wide__sums"], QRelay) and back.nodes["s_wide__sums"].levels == relay.levels
    syn, binary = integer_stage(4, "input", None)  # a delay stage of binary spikes
    tiny = Graph(nodes={"input": nir.Input(input_type={"input": np.array([4])}), "syn": syn, "relay": binary,
                        "output": nir.Output(output_type={"output": np.array([4])})},
                 edges=[("input", "syn"), ("syn", "relay"), ("relay", "output")])
    write_graph(tmp_path / "tiny.nir", tiny)
    relay_back = read_graph(tmp_path / "tiny.nir").nodes["relay"]
    assert isinstance(relay_back, QRelay) and relay_back.levels is None and relay_back.payload_levels is None
    mapped = PassManager([LowerPrimitives(), Partition(), Place()]).run(out, PassContext(target=ctx.target))
    assert keys.MAPPING in mapped.metadata


def test_turned_off_the_partitioner_refuses_and_names_the_option() -> None:
    g = dense_wide(np.random.default_rng(2))
    ctx = PassContext(target=target_with(input_axons=8))
    out = PassManager([SplitFanIn(fan_in_split="off")]).run(g, ctx)
    assert set(out.nodes) == set(g.nodes) and ctx.notes["split-fan-in"]["layers"] == {}
    with pytest.raises(ResourceError, match=r"layer 'out'.*fan-in 27 exceeds the 8 input axons.*--fan-in-split on"):
        PassManager([LowerPrimitives(), Partition()]).run(out, ctx)


def test_an_unprovable_wrap_is_refused_on_one_line() -> None:
    rng = np.random.default_rng(3)
    g = skip_graph(rng, (64, 1, 1), QDense(weight=np.full((2, 64), 127), weight_exp=7, graded=True), True, 255, 2)
    with pytest.raises(ResourceError) as exc:
        PassManager([SplitFanIn()]).run(g, PassContext(target=target_with(input_axons=16)))
    text = str(exc.value)
    assert "\n" not in text and "layer 'wide'" in text and "24-bit accumulator" in text
    assert f"by {(127 * 64 * 255 << 7) - (2 ** 23 - 1)}" in text


def test_a_partial_sum_beyond_the_payload_range_is_refused() -> None:
    g = skip_graph(np.random.default_rng(4), (1200, 1, 1), QDense(weight=np.full((1, 1200), -128), weight_exp=-8,
                                                                   graded=True), True, 255, 2)
    with pytest.raises(ResourceError, match=r"layer 'wide'.*partial sum.*can reach 9792000.*graded_payload_bits.*by"):
        PassManager([SplitFanIn()]).run(g, PassContext(target=target_with(input_axons=600)))  # chunks of 300


def test_a_target_without_graded_spikes_is_refused() -> None:
    g = dense_wide(np.random.default_rng(5), m=5000)
    with pytest.raises(ResourceError, match=r"layer 'wide'.*fan-in 5000 exceeds the 4096.*target 'loihi'.*graded"):
        PassManager([SplitFanIn()]).run(g, PassContext(target=load_target("loihi")))


def test_a_loop_through_the_split_layer_that_changes_latency_is_refused() -> None:
    rng = np.random.default_rng(6)
    g = dense_wide(rng)
    # 'out' feeds 'wide' back after 2 steps, as the trained model does; split, the loop takes 3
    g.nodes["s_back"] = QDense(weight=rng.integers(-128, 128, (3, 2)), metadata={keys.RECURRENT: True,
                                                                                 keys.FEEDBACK_DELAY: 2})
    g.edges += [("out", "s_back"), ("s_back", "wide")]
    PassManager([SplitFanIn(fan_in_split="off")]).run(g, PassContext(target=target_with(input_axons=8)))
    with pytest.raises(UnsupportedLayerError, match=r"the loop wide -> .*out -> s_back -> wide .*3 synapse layers"):
        PassManager([SplitFanIn()]).run(g, PassContext(target=target_with(input_axons=8)))


def test_a_model_loihi2_refused_now_compiles_and_runs_bit_exact(tmp_path) -> None:
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(16500, 3), N.LIF()), tmp_path / "wide.pt")
    proc = run_cli("compile", tmp_path / "wide.pt", "-o", tmp_path / "b", "-q")
    assert proc.returncode == 0, proc.stderr
    bundle = snncc.load_bundle(tmp_path / "b")
    assert fan_in(bundle.graph, "lif_1") == 3  # 16500 inputs in three chunks of 5500 <= 16000 / 2
    split = json.loads((tmp_path / "b" / "report.json").read_text())["fan_in_split"]["layers"]["lif_1"]
    assert split["fan_in"] == 16500 and split["synapses"]["linear_0"]["chunks"] == 3
    x = (np.random.default_rng(0).random((2, 6, 16500)) < 0.05).astype(np.int64)
    assert_equivalent(bundle, x)
    assert_user_error(run_cli("compile", tmp_path / "wide.pt", "-o", tmp_path / "o", "--fan-in-split", "off"),
                      "layer 'lif_1'", "fan-in 16500", "16000 input axons", "--fan-in-split on")


def test_a_synapse_feeding_two_wide_layers_is_split_for_each() -> None:
    rng = np.random.default_rng(8)
    g = dense_wide(rng)
    g.nodes["twin"] = QLIF(du=4095, dv=0, vth=1, bias_mant=np.zeros(3, np.int64), bias_exp=np.zeros(3, np.int64),
                           reset="zero")
    g.edges.append(("s_wide", "twin"))
    out = PassManager([SplitFanIn()]).run(g, PassContext(target=target_with(input_axons=8)))
    assert out.successors("s_wide__wide") == ["s_wide__wide__sums"] and out.successors("s_wide") == ["s_wide__sums"]
    assert out.predecessors("twin") == ["s_wide__total"] and out.predecessors("wide") == ["s_wide__wide__total"]
    x = (rng.random((2, 6, 24)) < 0.4).astype(np.int64)
    a = ReferenceSimulator(g).run(x, record_states=True)
    b = ReferenceSimulator(out).run(x, record_states=True)
    for name in (*ORIGINAL, "twin"):
        assert np.array_equal(a.layers[name].spikes, b.layers[name].spikes)
        assert np.array_equal(a.layers[name].v, b.layers[name].v)
    assert a.layers["twin"].spikes.any()


@pytest.mark.parametrize("kind", ["dense, negative exponent", "conv, graded input"])
def test_fixed_splits_on_lava(kind: str) -> None:
    """Both summing-synapse forms on Lava: Sparse (a dense-fed layer's negative exponent) and Conv."""
    rng = np.random.default_rng(9)
    if kind.startswith("dense"):
        g, limit, x = dense_wide(rng), 8, (rng.random((2, 6, 24)) < 0.4).astype(np.int64)
    else:
        wide = QConv(weight=rng.integers(-128, 128, (2, 4, 3, 3)), input_shape=(4, 3, 3), padding=(1, 1),
                     weight_exp=1, graded=True)
        g, limit, x = skip_graph(rng, (4, 3, 3), wide, True, 5, 2), 18, rng.integers(0, 6, (2, 6, 36))
    out = PassManager([SplitFanIn(), LowerPrimitives()]).run(g, PassContext(target=target_with(input_axons=limit)))
    assert out.nodes["s_wide__total"].weight_exp == g.nodes["s_wide"].weight_exp
    assert_same_layers(g, out, x)
    ref = run_both(out, x)
    assert ref.layers["wide"].spikes.any() and np.abs(ref.layers["s_wide__sums"].spikes).max() > 0
