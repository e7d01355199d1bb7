"""Partition, placement and reports of recurrent networks.

A loop makes a layer its own consumer (self and all-to-all recurrence) or an earlier layer a consumer of a later one
(cross-layer loops, their relays included): those spikes need output axons to every core of the layer they return
to, and their traffic is counted, apart, in the energy report. Layers are split over several cores (tiny core
limits) so that the loop's traffic crosses cores; the per-core figures are recomputed from dense matrices by
:func:`tests.test_conv_mapping.check_mapping`, which counts the recurrent consumers on its own.
"""

from __future__ import annotations

import numpy as np
import pytest

import snncc
from snncc.backends.reference import ReferenceSimulator
from snncc.frontend import trace_module
from snncc.mapping import Mapping
from snncc.passes import PassContext, PassManager, default_pipeline
from snncc.reports import energy_report
from snncc.reports.energy import traffic
from snncc.reports.render import render_markdown
from tests.test_conv_mapping import check_mapping, target_with
from tests.test_recurrent import payloads, recurrent_model

TARGET = target_with(neurons=2, output_axons=400)  # every layer of 3-6 neurons spans 2-3 cores


def compiled(loop: str, graded: bool = False):
    g = trace_module(recurrent_model("lif", loop, graded, seed=3))
    return PassManager(default_pipeline()).run(g, PassContext(target=TARGET))


def loops(g) -> list[tuple[str, str, str]]:
    """(synapse, source, target) of every recurrent synapse."""
    return [(s, g.predecessors(s)[0], g.successors(s)[0]) for s in g.nodes if g.is_recurrent(s)]


@pytest.mark.parametrize("loop", ["self", "all", "cross2", "cross3"])
def test_every_core_within_its_limits_with_the_loop_counted(loop: str) -> None:
    g = compiled(loop)
    (_, src, dst), = loops(g)
    report = check_mapping(g, TARGET)  # output axons recomputed with the recurrent consumer included
    mapping = Mapping.of(g)
    assert len(mapping.layers[dst].blocks) > 1 and report["cores_used"] >= report["cores_lower_bound"]
    if loop.startswith("cross"):  # the layers' last, partly filled blocks share cores
        assert report["cores_used"] < sum(len(m.blocks) for m in mapping.layers.values())
    consumers = [c for s in g.successors(src) for c in g.successors(s)]
    assert dst in consumers
    # dense synapses: each neuron of src needs one output axon per core holding a consumer block, the loop's
    # target included (blocks sharing a core count once)
    want = g.nodes[src].size * len({slot for c in consumers for slot in mapping.layers[c].slots})
    assert sum(b["use"]["output_axons"] for b in report["blocks"] if b["layer"] == src) == want


@pytest.mark.parametrize("loop", ["self", "all", "cross2", "cross3"])
def test_recurrent_traffic_is_counted_apart(loop: str) -> None:
    g = compiled(loop)
    (syn, src, dst), = loops(g)
    mapping = Mapping.of(g)
    rng = np.random.default_rng(0)
    counts = {n: rng.integers(0, 5, g.nodes[n].size) for n in mapping.layers}
    t = traffic(g, counts)
    spikes = int(counts[src].sum())
    loop_cores = set(mapping.layers[dst].cores)
    consumers = {c for s in g.successors(src) for c in g.successors(s)}
    cores = {core for c in consumers for core in mapping.layers[c].cores}  # each gets each spike once
    assert t[src]["recurrent_messages"] == spikes * len(loop_cores)  # dense feedback: every spike to each
    assert t[src]["messages"] == spikes * len(cores)
    src_place = {i: c for b, c in zip(mapping.layers[src].blocks, mapping.layers[src].cores, strict=True)
                 for i in b.index()}
    hops = sum(int(counts[src][i]) * (abs(core.row - p.row) + abs(core.col - p.col))
               for core in cores for i, p in src_place.items())
    assert t[src]["hops"] == hops
    assert all(v["recurrent_messages"] == 0 for n, v in t.items() if n != src)


def test_energy_report_and_markdown_show_the_loop_traffic() -> None:
    g = compiled("all")
    x = payloads(False, seed=5, samples=2, steps=10)
    r = ReferenceSimulator(g).run(x)
    e = energy_report(g, r.counts, TARGET, samples=2, timesteps=10, latency=r.latency)
    (_, src, _), = loops(g)
    assert e["per_inference"]["recurrent_messages"] == e["layers"][src]["recurrent_messages"] > 0
    assert e["per_inference"]["recurrent_messages"] < e["per_inference"]["spike_messages"]
    bundle = snncc.compile(recurrent_model("lif", "all", False, seed=3), "loihi2",
                           options=snncc.Options(timesteps=10))
    pi = bundle.report["energy"]["per_inference"]
    assert pi["recurrent_messages"] > 0
    assert f"through recurrent synapses {pi['recurrent_messages']:.1f}" in render_markdown(bundle.report)
