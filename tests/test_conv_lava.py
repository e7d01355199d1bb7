"""Integer convolution synapses (``QConv``) in Lava's ``Conv`` against the reference simulator: bit-exact spikes,
payloads, u and v of every layer at every step, several samples back to back in one Lava run.

Lava's ``Conv`` differs from snncc's convolution in layout, kernel orientation, exponent handling and int8
parameters (:mod:`snncc.backends.lava.conv_encoding`) and wraps its sum to 24 bits
(:func:`snncc.fixedpoint.conv_accumulate`); the randomized tests cover stride, padding, dilation, groups, non-square
kernels and maps, binary and graded sources, fan-in of two synapses (conv + conv, conv + dense) into one layer, and
netx files of conv chains. Each counts, over its examples, that the features it is about really occurred, so that a
generator drifting into dull cases fails instead of passing.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snncc import fixedpoint as fx
from snncc.backends.lava import netx_expressible, run_netx, write_netx
from snncc.backends.lava.conv_encoding import (
    from_lava_layout,
    lava_conv_args,
    lava_conv_kernel,
    lava_groups,
    max_abs_sum,
    to_lava_layout,
)
from snncc.backends.reference import ReferenceSimulator, SimResult
from snncc.conv import ConvGeometry, conv2d
from snncc.errors import QuantizationError, UnsupportedLayerError
from snncc.families.lif.nodes import QLIF
from snncc.families.multilevel.nodes import QMultiLevel
from snncc.ir import Graph, QConv, QDense
from snncc.verify import compare_results
from tests.graphs import lava_runner

EXAMPLES = 12  # per randomized Lava test (0.5-1.2 s each); each counted feature occurs in >= 99 % of 150 seeds
LAVA_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NETX_SETTINGS = settings(LAVA_SETTINGS, max_examples=max(1, EXAMPLES // 4))  # per netx chain structure
NUMPY_SETTINGS = settings(max_examples=150, deadline=None)


# ---- random geometries ------------------------------------------------------------------------------------------
def pair_of(draw: st.DrawFn, lo: int, hi: int) -> tuple[int, int]:
    return (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))


def random_geometry(draw: st.DrawFn, in_shape: tuple[int, int, int], groups: int | None = None) -> ConvGeometry:
    """stride 1-2, padding 0-2, dilation 1-2, kernel 1-3 (per axis), groups 1-2, C_out 2-4; what does not fit the
    map falls back to dilation 1, then a 1x1 kernel (always valid)."""
    g = groups or (2 if in_shape[0] % 2 == 0 and draw(st.integers(0, 2)) else 1)
    c_out = 2 * draw(st.integers(1, 2)) if g == 2 else draw(st.integers(2, 4))
    kernel, stride = pair_of(draw, 1, 3), pair_of(draw, 1, 2)
    padding, dilation = pair_of(draw, 0, 2), pair_of(draw, 1, 2)
    for k, d in ((kernel, dilation), (kernel, (1, 1)), ((1, 1), (1, 1))):
        try:
            return ConvGeometry(in_shape, c_out, k, stride, padding, d, g)
        except ValueError:
            continue
    raise AssertionError("a 1x1 kernel always fits")


def random_map(draw: st.DrawFn) -> tuple[int, int, int]:
    """2-4 channels of 4x4 .. 7x7 (not necessarily square)."""
    return (draw(st.integers(2, 4)), draw(st.integers(4, 7)), draw(st.integers(4, 7)))


def random_conv(draw: st.DrawFn, rng: np.random.Generator, in_shape: tuple[int, int, int], graded: bool = False,
                geom: ConvGeometry | None = None) -> QConv:
    """Mostly excitatory 8-bit mantissas, exponent 0-2."""
    geom = geom or random_geometry(draw, in_shape)
    return QConv(weight=rng.integers(-80, 128, size=geom.weight_shape), input_shape=in_shape, stride=geom.stride,
                 padding=geom.padding, dilation=geom.dilation, groups=geom.groups,
                 weight_exp=draw(st.integers(0, 2)), graded=graded)


def matching_geometry(rng: np.random.Generator, in_shape: tuple[int, int, int],
                      out_shape: tuple[int, int, int]) -> ConvGeometry:
    """A second, usually different, geometry from ``in_shape`` with output ``out_shape`` (for fan-in): per axis a
    random (kernel, stride, padding, dilation) in the usual ranges that gives the same output length."""
    per_axis = []
    for n, out in zip(in_shape[1:], out_shape[1:], strict=True):
        fits = [(k, s, p, d) for k in (1, 2, 3) for s in (1, 2) for p in (0, 1, 2) for d in (1, 2)
                if (n + 2 * p - d * (k - 1) - 1) // s + 1 == out and n + 2 * p >= d * (k - 1) + 1]
        if not fits:  # stride 1, no dilation: a kernel as wide as needed
            p = max(0, -(-(out - n) // 2))
            fits = [(n + 2 * p - out + 1, 1, p, 1)]
        per_axis.append(fits[int(rng.integers(len(fits)))])
    (ky, sy, py, dy), (kx, sx, px, dx) = per_axis
    return ConvGeometry(in_shape, out_shape[0], (ky, kx), (sy, sx), (py, px), (dy, dx), 1)


def typical_drive(node: QConv | QDense, payload: int) -> float:
    """Mean |synaptic input| for a source sending ``payload`` on ~30 % of its neurons (to place thresholds)."""
    probe = (np.random.default_rng(0).random((4, node.in_shape[0])) < 0.3) * payload
    if isinstance(node, QConv):
        acc = fx.conv_accumulate(node.weight, probe, node.weight_exp, True, node.geometry)
    else:
        acc = fx.synapse_accumulate(node.weight, probe, node.weight_exp, True)
    return float(np.abs(acc).mean()) + 1.0


def random_qlif(draw: st.DrawFn, rng: np.random.Generator, n: int, drive: float) -> QLIF:
    """Threshold between 0.2 and 3 typical drives; stock (hard reset) or custom (soft reset) LIF."""
    vth = int(np.clip(drive * draw(st.sampled_from([0.2, 0.7, 1.5, 3.0])), 1, (1 << 17) - 1))
    return QLIF(du=draw(st.sampled_from([4095, 2000, int(rng.integers(0, 4096))])),
                dv=draw(st.sampled_from([0, 500, int(rng.integers(0, 4097))])), vth=vth,
                bias_mant=rng.integers(-20, 20, size=n), bias_exp=rng.integers(0, 4, size=n),
                reset=draw(st.sampled_from(["zero", "subtract"])))


def random_multilevel(draw: st.DrawFn, rng: np.random.Generator, n: int, drive: float) -> QMultiLevel:
    """Quantum ``2**theta_exp`` near a typical drive << 6, so that payloads 0 .. levels all occur."""
    theta_exp = max(int(np.log2(drive * 64)) - draw(st.integers(1, 3)), 0)
    return QMultiLevel(du=draw(st.sampled_from([4095, int(rng.integers(0, 4096))])),
                       dv=draw(st.sampled_from([0, int(rng.integers(0, 4097))])),
                       bias_mant=np.zeros(n, np.int64), bias_exp=np.zeros(n, np.int64), theta_exp=theta_exp,
                       offset=int(rng.integers(-(1 << theta_exp) // 2, (1 << theta_exp) // 2 + 1)),
                       levels=draw(st.integers(2, 7)))


def build(in_shape: tuple[int, int, int], layers: dict[str, object], synapses: list[tuple[str, str, str, object]],
          graded_input: bool, max_value: int) -> Graph:
    """Input (flat CHW map) + neuron ``layers`` + ``synapses`` (name, source, target, node) + Output of the last
    layer."""
    n_in = int(np.prod(in_shape))
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([n_in])}), **layers}
    edges = []
    for name, src, dst, node in synapses:
        nodes[name] = node
        edges += [(src, name), (name, dst)]
    last = list(layers)[-1]
    nodes["output"] = nir.Output(output_type={"output": np.array([layers[last].in_shape[0]])})
    edges.append((last, "output"))
    kind = {"kind": "graded", "max_value": max_value} if graded_input else {"kind": "spikes"}
    return Graph(nodes=nodes, edges=edges, metadata={"input": kind})


def random_inputs(rng: np.random.Generator, graph: Graph, draw: st.DrawFn, max_value: int) -> np.ndarray:
    n = int(graph.nodes["input"].input_type["input"][0])
    shape = (draw(st.integers(1, 3)), draw(st.integers(2, 8)), n)
    payload = rng.integers(1, max_value + 1, size=shape)
    return (rng.random(shape) < draw(st.sampled_from([0.2, 0.5]))) * payload


def run_both(graph: Graph, x: np.ndarray) -> SimResult:
    """Reference and Lava on the same inputs; asserts bit-exact spikes, u and v of every layer (and equal operation
    counts); returns the reference."""
    ref = ReferenceSimulator(graph).run(x, record_states=True)
    lava = lava_runner(graph).run(x, record_states=True)
    cmp = compare_results("reference", ref, "lava", lava, states=True)
    assert cmp.equal, cmp.first_mismatch
    assert len(cmp.checked) == 3 * len(ref.layers)  # spikes, u and v of every layer
    assert (ref.timesteps, ref.batch, ref.latency) == (lava.timesteps, lava.batch, lava.latency)
    assert {k: c.to_dict() for k, c in lava.counts.items()} == {k: c.to_dict() for k, c in ref.counts.items()}
    return ref


class Seen:
    """Counts, over a randomized test's examples, how often each feature of interest occurred."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def note(self, what: str, happened: bool) -> None:
        self.counts[what] = self.counts.get(what, 0) + bool(happened)

    def note_geometry(self, node: QConv) -> None:
        self.note("stride 2", max(node.stride) == 2)
        self.note("padding", max(node.padding) > 0)
        self.note("dilation 2", max(node.dilation) == 2)
        self.note("groups 2", node.groups == 2)
        self.note("non-square kernel", node.weight.shape[2] != node.weight.shape[3])

    def check(self, *whats: str) -> None:
        missing = [w for w in whats if not self.counts.get(w)]
        assert not missing, f"no example exercised {missing}: {self.counts}"


GEOMETRY = ("stride 2", "padding", "dilation 2", "groups 2", "non-square kernel")


def run_examples(test: object, cases: st.SearchStrategy) -> None:
    given(cases)(LAVA_SETTINGS(test))()


# ---- the kernel and layout conversion against Lava's own convolution (numpy only) -------------------------------
@st.composite
def direct_cases(draw: st.DrawFn) -> tuple[ConvGeometry, np.ndarray, np.ndarray, int]:
    geom = random_geometry(draw, random_map(draw))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(0, draw(st.sampled_from([1, 15])) + 1, size=(1, geom.in_size))
    return geom, rng.integers(-128, 128, size=geom.weight_shape), x, draw(st.integers(0, 3))


def lava_conv_output(geom: ConvGeometry, w: np.ndarray, e: int, x: np.ndarray) -> np.ndarray:
    """What ``PyConvModelFixed`` computes (``lava.proc.conv.utils.conv``, before the wrap) from the converted kernel
    and layout, back in snncc's flat CHW order."""
    from snncc.compat.lava import import_lava

    import_lava()
    from lava.proc.conv import utils

    args = lava_conv_args(w, e, geom.in_shape, geom.stride, geom.padding, geom.dilation, geom.groups)
    kernel = args["weight"]
    assert args["input_shape"] == to_lava_layout(x, geom.in_shape).shape
    out = utils.conv(to_lava_layout(x, geom.in_shape).astype(np.int32), kernel, kernel.shape[1:3], args["stride"],
                     args["padding"], args["dilation"], args["groups"])
    assert out.shape == tuple(reversed(geom.out_shape))
    return from_lava_layout(out)


@pytest.mark.lava
@NUMPY_SETTINGS
@given(direct_cases())
def test_encoding_with_lava_conv_equals_conv2d(case: tuple[ConvGeometry, np.ndarray, np.ndarray, int]) -> None:
    """Lava's convolution on the converted kernel and layout gives snncc's cross-correlation times
    ``2**weight_exp``."""
    geom, w, x, e = case
    np.testing.assert_array_equal(lava_conv_output(geom, w, e, x[0]), conv2d(x, w, geom)[0] << e)
    assert np.abs(conv2d(x, w, geom)[0] << e).max(initial=0) <= max_abs_sum(w, e, x.max(initial=1))


@pytest.mark.lava
@pytest.mark.parametrize(("channels", "per_group", "lava"), [(128, 1, 64), (130, 1, 65), (131, 1, 1), (256, 1, 64),
                                                             (254, 2, 127)])
def test_more_groups_than_lavas_int8_var_are_regrouped(channels: int, per_group: int, lava: int) -> None:
    """Depthwise (and 2-channel-group) convolutions with more than 127 groups run with the largest divisor that
    fits, the kernel widened with zeros; the result is unchanged."""
    groups = channels // per_group
    assert lava_groups(groups) == lava
    geom = ConvGeometry((channels, 2, 2), channels, (3, 3), padding=(1, 1), groups=groups)
    rng = np.random.default_rng(channels)
    w, x = rng.integers(-128, 128, size=geom.weight_shape), rng.integers(0, 4, size=(1, geom.in_size))
    np.testing.assert_array_equal(lava_conv_output(geom, w, 1, x[0]), conv2d(x, w, geom)[0] << 1)


def test_conv_accumulate_wraps_to_24_bits() -> None:
    """The sum wraps into [-2**23, 2**23) (Lava's ``signed_clamp(acc, 24)``), after the exponent."""
    one = ConvGeometry((1, 1, 1), 1, (1, 1))
    x = np.array([[1 << 23], [(1 << 23) - 1], [-(1 << 23)], [-(1 << 23) - 1], [3 << 23]])
    got = fx.conv_accumulate(np.ones((1, 1, 1, 1)), x, 0, True, one)[:, 0]
    np.testing.assert_array_equal(got, [-(1 << 23), (1 << 23) - 1, -(1 << 23), (1 << 23) - 1, -(1 << 23)])
    row = ConvGeometry((1, 1, 3), 1, (1, 3))
    w = np.full((1, 1, 1, 3), 127)
    assert fx.conv_accumulate(w, np.full((1, 3), 255), 7, True, row)[0, 0] == 127 * 128 * 765 - (1 << 24)
    assert fx.conv_accumulate(w, np.full((1, 3), 255), 7, False, row)[0, 0] == 127 * 128 * 3  # binary: counts 1


def test_kernel_encoding_rejects_negative_exponent() -> None:
    with pytest.raises(ValueError, match="weight_exp=-1"):
        lava_conv_kernel(np.ones((1, 1, 1, 1), np.int64), -1)


# ---- conv -> neuron -> conv -> QLIF -> QDense -> QLIF chains ----------------------------------------------------
@st.composite
def chain_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    """Binary or graded input; the first neuron layer is a QLIF or a QMultiLevel (then the second convolution is
    graded)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    in_shape = random_map(draw)
    graded_input = draw(st.booleans())
    max_value = draw(st.integers(2, 7)) if graded_input else 1
    c0 = random_conv(draw, rng, in_shape, graded=graded_input)
    shape0 = c0.geometry.out_shape
    n0 = c0.geometry.out_size
    multilevel = draw(st.integers(0, 2)) > 0
    first = (random_multilevel(draw, rng, n0, typical_drive(c0, max_value)) if multilevel
             else random_qlif(draw, rng, n0, typical_drive(c0, max_value)))
    c1 = random_conv(draw, rng, shape0, graded=multilevel)
    n1 = c1.geometry.out_size
    lif1 = random_qlif(draw, rng, n1, typical_drive(c1, first.levels if multilevel else 1))
    n2 = draw(st.integers(2, 8))
    d2 = QDense(weight=rng.integers(-60, 128, size=(n2, n1)), weight_exp=draw(st.integers(-2, 1)))
    layers = {"l0": first, "l1": lif1, "l2": random_qlif(draw, rng, n2, typical_drive(d2, 1))}
    syn = [("c0", "input", "l0", c0), ("c1", "l0", "l1", c1), ("d2", "l1", "l2", d2)]
    graph = build(in_shape, layers, syn, graded_input, max_value)
    return graph, random_inputs(rng, graph, draw, max_value)


@pytest.mark.lava
def test_conv_chains_bit_exact() -> None:
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        ref = run_both(graph, x)
        for name in ("c0", "c1"):
            seen.note_geometry(graph.nodes[name])
        seen.note("graded input", graph.nodes["c0"].graded and x.max() > 1)
        if isinstance(graph.nodes["l0"], QMultiLevel):
            seen.note("graded payload > 1 into a conv", ref.layers["l0"].spikes.max() > 1)
        seen.note("second conv layer spikes", ref.layers["l1"].spikes.any())
        seen.note("last layer spikes", ref.layers["l2"].spikes.any())

    run_examples(check, chain_cases())
    seen.check(*GEOMETRY, "graded input", "graded payload > 1 into a conv", "second conv layer spikes",
               "last layer spikes")


# ---- two synapses of equal depth into one neuron layer ----------------------------------------------------------
@st.composite
def fan_in_cases(draw: st.DrawFn, pair: str) -> tuple[Graph, np.ndarray]:
    """``input -> c0 -> l0``, then ``l0 -> {a, b} -> l1`` with (a, b) = (conv, conv of another geometry) or
    (conv, dense) as ``pair`` says, the first layer binary (QLIF) or graded (QMultiLevel); or both synapses straight
    from the input."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    in_shape = random_map(draw)
    graded_input = draw(st.booleans())
    max_value = draw(st.integers(2, 5)) if graded_input else 1
    from_input = draw(st.booleans())
    layers: dict[str, object] = {}
    syn: list[tuple[str, str, str, object]] = []
    if from_input:
        src, src_shape, graded, payload = "input", in_shape, graded_input, max_value
    else:
        c0 = random_conv(draw, rng, in_shape, graded=graded_input)
        multilevel = draw(st.booleans())
        drive = typical_drive(c0, max_value)
        layers["l0"] = (random_multilevel(draw, rng, c0.geometry.out_size, drive) if multilevel
                        else random_qlif(draw, rng, c0.geometry.out_size, drive))
        syn.append(("c0", "input", "l0", c0))
        src, src_shape, graded = "l0", c0.geometry.out_shape, multilevel
        payload = layers["l0"].levels if multilevel else 1
    a = random_conv(draw, rng, src_shape, graded=graded)
    n = a.geometry.out_size
    if pair == "conv+conv":
        b = random_conv(draw, rng, src_shape, graded=graded,
                        geom=matching_geometry(rng, src_shape, a.geometry.out_shape))
    else:
        b = QDense(weight=rng.integers(-100, 128, size=(n, int(np.prod(src_shape)))),
                   weight_exp=draw(st.integers(-1, 1)), graded=graded)
    layers["l1"] = random_qlif(draw, rng, n, typical_drive(a, payload) + typical_drive(b, payload))
    syn += [("a", src, "l1", a), ("b", src, "l1", b)]
    graph = build(in_shape, layers, syn, graded_input, max_value)
    return graph, random_inputs(rng, graph, draw, max_value)


@pytest.mark.lava
@pytest.mark.parametrize("pair", ["conv+conv", "conv+dense"])
def test_fan_in_of_two_synapses_bit_exact(pair: str) -> None:
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        ref = run_both(graph, x)
        assert lava_runner(graph).gap == 0  # equal depths: no silent steps between samples
        a, b = graph.nodes["a"], graph.nodes["b"]
        assert isinstance(b, QConv if pair == "conv+conv" else QDense)
        seen.note_geometry(a)
        seen.note("different geometries", isinstance(b, QDense) or b.weight.shape != a.weight.shape)
        seen.note("graded fan-in", a.graded)
        seen.note("fan-in layer spikes", ref.layers["l1"].spikes.any())

    run_examples(check, fan_in_cases(pair))
    seen.check("stride 2", "padding", "different geometries", "graded fan-in", "fan-in layer spikes")


# ---- the 24-bit wrap in Lava ------------------------------------------------------------------------------------
@pytest.mark.lava
def test_conv_sum_wraps_in_lava_as_in_the_reference() -> None:
    """Graded payloads up to 255 through a 1x3 kernel of 127 << 7: a full row sums to 12435840 >= 2**23, which Lava's
    Conv delivers as 12435840 - 2**24; the reference wraps identically (u records it: with du = 4095 the current is
    this step's input, ``u = wrap_current(a << 6)``)."""
    conv = QConv(weight=np.full((1, 1, 1, 3), 127), input_shape=(1, 2, 3), weight_exp=7, graded=True)
    lif = QLIF(du=4095, dv=0, vth=(1 << 17) - 1, bias_mant=np.zeros(2), bias_exp=np.zeros(2))
    graph = build((1, 2, 3), {"l0": lif}, [("c0", "input", "l0", conv)], graded_input=True, max_value=255)
    x = np.zeros((2, 3, 6), np.int64)
    x[:, 0] = [255, 255, 255, 0, 0, 1]  # row 0 wraps, row 1 does not
    x[:, 1] = [200, 200, 200, 255, 255, 254]  # 9753600 wraps; 127 * 128 * 764 = 12419584 wraps
    x[1, 2] = [128, 1, 0, 0, 0, 0]  # 2097152 + 16256: no wrap
    ref = run_both(graph, x)
    unwrapped = conv2d(x.reshape(-1, 6), conv.weight, conv.geometry).reshape(2, 3, 2) << 7
    assert unwrapped.max() >= 1 << 23, "the test must overflow the 24-bit accumulator"
    wrapped = (unwrapped + (1 << 23)) % (1 << 24) - (1 << 23)
    assert wrapped[0, 0, 0] == 12435840 - (1 << 24) and wrapped[1, 2, 0] == 127 * 128 * 129
    u = ref.layers["l0"].u
    np.testing.assert_array_equal(u, fx.wrap_current(wrapped << 6))
    assert np.any(u != fx.wrap_current(unwrapped << 6))


@pytest.mark.lava
def test_depthwise_conv_with_more_than_127_groups_in_lava() -> None:
    """A 3x3 depthwise convolution over 130 channels of 2x2 maps, then a 1x1 depthwise one over the same 520 values
    seen as 520 channels of 1x1 maps (as the frontend's relay stages are): without regrouping, groups 130 and 520
    would wrap in Lava's int8 ``groups`` Var (to -126 and 8)."""
    rng = np.random.default_rng(8)
    c0 = QConv(weight=rng.integers(-40, 128, size=(130, 1, 3, 3)), input_shape=(130, 2, 2), padding=(1, 1),
               groups=130, weight_exp=1)
    c1 = QConv(weight=rng.integers(1, 128, size=(520, 1, 1, 1)), input_shape=(520, 1, 1), groups=520)
    layers = {"l0": QLIF(du=4095, dv=200, vth=300, bias_mant=np.zeros(520), bias_exp=np.zeros(520)),
              "l1": QLIF(du=4095, dv=0, vth=60, bias_mant=np.zeros(520), bias_exp=np.zeros(520), reset="subtract")}
    graph = build((130, 2, 2), layers, [("c0", "input", "l0", c0), ("c1", "l0", "l1", c1)], False, 1)
    ref = run_both(graph, (rng.random((2, 4, 520)) < 0.4).astype(np.int64))
    assert ref.layers["l0"].spikes.any() and ref.layers["l1"].spikes.any()


# ---- what the Lava backend refuses ------------------------------------------------------------------------------
def single_conv_graph(conv: QConv, max_value: int = 1) -> Graph:
    n = conv.geometry.out_size
    lif = QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n))
    return build(conv.input_shape, {"l0": lif}, [("conv0", "input", "l0", conv)], graded_input=max_value > 1,
                 max_value=max_value)


def test_a_negative_conv_exponent_runs_as_sparse_only_where_no_sum_wraps() -> None:
    """Lava's Conv cannot apply a floor shift: a convolution with weight_exp < 0 (split-fan-in's sum of partial sums
    into a dense-fed layer) runs as Lava's Sparse of its matrix, which does not wrap its sum, so it is bit-exact where
    no sum can reach the 24-bit wrap and refused where one could."""
    graph = single_conv_graph(QConv(weight=np.full((2, 1, 3, 3), 90), input_shape=(1, 4, 4), weight_exp=-1))
    x = (np.random.default_rng(0).random((2, 5, 16)) < 0.5).astype(np.int64)
    assert run_both(graph, x).layers["l0"].spikes.any()
    wide = QConv(weight=np.full((1, 64, 3, 3), 127), input_shape=(64, 3, 3), weight_exp=-1, graded=True)
    with pytest.raises(QuantizationError, match="weight_exp=-1 < 0 runs as Lava's Sparse.*can reach the wrap") as exc:
        lava_runner(single_conv_graph(wide, max_value=255))
    assert exc.value.layer == "conv0"


def test_runner_rejects_conv_sums_beyond_int32() -> None:
    """576 taps of 127 << 7 at payload 255 can sum to 2.1e9 >= 2**31, which Lava's int32 cast would not keep; the
    same kernel on binary input is fine."""
    conv = QConv(weight=np.full((1, 64, 3, 3), 127), input_shape=(64, 3, 3), weight_exp=7, graded=True)
    with pytest.raises(QuantizationError, match="2\\*\\*31") as exc:
        lava_runner(single_conv_graph(conv, max_value=255))
    assert exc.value.layer == "conv0"
    conv.graded = False
    lava_runner(single_conv_graph(conv))


def test_netx_refuses_a_conv_after_a_dense_layer(tmp_path) -> None:
    conv = QConv(weight=np.ones((1, 1, 2, 2)), input_shape=(1, 3, 3))
    lif = lambda n: QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n))  # noqa: E731
    graph = build((1, 3, 3), {"l0": lif(9), "l1": lif(4)},
                  [("d0", "input", "l0", QDense(weight=np.ones((9, 9)))), ("conv1", "l0", "l1", conv)], False, 1)
    reason = netx_expressible(graph)
    assert reason is not None and "conv1" in reason and "dense" in reason
    with pytest.raises(UnsupportedLayerError) as exc:
        write_netx(graph, tmp_path / "net.h5")
    assert exc.value.layer == "conv1"


def test_netx_refuses_a_conv_that_reshapes_the_previous_map() -> None:
    """netx hands a conv layer the previous conv layer's (W, H, C) map as is; a QConv reading the same values as
    another (C, H, W) shape is not expressible."""
    c0 = QConv(weight=np.ones((2, 1, 1, 1)), input_shape=(1, 4, 4))  # -> (2, 4, 4)
    c1 = QConv(weight=np.ones((1, 4, 1, 1)), input_shape=(4, 2, 4))  # the same 32 values read as (4, 2, 4)
    lif = lambda n: QLIF(du=4095, dv=0, vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n))  # noqa: E731
    graph = build((1, 4, 4), {"l0": lif(32), "l1": lif(8)}, [("c0", "input", "l0", c0), ("c1", "l0", "l1", c1)],
                  False, 1)
    reason = netx_expressible(graph)
    assert reason is not None and "c1" in reason and "(4, 2, 4)" in reason


def test_runner_rejects_parameters_beyond_lavas_int8_vars() -> None:
    conv = QConv(weight=np.ones((1, 1, 1, 1)), input_shape=(1, 1, 1), padding=(0, 128))
    with pytest.raises(QuantizationError, match="padding") as exc:
        lava_runner(single_conv_graph(conv))
    assert exc.value.layer == "conv0"


# ---- netx export of conv chains ---------------------------------------------------------------------------------
def netx_qlif(rng: np.random.Generator, n: int, drive: float, draw: st.DrawFn) -> QLIF:
    """A QLIF netx expresses: hard reset, no floor, v_init 0, biases multiples of 64."""
    vth = int(np.clip(drive * draw(st.sampled_from([0.3, 1.0, 2.5])), 1, (1 << 17) - 1))
    return QLIF(du=draw(st.sampled_from([4095, int(rng.integers(0, 4096))])), dv=int(rng.integers(0, 4097)), vth=vth,
                bias_mant=rng.integers(-3, 4, size=n), bias_exp=np.full(n, 6))


@st.composite
def netx_cases(draw: st.DrawFn, conv_layers: int, graded_input: bool) -> tuple[Graph, np.ndarray]:
    """input -> ``conv_layers`` x (conv -> QLIF) -> dense -> QLIF, binary or graded input."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    in_shape = random_map(draw)
    max_value = draw(st.integers(2, 7)) if graded_input else 1
    layers: dict[str, object] = {}
    syn: list[tuple[str, str, str, object]] = []
    src, shape, payload = "input", in_shape, max_value
    for i in range(conv_layers):
        conv = random_conv(draw, rng, shape, graded=graded_input and i == 0)
        layers[f"l{i}"] = netx_qlif(rng, conv.geometry.out_size, typical_drive(conv, payload), draw)
        syn.append((f"c{i}", src, f"l{i}", conv))
        src, shape, payload = f"l{i}", conv.geometry.out_shape, 1
    n = draw(st.integers(2, 6))
    dense = QDense(weight=rng.integers(-128, 128, size=(n, int(np.prod(shape)))))
    layers["out"] = netx_qlif(rng, n, typical_drive(dense, 1), draw)
    syn.append(("d", src, "out", dense))
    graph = build(in_shape, layers, syn, graded_input, max_value)
    return graph, random_inputs(rng, graph, draw, max_value)


@pytest.mark.lava
def test_netx_conv_chains_match_the_reference(tmp_path) -> None:
    """The netx file of a conv chain, loaded by ``netx.hdf5.Network`` and run in Lava, spikes as the reference,
    with the same u and v (netx's (W, H, C) maps put back in CHW order)."""
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        assert netx_expressible(graph) is None
        ref = ReferenceSimulator(graph).run(x, record_states=True)
        got = run_netx(write_netx(graph, tmp_path / "net.h5"), graph, x, record_states=True)
        cmp = compare_results("reference", ref, "netx", got, states=True)
        assert cmp.equal, cmp.first_mismatch
        seen.note("two conv layers", "c1" in graph.nodes)
        seen.note("graded input", graph.nodes["c0"].graded)
        seen.note("output spikes", ref.layers["out"].spikes.any())
        for node in graph.nodes.values():
            if isinstance(node, QConv):
                seen.note_geometry(node)

    # every structure gets its share of the examples; the geometries and activity are drawn
    for conv_layers in (1, 2):
        for graded_input in (False, True):
            given(netx_cases(conv_layers, graded_input))(NETX_SETTINGS(lambda case: check(case)))()
    seen.check("two conv layers", "graded input", "output spikes", "stride 2", "padding")
