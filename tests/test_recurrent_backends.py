"""Recurrent integer graphs: the reference simulator == Lava bit for bit (spikes or payloads, u and v at every step
of every layer, several samples back to back in one Lava run) on random graphs with self (diagonal), all-to-all and
cross-layer recurrent QDense synapses (a deeper layer feeding an earlier one: loops through 2 and 3 synapse
layers), binary and graded (a multi-level or sigma-delta layer feeding back through a graded synapse), for every
integer family that sits in a loop: QLIF with each reset mode, QARLIF, QMultiLevel, QSigmaDelta.

The graphs come from fixed seeds (:func:`recurrent_case`), so the cases are the same on every run. The Lava test
checks each seed; :func:`test_the_seeds_cover_every_loop` runs the same seeds on the reference alone and asserts
that together they exercise every topology, family and reset mode *inside a loop*, with the recurrent synapses
delivering spikes inside their targets' windows and changing what the network does (a backend that dropped the
recurrent connections would fail the comparison).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np
import pytest

from snncc.backends.reference import ReferenceSimulator, SimResult
from snncc.errors import GraphError
from snncc.families.arlif.nodes import QARLIF
from snncc.families.lif.nodes import QLIF
from snncc.families.multilevel.nodes import QMultiLevel
from snncc.families.sigma_delta.nodes import QSigmaDelta
from snncc.ir import Graph, QDense, timing
from snncc.ir.keys import RECURRENT
from snncc.ir.nodes import RESET_MODES
from tests.graphs import lava_runner
from tests.test_primitives_lava import run_both

LAVA_SEEDS = tuple(range(14))  # one Lava run each (a few seconds)
FAMILIES = ("lif", "lif", "arlif", "multilevel", "sigma_delta")  # LIF twice: three reset modes to cover


@dataclass
class Case:
    """A random recurrent graph, its inputs, and what its recurrent synapses are (for the coverage test)."""

    graph: Graph
    x: np.ndarray
    layers: list[str]
    recurrent: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # synapse -> (source, target, kind)

    def loop_length(self, synapse: str) -> int:
        """Synapse layers the loop closed by ``synapse`` passes through (1 for a layer feeding itself)."""
        src, dst, _ = self.recurrent[synapse]
        return self.layers.index(src) - self.layers.index(dst) + 1

    def in_loops(self) -> set[str]:
        """The layers on some loop: between a recurrent synapse's target and its source in the chain."""
        out = set()
        for src, dst, _ in self.recurrent.values():
            out.update(self.layers[self.layers.index(dst):self.layers.index(src) + 1])
        return out


# ---- random layers --------------------------------------------------------------------------------------------
def family_layer(rng: np.random.Generator, family: str, n: int) -> tuple[object, float]:
    """A random layer of ``family`` and the synaptic sum (in weight units) worth about one threshold or quantum."""
    if family == "lif":
        vth = int(rng.integers(4, 1 << int(rng.integers(3, 12))))
        floor = rng.choice(["none", "zero", "negative"])
        node = QLIF(du=int(rng.choice([0, 4095, rng.integers(0, 4096)])),
                    dv=int(rng.choice([0, 4096, rng.integers(0, 4097)])), vth=vth,
                    bias_mant=rng.integers(-vth // 4, vth // 8 + 1, size=n), bias_exp=np.full(n, 6),
                    reset=str(rng.choice(RESET_MODES)),
                    v_min={"none": None, "zero": 0, "negative": -4 * (vth << 6)}[floor],
                    v_init=rng.integers(-(vth << 6), vth << 6, size=n) if rng.random() < 0.3 else None,
                    fire_at_threshold=bool(rng.random() < 0.3),
                    current_bias=rng.integers(-vth // 4, vth // 4 + 1, size=n) if rng.random() < 0.2 else None)
        return node, float(vth)  # u = a << 6 against vth << 6
    if family == "arlif":
        vth = int(rng.integers(1024, 3 * 4096))
        gain, shift = [(1, 6), (1, 6), (3, 4), (3184, -7)][int(rng.integers(0, 4))]  # x = a * gain * 2**shift
        gains = rng.integers(max(1, gain // 2), gain + 1, size=n)
        node = QARLIF(dv=int(rng.choice([0, 2048, 4096, rng.integers(0, 4097)])), vth=vth,
                      amp=int(rng.integers(-4096, 4097)), gate=int(rng.integers(-8192, 8193)),
                      bias=vth // 4 + rng.integers(-4096, 1024, size=n), input_shift=shift, input_gain=gains)
        return node, vth / (gain * 2.0 ** shift)
    if family == "multilevel":
        k = int(rng.integers(6, 13))
        node = QMultiLevel(du=int(rng.choice([4095, rng.integers(0, 4096)])),
                           dv=int(rng.choice([0, rng.integers(0, 4097)])),
                           bias_mant=rng.integers(-(1 << k) // 4, (1 << k) // 8 + 1, size=n) >> max(k - 9, 0),
                           bias_exp=np.full(n, max(k - 9, 0)), theta_exp=k,
                           offset=int(rng.integers(-(1 << k) // 2, (1 << k) // 2 + 1)),
                           levels=int(rng.integers(2, 8)))
        return node, float(1 << (k - 6))  # u = a << 6 against the quantum 2**k
    vth = int(rng.integers(1, 5))
    node = QSigmaDelta(vth=vth, bias=rng.integers(-1, 2, size=n), cum_error=bool(rng.random() < 0.5))
    return node, float(vth << 12)  # sigma = sum of a; it sends once act changes by vth << 12


def typical_payload(source: object | None) -> float:
    """What one non-zero output of ``source`` is worth through a graded synapse, about."""
    if source is None or source.payload_levels is None:
        return 1.0
    if isinstance(source, QSigmaDelta):
        return float(source.vth << 6)  # delta >> 6, delta beyond vth << 12
    return source.payload_levels / 2


def synapse(rng: np.random.Generator, n_out: int, n_in: int, unit: float, source: object | None, lo: int, hi: int,
            recurrent: bool = False, diagonal: bool = False, active: float = 0.4) -> QDense:
    """Mantissas in [lo, hi] with the exponent that makes the input of a typical step (``active`` of the ``n_in``
    sources sending) about ``unit``; graded when ``source`` sends payloads."""
    per = typical_payload(source) * max(1.0, (1 if diagonal else n_in) * active)
    exp = int(np.clip(np.round(np.log2(max(unit / per, 1e-9) / 64)), -6, 6))
    w = rng.integers(lo, hi, size=(n_out, n_in), endpoint=True)
    if diagonal and n_out == n_in:
        w = np.diag(np.diag(w))
    return QDense(weight=w, weight_exp=exp, graded=source is not None and source.payload_levels is not None,
                  metadata={RECURRENT: True} if recurrent else {})


def recurrent_case(seed: int) -> Case:
    """1 to 3 layers in a chain, each of a random family, with a self (diagonal) or all-to-all recurrent synapse on
    some and feedback from deeper layers into earlier ones; at least one recurrent synapse."""
    rng = np.random.default_rng(seed)
    n_layers = int(rng.choice([1, 2, 3, 3]))
    n_in = int(rng.integers(2, 7))
    sizes = [int(s) for s in rng.integers(2, 7, size=n_layers)]
    layers, units = {}, {}
    for i in range(n_layers):
        layers[f"l{i}"], units[f"l{i}"] = family_layer(rng, str(rng.choice(FAMILIES)), sizes[i])
    names = list(layers)
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([n_in])}), **layers}
    edges = []
    case = Case(graph=None, x=None, layers=names)  # type: ignore[arg-type]

    def add(name: str, src: str, dst: str, node: QDense) -> None:
        nodes[name] = node
        edges.extend([(src, name), (name, dst)])

    graded_input = bool(rng.random() < 0.25)
    max_value = int(rng.integers(2, 16))
    for i, name in enumerate(names):
        src = "input" if i == 0 else names[i - 1]
        add(f"d{i}", src, name, synapse(rng, sizes[i], n_in if i == 0 else sizes[i - 1], 1.5 * units[name],
                                        None if i == 0 else layers[src], -50, 127))
    if graded_input:
        nodes["d0"].graded = True
        nodes["d0"].weight_exp = max(-6, nodes["d0"].weight_exp - int(np.log2(max_value)) + 1)
    for i, name in enumerate(names):  # recurrence onto each layer: its own spikes, then deeper layers'
        kind = str(rng.choice(["none", "self", "all"], p=[0.35, 0.3, 0.35]))
        if kind != "none":
            lo, hi = [(-128, 0), (-128, 127), (0, 100)][int(rng.integers(0, 3))]
            add(f"rec{i}", name, name, synapse(rng, sizes[i], sizes[i], units[name], layers[name], lo, hi,
                                               recurrent=True, diagonal=kind == "self"))
            case.recurrent[f"rec{i}"] = (name, name, kind)
        for j in range(i + 1, n_layers):
            if rng.random() < 0.5:
                src = names[j]
                add(f"back{j}{i}", src, name, synapse(rng, sizes[i], sizes[j], units[name], layers[src], -128, 127,
                                                      recurrent=True))
                case.recurrent[f"back{j}{i}"] = (src, name, "feedback")
    if not case.recurrent:  # the last layer feeds back into the first (itself, in a one-layer graph)
        first, last = names[0], names[-1]
        add("back", last, first, synapse(rng, sizes[0], sizes[-1], units[first], layers[last], -128, 127,
                                         recurrent=True))
        case.recurrent["back"] = (last, first, "self" if first == last else "feedback")
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((names[-1], "output"))
    batch, steps = int(rng.integers(2, 4)), int(rng.integers(4, 10))
    if graded_input:
        case.graph = Graph(nodes=nodes, edges=edges, metadata={"input": {"kind": "graded", "max_value": max_value}})
        case.x = rng.integers(0, max_value + 1, size=(batch, steps, n_in))
    else:
        case.graph = Graph(nodes=nodes, edges=edges, metadata={"input": {"kind": "spikes"}})
        case.x = (rng.random((batch, steps, n_in)) < rng.choice([0.3, 0.6])).astype(np.int64)
    return case


# ---- what a case exercises ------------------------------------------------------------------------------------
def delivered(case: Case, ref: SimResult, synapse_name: str) -> int:
    """Non-zero entries the recurrent synapse reads from its source *inside its target's window*: the target at
    window step t receives the source's output of Lava step d_target + t - 1, the source's window step t + lag."""
    src, dst, _ = case.recurrent[synapse_name]
    depth = case.graph.synapse_depth()
    lag = depth[dst] - 1 - depth[src]
    s = ref.layers[src].spikes
    lo, hi = max(0, lag), min(s.shape[1], s.shape[1] + lag)
    return int(np.count_nonzero(s[:, lo:hi])) if lo < hi else 0


def without_recurrence(graph: Graph) -> Graph:
    """``graph`` with every recurrent synapse's weights zeroed (same structure, same windows)."""
    g = graph.copy()
    for name in g.nodes:
        if g.is_recurrent(name):
            g.nodes[name].weight = np.zeros_like(g.nodes[name].weight)
    return g


def features(case: Case, ref: SimResult) -> set[str]:
    """The behaviours of interest this case shows (each only when a recurrent synapse really carries spikes)."""
    seen = set()
    g = case.graph
    for syn, (src, _dst, kind) in case.recurrent.items():
        if not delivered(case, ref, syn):
            continue
        seen.add(f"loop through {case.loop_length(syn)} synapse layer(s)")
        seen.add(f"{kind} recurrence")
        if g.nodes[syn].graded:
            seen.add(f"graded feedback from {type(g.nodes[src]).__name__}")
    live = {dst for syn, (_, dst, _) in case.recurrent.items() if delivered(case, ref, syn)}
    for name in case.in_loops():
        if not any(name in case.layers[case.layers.index(d):] for d in live):
            continue
        node = g.nodes[name]
        label = f"QLIF reset={node.reset}" if isinstance(node, QLIF) else type(node).__name__
        seen.add(f"{label} in a loop")
    return seen


@pytest.mark.lava
@pytest.mark.parametrize("seed", LAVA_SEEDS)
def test_random_recurrent_graph_bit_exact(seed: int) -> None:
    case = recurrent_case(seed)
    runner = lava_runner(case.graph)
    assert runner.gap == timing.sample_gap(case.graph) >= 1
    ref = run_both(case.graph, case.x)
    assert ref.batch >= 2  # samples back to back: a loop must not carry one sample's spikes into the next


EXPECTED = {"loop through 1 synapse layer(s)", "loop through 2 synapse layer(s)", "loop through 3 synapse layer(s)",
            "self recurrence", "all recurrence", "feedback recurrence",
            "graded feedback from QMultiLevel", "graded feedback from QSigmaDelta",
            *(f"QLIF reset={r} in a loop" for r in RESET_MODES), "QARLIF in a loop", "QMultiLevel in a loop",
            "QSigmaDelta in a loop"}


def test_the_seeds_cover_every_loop() -> None:
    """The Lava seeds, on the reference: every topology and family in a live loop, and in most graphs the
    recurrence changes some layer's output (a backend ignoring recurrent synapses could not pass)."""
    seen: dict[str, int] = {}
    changed = 0
    for seed in LAVA_SEEDS:
        case = recurrent_case(seed)
        ref = ReferenceSimulator(case.graph).run(case.x)
        for f in features(case, ref):
            seen[f] = seen.get(f, 0) + 1
        plain = ReferenceSimulator(without_recurrence(case.graph)).run(case.x)
        changed += any(not np.array_equal(ref.layers[n].spikes, plain.layers[n].spikes) for n in case.layers)
    missing = EXPECTED - set(seen)
    assert not missing, f"no seed exercised {sorted(missing)}: {seen}"
    assert changed >= 0.8 * len(LAVA_SEEDS), f"the recurrence changed the output of only {changed} graphs"


def test_recurrent_synapse_needs_graded_when_fed_payloads() -> None:
    """A multi-level layer feeding itself through an ungraded synapse is refused, naming the synapse."""
    case = next(c for c in map(recurrent_case, range(100))
                if any(c.graph.nodes[s].graded for s in c.recurrent))
    syn = next(s for s in case.recurrent if case.graph.nodes[s].graded)
    case.graph.nodes[syn].graded = False
    with pytest.raises(GraphError, match="graded") as exc:
        ReferenceSimulator(case.graph)
    assert exc.value.layer == syn


@pytest.mark.lava
@pytest.mark.parametrize("reset", RESET_MODES)
def test_runaway_excitatory_loop_wraps_and_saturates_alike(reset: str) -> None:
    """Hand-made: lif0 -> lif1 -> lif0 (a loop through 2 synapse layers) and lif1 exciting itself, all-to-all, with
    du = 0 (the current never decays): once the loop ignites, u grows past 2**23 and wraps, v saturates; Lava and the
    reference agree on every word, for each reset mode."""
    rng = np.random.default_rng(5)

    def lif(n: int) -> QLIF:
        return QLIF(du=0, dv=int(rng.integers(0, 200)), vth=100, bias_mant=np.zeros(n), bias_exp=np.zeros(n),
                    reset=reset)

    nodes = {"input": nir.Input(input_type={"input": np.array([3])}), "lif0": lif(4), "lif1": lif(5),
             "d0": QDense(weight=rng.integers(40, 128, size=(4, 3)), weight_exp=1),
             "d1": QDense(weight=rng.integers(40, 128, size=(5, 4)), weight_exp=2),
             "back": QDense(weight=rng.integers(60, 128, size=(4, 5)), weight_exp=4, metadata={RECURRENT: True}),
             "lat": QDense(weight=rng.integers(60, 128, size=(5, 5)), weight_exp=5, metadata={RECURRENT: True}),
             "output": nir.Output(output_type={"output": np.array([5])})}
    edges = [("input", "d0"), ("d0", "lif0"), ("lif0", "d1"), ("d1", "lif1"), ("lif1", "back"), ("back", "lif0"),
             ("lif1", "lat"), ("lat", "lif1"), ("lif1", "output")]
    graph = Graph(nodes=nodes, edges=edges, metadata={"input": {"kind": "spikes"}})
    x = np.zeros((2, 12, 3), np.int64)
    x[:, 0] = 1  # one volley ignites the loop in each sample
    ref = run_both(graph, x)
    u, v = ref.layers["lif1"].u, ref.layers["lif1"].v
    assert np.any(np.diff(u, axis=1) < 0)  # u only grows (du = 0, excitatory inputs) unless it wraps
    assert np.abs(v).max() == (1 << 23) - 1  # saturated (negative, once the wrapped current pulls it down)
    assert ref.layers["lif0"].u.max() > 1 << 22
