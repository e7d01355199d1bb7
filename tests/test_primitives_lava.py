"""The seed-neuron primitives in Lava against the reference simulator: bit-exact payloads/spikes and every recorded
state (u and v; m and v for AR-LIF) at every step of every layer, several samples back to back in one Lava run.

Each randomized test also counts, over its examples, that the behaviour it is about really happened (a floor hit,
a payload at ``levels``, a sign change of m, an inhibitory delivery), so that a generator drifting into dull cases
fails instead of passing quietly.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snncc.backends.lava import netx_expressible, write_netx
from snncc.backends.reference import ReferenceSimulator, SimResult
from snncc.errors import GraphError, QuantizationError, UnsupportedLayerError
from snncc.families.arlif.nodes import QARLIF
from snncc.families.lif.nodes import QLIF
from snncc.families.multilevel.nodes import QMultiLevel
from snncc.ir import Graph, QDense
from snncc.ir.keys import RECURRENT as RECURRENT_KEY
from snncc.ir.nodes import RESET_MODES
from tests.graphs import lava_runner

EXAMPLES = 15  # per randomized test; each condition a test counts occurs in >= 58% of examples (measured)
LAVA_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- graph builders ---------------------------------------------------------------------------------------------
def build(n_in: int, layers: dict[str, object], synapses: list[tuple[str, str, str, QDense]], *,
          graded_input: bool = False, max_value: int = 1, output: str | None = None) -> Graph:
    """Input(n_in) + neuron ``layers`` + ``synapses`` (name, source, target, QDense) + Output of ``output`` (by
    default the last layer)."""
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([n_in])}), **layers}
    edges = []
    for name, src, dst, dense in synapses:
        nodes[name] = dense
        edges += [(src, name), (name, dst)]
    out = output or list(layers)[-1]
    nodes["output"] = nir.Output(output_type={"output": np.array([layers[out].in_shape[0]])})
    edges.append((out, "output"))
    kind = {"kind": "graded", "max_value": max_value} if graded_input else {"kind": "spikes"}
    return Graph(nodes=nodes, edges=edges, metadata={"input": kind})


def dense(rng: np.random.Generator, n_out: int, n_in: int, lo: int = -128, hi: int = 127, exp: int = 0,
          graded: bool = False, recurrent: bool = False) -> QDense:
    meta = {RECURRENT_KEY: True} if recurrent else {}
    return QDense(weight=rng.integers(lo, hi, size=(n_out, n_in), endpoint=True), weight_exp=exp, graded=graded,
                  metadata=meta)


def random_qlif(draw: st.DrawFn, rng: np.random.Generator, n: int) -> QLIF:
    """A QLIF that needs snncc's custom LIF most of the time (floor, initial voltage, the resets, v >= vth)."""
    vth = int(rng.integers(1, 1 << draw(st.integers(1, 12))))
    floor = draw(st.sampled_from(["none", "zero", "negative", "positive"]))
    v_min = {"none": None, "zero": 0, "negative": -int(rng.integers(1, 40 * (vth << 6))),
             "positive": int(rng.integers(1, vth << 6))}[floor]
    v_init = (rng.integers(-2 * (vth << 6), 2 * (vth << 6), size=n) if draw(st.integers(0, 3))
              else np.zeros(n, np.int64))
    bm_bits = draw(st.integers(0, 12))
    return QLIF(du=draw(st.sampled_from([-1, 0, 4095, int(rng.integers(0, 4096))])),
                dv=draw(st.sampled_from([0, 4096, int(rng.integers(0, 4097))])), vth=vth,
                bias_mant=rng.integers(-(1 << bm_bits) // 2, max((1 << bm_bits) // 2, 1), size=n),
                bias_exp=rng.integers(0, 8, size=n), reset=draw(st.sampled_from(RESET_MODES)),
                v_min=v_min, v_init=v_init, fire_at_threshold=draw(st.booleans()),
                current_bias=(rng.integers(-(1 << bm_bits), 1 << bm_bits, size=n, endpoint=True)
                              if draw(st.booleans()) else None))


def random_multilevel(draw: st.DrawFn, rng: np.random.Generator, n: int) -> QMultiLevel:
    """Bias between -0.5 and 1 quantum per step, so that payloads between 0 and ``levels`` are common."""
    k = int(rng.integers(0, 13))
    bias_exp = max(k - 9, 0)
    return QMultiLevel(du=draw(st.sampled_from([-1, 4095, int(rng.integers(0, 4096))])),
                       dv=draw(st.sampled_from([0, int(rng.integers(0, 4097))])),
                       bias_mant=rng.integers(-(1 << k) // 2, (1 << k) + 1, size=n) >> bias_exp,
                       bias_exp=np.full(n, bias_exp),
                       theta_exp=k, offset=int(rng.integers(-(1 << k), (1 << k) + 1)),
                       levels=int(rng.integers(1, 16)))


def random_arlif(draw: st.DrawFn, rng: np.random.Generator, n: int) -> QARLIF:
    """Bias near the threshold, so that input spikes move the neuron across it (spikes and silence both happen)."""
    vth = int(rng.integers(0, 3 * 4096))
    # the power-of-two input scaling, and free ones as the quantizer picks them: per-neuron gains (here between half
    # the largest and the largest) and a rounding right shift
    gain, shift = draw(st.sampled_from([(1, 0), (1, 3), (1, 6), (1, 8), (3710, -12), (3184, -7), (5, -1), (3, 2)]))
    gain = rng.integers(max(1, gain // 2), gain + 1, size=n)
    return QARLIF(dv=draw(st.sampled_from([0, 2048, 4096, int(rng.integers(0, 4097))])), vth=vth,
                  amp=draw(st.integers(-4096, 4096)), gate=draw(st.integers(-8192, 8192)),
                  bias=vth // 2 + rng.integers(-8192, 4096, size=n), input_shift=shift, input_gain=gain)


def inputs(rng: np.random.Generator, batch: int, timesteps: int, n: int, max_value: int = 1,
           rate: float = 0.4) -> np.ndarray:
    if max_value > 1:
        return rng.integers(0, max_value + 1, size=(batch, timesteps, n))
    return (rng.random((batch, timesteps, n)) < rate).astype(np.int64)


def run_both(graph: Graph, x: np.ndarray) -> SimResult:
    """Reference and Lava on the same inputs; asserts bit-exact traces and counts; returns the reference."""
    ref = ReferenceSimulator(graph).run(x, record_states=True)
    lava = lava_runner(graph).run(x, record_states=True)
    assert ref.layers.keys() == lava.layers.keys()
    assert (ref.timesteps, ref.batch, ref.latency) == (lava.timesteps, lava.batch, lava.latency)
    for name, r in ref.layers.items():
        got = lava.layers[name]
        assert got.latency == r.latency, name
        assert got.spikes.dtype == r.spikes.dtype, name
        for what in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(got, what), getattr(r, what), err_msg=f"{name}.{what}")
    assert {k: c.to_dict() for k, c in lava.counts.items()} == {k: c.to_dict() for k, c in ref.counts.items()}
    return ref


class Seen:
    """Counts, over a randomized test's examples, how often each behaviour of interest occurred."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def note(self, what: str, happened: bool) -> None:
        self.counts[what] = self.counts.get(what, 0) + bool(happened)

    def check(self, *whats: str) -> None:
        missing = [w for w in whats if not self.counts.get(w)]
        assert not missing, f"no example exercised {missing}: {self.counts}"


def run_examples(test: object, cases: st.SearchStrategy) -> None:
    """Run ``test`` on hypothesis-generated ``cases`` (the test records what it saw into a :class:`Seen`)."""
    given(cases)(LAVA_SETTINGS(test))()


# ---- QLIF with floor, initial voltage, both resets --------------------------------------------------------------
@st.composite
def qlif_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_layers = draw(st.integers(1, 3))
    sizes = [int(s) for s in rng.integers(1, 12, size=n_layers + 1)]
    layers = {f"lif{i}": random_qlif(draw, rng, sizes[i + 1]) for i in range(n_layers)}
    syn = [(f"d{i}", "input" if i == 0 else f"lif{i - 1}", f"lif{i}",
            dense(rng, sizes[i + 1], sizes[i], exp=draw(st.integers(-2, 2)))) for i in range(n_layers)]
    batch, timesteps = int(rng.integers(1, 4)), draw(st.integers(1, 10))
    return build(sizes[0], layers, syn), inputs(rng, batch, timesteps, sizes[0], rate=draw(st.sampled_from([.2, .6])))


@pytest.mark.lava
def test_custom_lif_bit_exact() -> None:
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        ref = run_both(graph, x)
        runner = lava_runner(graph)
        for name, node in graph.nodes.items():
            if isinstance(node, QLIF):
                assert runner.process_kind(name) == ("LIFReset" if node.stock else "SnnccLIF")
                seen.note("custom", not node.stock)
                if node.v_min is not None:
                    seen.note("floor hit", np.any(ref.layers[name].v == node.v_min))
                if np.any(node.v_init):
                    seen.note("v_init, sample > 0", ref.batch > 1)
                seen.note("soft reset spike", node.reset == "subtract" and ref.layers[name].spikes.any())
                spiked_twice = ref.layers[name].spikes.sum(axis=1).max() > 1
                seen.note("reset after the leak, 2 spikes", node.reset == "subtract_after_leak" and spiked_twice)
                seen.note("v >= vth spike", node.fire_at_threshold and ref.layers[name].spikes.any())
                seen.note("current bias, u moves", bool(np.any(node.current_bias)) and ref.layers[name].u.any())

    run_examples(check, qlif_cases())
    seen.check("custom", "floor hit", "v_init, sample > 0", "soft reset spike", "reset after the leak, 2 spikes",
               "v >= vth spike", "current bias, u moves")


@pytest.mark.lava
@pytest.mark.parametrize("reset", RESET_MODES)
def test_voltage_exactly_at_threshold(reset: str) -> None:
    """A bias of exactly ``vth << 6`` per step puts v on the threshold at the first step: a neuron with
    ``fire_at_threshold`` fires there, the other not; Lava's process agrees with the reference in every step."""
    vth = 10
    layers = {f"lif{i}": QLIF(du=4095, dv=0, vth=vth, bias_mant=np.full(2, vth), bias_exp=np.full(2, 6),
                              reset=reset, fire_at_threshold=bool(i)) for i in range(2)}
    graph = build(2, layers, [(f"d{i}", "input", f"lif{i}", QDense(weight=np.zeros((2, 2), np.int64)))
                              for i in range(2)])
    ref = run_both(graph, np.zeros((1, 4, 2)))
    strict, inclusive = ref.layers["lif0"].spikes[0, :, 0], ref.layers["lif1"].spikes[0, :, 0]
    assert not strict[0] and inclusive[0] and strict[1]


@pytest.mark.lava
def test_floor_and_initial_voltage_in_lava() -> None:
    """Hand-made: a KLIF-style layer (floor 0, hard reset) pushed down by inhibitory input, after a layer that starts
    every sample near threshold (v_init) with soft reset, three samples back to back."""
    rng = np.random.default_rng(3)
    layers = {"lif0": QLIF(du=4095, dv=100, vth=20, bias_mant=np.full(6, 10), bias_exp=np.full(6, 2),
                           reset="subtract", v_init=np.arange(6) * 250),
              "lif1": QLIF(du=2000, dv=300, vth=30, bias_mant=np.zeros(4), bias_exp=np.zeros(4), v_min=0)}
    syn = [("d0", "input", "lif0", dense(rng, 6, 5, -40, 60)), ("d1", "lif0", "lif1", dense(rng, 4, 6, -128, 50))]
    ref = run_both(build(5, layers, syn), inputs(rng, 3, 12, 5, rate=0.5))
    assert np.any(ref.layers["lif1"].v == 0) and ref.layers["lif1"].v.min() == 0
    assert ref.layers["lif0"].spikes[:, 0].any() and ref.layers["lif1"].spikes.any()


# ---- multi-level chains with graded synapses --------------------------------------------------------------------
@st.composite
def multilevel_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    graded_input = draw(st.booleans())
    max_value = draw(st.integers(2, 15)) if graded_input else 1
    n_in, n1, n2 = (int(s) for s in rng.integers(1, 10, size=3))
    first = random_multilevel(draw, rng, n1)
    # scale the first synapse so that a step's input is worth a few quanta: z reaches levels, the residual stays
    exp1 = max(-8, min(7, first.theta_exp - 6 - 5 + draw(st.integers(-4, 1))))
    layers = {"ml0": first}
    syn = [("d0", "input", "ml0", dense(rng, n1, n_in, -60, 127, exp=exp1, graded=graded_input))]
    downstream = draw(st.sampled_from(["lif", "multilevel", "both"]))
    if downstream in ("multilevel", "both"):
        second = random_multilevel(draw, rng, n2)
        exp2 = max(-8, min(7, second.theta_exp - 6 - 5 + draw(st.integers(-4, 1))))
        layers["ml1"] = second
        syn.append(("d1", "ml0", "ml1", dense(rng, n2, n1, -60, 127, exp=exp2, graded=True)))
    if downstream in ("lif", "both"):
        src = "ml1" if downstream == "both" else "ml0"
        layers["lif"] = random_qlif(draw, rng, n2)
        syn.append(("d2", src, "lif", dense(rng, n2, layers[src].in_shape[0], exp=draw(st.integers(-3, 1)),
                                            graded=True)))
    batch, timesteps = int(rng.integers(1, 4)), draw(st.integers(3, 10))
    x = inputs(rng, batch, timesteps, n_in, max_value=max_value, rate=0.6)
    return build(n_in, layers, syn, graded_input=graded_input, max_value=max_value), x


@pytest.mark.lava
def test_multilevel_chains_bit_exact() -> None:
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        ref = run_both(graph, x)
        for name, node in graph.nodes.items():
            if isinstance(node, QMultiLevel):
                z = ref.layers[name].spikes
                assert z.min() >= 0 and z.max() <= node.levels
                seen.note("z == levels", np.any(z == node.levels))
                seen.note("0 < z < levels", np.any((z > 0) & (z < node.levels)))
                seen.note("negative v", np.any(ref.layers[name].v < 0))
        seen.note("graded input to a LIF", "lif" in graph.nodes and ref.layers["lif"].u.any())

    run_examples(check, multilevel_cases())
    seen.check("z == levels", "0 < z < levels", "negative v", "graded input to a LIF")


@pytest.mark.lava
def test_multilevel_saturated_payloads() -> None:
    """Hand-made: levels 15 with a small quantum so that z sits at 15 and the residual grows to v's saturation."""
    rng = np.random.default_rng(7)
    layers = {"ml0": QMultiLevel(du=4095, dv=0, bias_mant=np.full(3, 4000), bias_exp=np.full(3, 7), theta_exp=12,
                                 offset=2048, levels=15),
              "ml1": QMultiLevel(du=4095, dv=900, bias_mant=np.zeros(2), bias_exp=np.zeros(2), theta_exp=9,
                                 offset=-3, levels=4)}
    syn = [("d0", "input", "ml0", dense(rng, 3, 2, 0, 127, exp=7)),
           ("d1", "ml0", "ml1", dense(rng, 2, 3, -128, 127, exp=-2, graded=True))]
    ref = run_both(build(2, layers, syn), np.ones((2, 30, 2), np.int64))
    assert np.all(ref.layers["ml0"].spikes == 15)
    assert ref.layers["ml0"].v.max() == (1 << 23) - 1 - (15 << 12)  # saturated, then the reset of 15 quanta


def test_ungraded_synapse_after_multilevel_is_rejected() -> None:
    rng = np.random.default_rng(0)
    layers = {"ml": QMultiLevel(du=0, dv=0, bias_mant=np.zeros(2), bias_exp=np.zeros(2), theta_exp=3, offset=0,
                                levels=3),
              "lif": QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(2), bias_exp=np.zeros(2))}
    syn = [("d0", "input", "ml", dense(rng, 2, 2)), ("d1", "ml", "lif", dense(rng, 2, 2))]
    with pytest.raises(GraphError, match="graded") as exc:
        lava_runner(build(2, layers, syn))
    assert exc.value.layer == "d1"


# ---- AR-LIF -----------------------------------------------------------------------------------------------------
@st.composite
def arlif_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in, n1, n2 = (int(s) for s in rng.integers(1, 10, size=3))
    layers = {"ar0": random_arlif(draw, rng, n1)}
    syn = [("d0", "input", "ar0", dense(rng, n1, n_in, exp=draw(st.integers(-2, 1))))]
    nxt = draw(st.sampled_from(["none", "arlif", "lif"]))
    if nxt != "none":
        layers["next"] = random_arlif(draw, rng, n2) if nxt == "arlif" else random_qlif(draw, rng, n2)
        syn.append(("d1", "ar0", "next", dense(rng, n2, n1, exp=draw(st.integers(-2, 1)))))
    batch, timesteps = int(rng.integers(1, 4)), draw(st.integers(4, 10))
    return build(n_in, layers, syn), inputs(rng, batch, timesteps, n_in, rate=draw(st.sampled_from([.2, .6])))


@pytest.mark.lava
def test_arlif_bit_exact() -> None:
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        ref = run_both(graph, x)
        for name, node in graph.nodes.items():
            if isinstance(node, QARLIF):
                m, s = ref.layers[name].u, ref.layers[name].spikes
                seen.note("m changes sign", np.any(np.diff(np.sign(m), axis=1) != 0))
                seen.note("spikes", s.any())
                seen.note("silence", not s.all())

    run_examples(check, arlif_cases())
    seen.check("m changes sign", "spikes", "silence")


@pytest.mark.lava
def test_arlif_threshold_is_strict() -> None:
    """x = 1.0, leak 0.5, vth 1.0 (the hand-computed case of the reference tests): v = thr exactly at t = 0, which
    must not spike; one unit less bias never reaches it, one more spikes at once."""
    layers = {"ar": QARLIF(dv=2048, vth=4096, amp=0, gate=4096, bias=np.array([4096, 4095, 4097]))}
    graph = build(1, layers, [("d0", "input", "ar", QDense(weight=np.zeros((3, 1), np.int64)))])
    ref = run_both(graph, np.zeros((2, 4, 1), np.int64))
    np.testing.assert_array_equal(ref.layers["ar"].v[:, 0], [[4096, 4095, 4097 - 4096 - 2764]] * 2)  # sigmoid(m = 2994)
    np.testing.assert_array_equal(ref.layers["ar"].spikes[:, 0], [[0, 0, 1]] * 2)


@pytest.mark.lava
def test_arlif_extreme_parameters() -> None:
    """Hand-made: the parameter bounds (amp +-4096, gate +-8192), large inputs (|x| beyond the sigmoid table)."""
    rng = np.random.default_rng(9)
    layers = {"a": QARLIF(dv=4096, vth=0, amp=-4096, gate=8192, bias=rng.integers(-30000, 30000, size=5)),
              "b": QARLIF(dv=0, vth=8000, amp=4096, gate=-8192, bias=np.zeros(4, np.int64))}
    syn = [("d0", "input", "a", dense(rng, 5, 4, exp=2)), ("d1", "a", "b", dense(rng, 4, 5, -20, 127, exp=1))]
    ref = run_both(build(4, layers, syn), inputs(rng, 3, 10, 4, rate=0.5))
    assert ref.layers["a"].spikes.any() and ref.layers["b"].spikes.any()
    assert ref.layers["b"].u.min() < 0 < ref.layers["b"].u.max()


# ---- recurrent synapses: population with lateral inhibition, feedback, skewed fan-in ----------------------------
def population(rng: np.random.Generator, groups: int, members: int, k: int, n_in: int, dv: int = 0) -> Graph:
    """``groups`` x ``members`` soft-reset IF neurons (quantum 2**k), member r starting at 1 - r 2**k, all-to-all
    lateral inhibition of one quantum inside each group (a recurrent synapse), then a LIF readout."""
    n = groups * members
    idx, rank = np.repeat(np.arange(groups), members), np.tile(np.arange(members), groups)
    pop = QLIF(du=4095, dv=dv, vth=1 << (k - 6), bias_mant=rng.integers(-20, 60, size=groups)[idx],
               bias_exp=np.full(n, 3), reset="subtract", v_init=1 - rank * (1 << k))
    same = (idx[:, None] == idx[None, :]) & ~np.eye(n, dtype=bool)
    lat_exp = max(k - 12, 0)
    lateral = QDense(weight=np.where(same, -(1 << (k - 6 - lat_exp)), 0), weight_exp=lat_exp,
                     metadata={RECURRENT_KEY: True})
    readout = QLIF(du=4095, dv=500, vth=40, bias_mant=np.zeros(3), bias_exp=np.zeros(3))
    layers = {"pop": pop, "readout": readout}
    syn = [("d_in", "input", "pop", QDense(weight=rng.integers(-20, 128, size=(groups, n_in))[idx], weight_exp=k - 12)),
           ("lateral", "pop", "pop", lateral), ("d_out", "pop", "readout", dense(rng, 3, n))]
    return build(n_in, layers, syn)


@st.composite
def population_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups, members, n_in = draw(st.integers(1, 4)), draw(st.integers(2, 5)), draw(st.integers(1, 8))
    graph = population(rng, groups, members, draw(st.integers(7, 14)), n_in, dv=draw(st.sampled_from([0, 300])))
    batch, timesteps = int(rng.integers(1, 4)), draw(st.integers(1, 10))
    return graph, inputs(rng, batch, timesteps, n_in, rate=draw(st.sampled_from([.3, .8])))


@pytest.mark.lava
def test_population_with_lateral_inhibition_bit_exact() -> None:
    seen = Seen()

    def check(case: tuple[Graph, np.ndarray]) -> None:
        graph, x = case
        runner = lava_runner(graph)
        assert runner.gap == 1 and runner.process_kind("pop") == "SnnccLIF"
        ref = run_both(graph, x)
        s = ref.layers["pop"].spikes.astype(np.int64)
        lateral = graph.nodes["lateral"].weight
        # an inhibitory delivery inside a window: a member spiked at t - 1 and a group mate is still in the window
        inhibited = np.einsum("ij,btj->bti", (lateral != 0).astype(np.int64), s[:, :-1]).any()
        seen.note("inhibition delivered", inhibited)
        seen.note("several samples", ref.batch > 1 and s[1:].any())

    run_examples(check, population_cases())
    seen.check("inhibition delivered", "several samples")


@pytest.mark.lava
def test_lateral_inhibition_does_not_leak_into_the_next_sample() -> None:
    """A group that fires on the last step of every sample: without the blank step, Lava would deliver those spikes
    to the next sample's first step, where the reference has none."""
    rng = np.random.default_rng(1)
    graph = population(rng, 2, 3, 8, 4)
    graph.nodes["pop"].bias_mant[:] = 60  # 60 << 3 = 480 per step against a quantum of 256: fires every step
    ref = run_both(graph, np.ones((3, 5, 4), np.int64))
    assert ref.layers["pop"].spikes[:, -1].any()
    assert lava_runner(graph).gap == 1


def feedback_graph(rng: np.random.Generator, skip: bool) -> Graph:
    """lif0 (depth 1) -> lif1 (2) -> lif2 (3); lif2 feeds back into lif0 and lif1 inhibits itself (recurrent);
    with ``skip`` lif0 also feeds lif2 directly. All three are stock hard-reset LIFs."""
    def lif(n: int, bias: int) -> QLIF:
        return QLIF(du=1000, dv=200, vth=20, bias_mant=np.full(n, bias), bias_exp=np.full(n, 3))

    layers = {"lif0": lif(5, 150), "lif1": lif(4, 0), "lif2": lif(3, 40)}
    syn = [("d0", "input", "lif0", dense(rng, 5, 3)), ("d1", "lif0", "lif1", dense(rng, 4, 5, -40, 127)),
           ("d2", "lif1", "lif2", dense(rng, 3, 4)),
           ("back", "lif2", "lif0", dense(rng, 5, 3, -128, 0, recurrent=True)),
           ("lat", "lif1", "lif1", dense(rng, 4, 4, -128, 0, recurrent=True))]
    if skip:
        syn.append(("skip", "lif0", "lif2", dense(rng, 3, 5, 0, 127)))
    return build(3, layers, syn)


@pytest.mark.lava
@pytest.mark.parametrize("skip", [False, True])
def test_feedback_lateral_and_skewed_fan_in(skip: bool) -> None:
    """Feedback from depth 3 into depth 1 reads lif2 up to three steps before its window (a gap of 3 steps between
    samples); lif1's self-inhibition reads it one step before its window; the skip from lif0 into lif2 reads lif0 one
    step past its window. Each such source must be silent there: it runs as a custom process with a send window
    although it is a stock LIF, while a stock layer that only receives a recurrent synapse stays LIFReset."""
    rng = np.random.default_rng(4)
    graph = feedback_graph(rng, skip)
    runner = lava_runner(graph)
    assert runner.gap == 3
    assert {n: runner.process_kind(n) for n in ("lif0", "lif1", "lif2")} == {
        "lif0": "SnnccLIF" if skip else "LIFReset", "lif1": "SnnccLIF", "lif2": "SnnccLIF"}
    ref = run_both(graph, inputs(rng, 3, 6, 3, rate=0.5))
    assert ref.layers["lif0"].spikes[:, -1].any() and ref.layers["lif2"].spikes[:, -3:].any()
    assert ref.layers["lif1"].spikes.any()


@pytest.mark.lava
def test_mixed_graph_every_primitive() -> None:
    """Every primitive in one run: AR-LIF -> multi-level (graded out) -> custom LIF with a lateral synapse, plus a
    skip from the AR-LIF into the LIF."""
    rng = np.random.default_rng(12)
    layers = {"ar": QARLIF(dv=2048, vth=4096, amp=-1000, gate=3000, bias=rng.integers(0, 6000, size=6)),
              "ml": QMultiLevel(du=4095, dv=0, bias_mant=np.zeros(5), bias_exp=np.zeros(5), theta_exp=8, offset=128,
                                levels=3),
              "lif": QLIF(du=3000, dv=100, vth=60, bias_mant=np.full(4, 5), bias_exp=np.full(4, 4), v_min=-5000,
                          reset="subtract", v_init=[0, 100, 2000, -3000])}
    syn = [("d0", "input", "ar", dense(rng, 6, 4, exp=0)), ("d1", "ar", "ml", dense(rng, 5, 6, -30, 127, exp=-1)),
           ("d2", "ml", "lif", dense(rng, 4, 5, graded=True)), ("skip", "ar", "lif", dense(rng, 4, 6)),
           ("lat", "lif", "lif", dense(rng, 4, 4, -60, 0, recurrent=True))]
    graph = build(4, layers, syn)
    assert lava_runner(graph).gap == 1
    ref = run_both(graph, inputs(rng, 2, 9, 4, rate=0.5))
    assert all(ref.layers[n].spikes.any() for n in layers)


# ---- netx refuses what it cannot express ------------------------------------------------------------------------
@pytest.mark.parametrize(("layer", "node", "words"), [
    ("lif1", QMultiLevel(du=0, dv=0, bias_mant=np.zeros(2), bias_exp=np.zeros(2), theta_exp=2, offset=0, levels=3),
     "QMultiLevel"),
    ("lif1", QARLIF(dv=0, vth=10, amp=0, gate=0, bias=np.zeros(2)), "QARLIF"),
    ("lif1", QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(2), bias_exp=np.zeros(2), v_min=0), "floor"),
    ("lif1", QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(2), bias_exp=np.zeros(2), v_init=[0, 3]), "v_init"),
])
def test_netx_refuses_custom_primitives(tmp_path: object, layer: str, node: object, words: str) -> None:
    rng = np.random.default_rng(0)
    layers = {"lif0": QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(3), bias_exp=np.zeros(3)), layer: node}
    syn = [("d0", "input", "lif0", dense(rng, 3, 2, 1, 100)), ("d1", "lif0", layer, dense(rng, 2, 3, 1, 100))]
    graph = build(2, layers, syn)
    reason = netx_expressible(graph)
    assert reason is not None and layer in reason and words in reason
    with pytest.raises(UnsupportedLayerError, match=words) as exc:
        write_netx(graph, tmp_path / "net.net")
    assert exc.value.layer == layer


def test_netx_refuses_recurrent_synapses_between_layers(tmp_path: object) -> None:
    """A layer feeding its own spikes back is netx's dense_rec (tests/test_netx_recurrent.py); feedback from a
    deeper layer is not."""
    rng = np.random.default_rng(0)
    layers = {"lif0": QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(3), bias_exp=np.zeros(3)),
              "lif1": QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(2), bias_exp=np.zeros(2))}
    syn = [("d0", "input", "lif0", dense(rng, 3, 2, 1, 100)), ("d1", "lif0", "lif1", dense(rng, 2, 3, 1, 100)),
           ("lat", "lif0", "lif0", dense(rng, 3, 3, -9, -1, recurrent=True))]
    assert netx_expressible(build(2, layers, syn)) is None
    syn.append(("back", "lif1", "lif0", dense(rng, 3, 2, -9, -1, recurrent=True)))
    with pytest.raises(UnsupportedLayerError, match="feeds lif1's spikes into lif0") as exc:
        write_netx(build(2, layers, syn), tmp_path / "net.net")
    assert exc.value.layer == "back"


@pytest.mark.parametrize(("node", "field"), [
    (QARLIF(dv=0, vth=10, amp=0, gate=0, bias=[0, 1 << 31]), "bias"),
    (QMultiLevel(du=0, dv=0, bias_mant=[40000, 0], bias_exp=[0, 0], theta_exp=3, offset=0, levels=3), "bias_mant"),
    (QLIF(du=0, dv=0, vth=5, bias_mant=np.zeros(2), bias_exp=np.zeros(2), v_min=-(1 << 40)), "v_min"),
])
def test_values_beyond_lava_storage_are_rejected(node: object, field: str) -> None:
    graph = build(2, {"layer": node}, [("d0", "input", "layer", dense(np.random.default_rng(0), 2, 2))])
    with pytest.raises(QuantizationError, match=field) as exc:
        lava_runner(graph)
    assert exc.value.layer == "layer"
