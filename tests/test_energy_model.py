"""The energy model: every joule follows from the counts and the target's constants; Loihi 2's band brackets its
point estimate; the SNN-paper convention stays apart and labelled; malformed bands are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import snncc
from snncc.backends.reference import ReferenceSimulator
from snncc.errors import TargetError
from snncc.mapping import Core
from snncc.reports import energy_report, render_markdown, render_summary
from snncc.reports.energy_lines import band_text
from snncc.target import load_target, parse_target
from tests.test_reports import compiled, place

LOIHI, LOIHI2 = load_target("loihi"), load_target("loihi2")
PJ = 1e-12


def _run(target_options: dict | None = None, states: bool = True):
    """The 4-3-2 test network on one core per layer, l2 two rows and five columns from l1; 2 samples, 5 steps."""
    g = compiled(options={"partition.share_cores": False, **(target_options or {})})
    place(g, l1=Core(0, 0, 0, 0), l2=Core(0, 37, 2, 5))
    x = (np.random.default_rng(4).random((2, 5, 4)) < 0.5).astype(np.int64)
    return g, ReferenceSimulator(g).run(x, record_states=states)


def test_loihi_energy_follows_from_the_counts_and_table_2() -> None:
    g, r = _run()
    e = energy_report(g, r.counts, LOIHI, samples=2, timesteps=5, latency=r.latency)
    c = r.counts
    synops = (c["fc1"].synops + c["fc2"].synops) / 2
    active = (c["l1"].neuron_updates_active + c["l2"].neuron_updates_active) / 2
    inactive = (c["l1"].neuron_updates + c["l2"].neuron_updates) / 2 - active
    msgs = c["l1"].spikes / 2  # l1's spikes go to l2's one core; l2 feeds only the output
    assert 0 < active < active + inactive and synops > 0 and msgs > 0
    tm = e["target_model"]
    assert tm["dynamic_j"]["synops"] == pytest.approx(synops * 23.6 * PJ)
    assert tm["dynamic_j"]["neuron_updates"] == pytest.approx((active * 81.0 + inactive * 52.0) * PJ)
    assert tm["dynamic_j"]["spike_messages"] == pytest.approx(msgs * 1.7 * PJ)
    assert tm["dynamic_j"]["spike_hops"] == pytest.approx(msgs * (5 * 3.0 + 2 * 4.0) * PJ)  # 5 E-W + 2 N-S
    steps = 5 + r.latency
    per_step = {}  # the busiest core's work in a mean step: its synops and its neurons at their own times
    for layer, syn in (("l1", "fc1"), ("l2", "fc2")):
        share = c[layer].neuron_updates_active / c[layer].neuron_updates
        per_step[layer] = c[syn].synops / (2 * steps) * 3.5 + g.nodes[layer].size * (8.4 * share + 5.3 * (1 - share))
    step_time = (max(per_step.values()) + 465.0) * 1e-9
    assert tm["step_time_s"] == pytest.approx(step_time)
    assert tm["static_j"] == pytest.approx(0.104 * 1 * step_time * steps)
    assert tm["total_j"] == pytest.approx(sum(tm["dynamic_j"].values()) + tm["static_j"])
    pi = e["per_inference"]
    assert pi["neuron_activity_measured"] and pi["hops_ew"] == 5 * msgs and pi["hops_ns"] == 2 * msgs
    assert tm["band"]["low"] == tm["band"]["high"] == {k: tm[k] for k in tm["band"]["low"]}  # no band on Loihi 1


def test_loihi2_band_brackets_the_point_estimate_with_each_ends_constants() -> None:
    g, r = _run()
    e = energy_report(g, r.counts, LOIHI2, samples=2, timesteps=5, latency=r.latency)
    tm, pi = e["target_model"], e["per_inference"]
    low, high = tm["band"]["low"], tm["band"]["high"]
    for key in ("dynamic_total_j", "static_j", "total_j", "step_time_s"):
        assert low[key] <= tm[key] <= high[key]
    assert low["total_j"] < high["total_j"]
    for end, syn, act, idle in (("low", 6.8, 10.8, 6.93), ("high", 23.6, 81.0, 52.0)):
        dyn = tm["band"][end]["dynamic_j"]
        assert dyn["synops"] == pytest.approx(pi["synops"] * syn * PJ)
        assert dyn["neuron_updates"] == pytest.approx(
            (pi["neuron_updates_active"] * act + pi["neuron_updates_inactive"] * idle) * PJ)
    fig = e["figures"]["energy.synop"]
    assert "Hala Point" in fig["low"]["source"] and "Loihi 1" in fig["high"]["source"] and not fig["confirmed"]


def test_without_recorded_states_every_update_is_charged_active() -> None:
    g, r = _run(states=False)
    e = energy_report(g, r.counts, LOIHI, samples=2, timesteps=5, latency=r.latency)
    pi = e["per_inference"]
    assert not pi["neuron_activity_measured"] and pi["neuron_updates_inactive"] == 0
    assert e["target_model"]["dynamic_j"]["neuron_updates"] == pytest.approx(pi["neuron_updates"] * 81.0 * PJ)
    assert e["neurobench"]["MembraneUpdates"] is None


def test_compile_report_labels_the_conventions_and_shows_the_band(tmp_path) -> None:
    bundle = snncc.compile(compiled_model(), "loihi2", tmp_path / "b", snncc.Options(timesteps=6, samples=3))
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    e = report["energy"]
    assert e["paper_convention"]["label"] == "45 nm arithmetic only"
    assert e["per_inference"]["neuron_activity_measured"]  # the compile records the states it needs
    assert e["neurobench"]["Effective_ACs"] == pytest.approx(e["paper_convention"]["ac"])  # binary input
    assert e["neurobench"]["Dense"] > e["neurobench"]["Effective_ACs"] > 0
    md, summary = render_markdown(report), render_summary(report)
    assert "45 nm arithmetic only" in md and "45 nm arithmetic only" in summary
    assert band_text(e) in md and band_text(e) in summary and band_text(e).startswith(", band ")
    assert "NeuroBench counts" in md and "Hala Point" in md
    assert bundle.manifest["report"]["energy"]["target_model"]["band"]["high"]["total_j"] > 0


def compiled_model():
    import torch
    from torch import nn

    from snncc import neurons as N

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), N.LIF(beta=0.9, threshold=0.5), nn.Linear(8, 3), N.LIF(beta=0.8))
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    return model


def _loihi2_with(edit) -> dict:
    data = LOIHI2.to_yaml_data()
    edit(data)
    return data


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["energy"]["synop"]["low"].update(value=30.0), "low <= value <= high"),
    (lambda d: d["energy"]["synop"].pop("high"), "needs both low and high"),
    (lambda d: d["energy"]["synop"]["low"].update(source=" "), "'energy.synop.low.source'"),
    (lambda d: d["energy"]["synop"]["high"].update(value="a lot"), "'energy.synop.high.value'"),
    (lambda d: d["energy"]["synop"].update(low=6.8), "'energy.synop.low' must be a mapping"),
    (lambda d: d["formats"]["weight_bits"].update(low={"value": 6, "source": "s"}, high={"value": 8, "source": "s"}),
     "a band needs a number figure"),
])
def test_malformed_band_is_refused_in_one_line(edit, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(_loihi2_with(edit), "t.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bands_round_trip_and_older_files_keep_their_meaning() -> None:
    again = parse_target(json.loads(json.dumps(LOIHI2.to_yaml_data())), "copy")  # as a bundle's manifest stores it
    assert again.figures == LOIHI2.figures
    old = LOIHI2.to_yaml_data()
    for section, key in (("energy", "neuron_update_inactive"), ("energy", "spike_hop_ns"),
                         ("timing", "neuron_update_inactive_time")):
        del old[section][key]
    t = parse_target(old, "old.yaml")
    assert t.figures["energy"]["spike_hop_ns"].value == t.figures["energy"]["spike_hop"].value
    assert t.figures["energy"]["neuron_update_inactive"].bound("high") == 81.0  # the active figure, band and all
    assert "default" in t.figures["timing"]["neuron_update_inactive_time"].source
