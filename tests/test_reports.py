"""Reports: counts agree with hand computation, traffic follows placement, energy uses the target's figures."""

import nir
import numpy as np
import pytest

from snncc.backends.reference import ReferenceSimulator
from snncc.conv import fan_in_mask
from snncc.families.lif.nodes import LIFNeuron
from snncc.ir import Graph
from snncc.mapping import Core, Mapping
from snncc.passes import PassContext, PassManager, default_pipeline
from snncc.reports import energy_report, resource_report
from snncc.reports.energy import traffic
from snncc.target import load_target

TARGET = load_target("loihi2")


def compiled(n_in=4, n_hidden=3, n_out=2, options=None):
    g = Graph(nodes={"input": nir.Input(input_type={"input": np.array([n_in])}),
                     "fc1": nir.Linear(weight=np.ones((n_hidden, n_in))),
                     "l1": LIFNeuron(decay_v=1.0, decay_i=0.0, threshold=np.full(n_hidden, 1.5),
                                     bias=np.zeros(n_hidden)),
                     "fc2": nir.Linear(weight=np.eye(n_out, n_hidden)),
                     "l2": LIFNeuron(decay_v=1.0, decay_i=0.0, threshold=np.full(n_out, 0.5), bias=np.zeros(n_out)),
                     "output": nir.Output(output_type={"output": np.array([n_out])})},
              edges=[("input", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "output")],
              metadata={"dt": 1.0})
    return PassManager(default_pipeline(options)).run(g, PassContext(target=TARGET))


def place(g: Graph, **cores: Core) -> None:
    """Move each named layer's (single) block to the given core."""
    mapping = Mapping.of(g)
    for layer, core in cores.items():
        mapping.layers[layer].cores = [core]
    mapping.store(g)


def test_counts_match_hand_computation():
    g = compiled()
    x = np.zeros((1, 3, 4), np.int64)
    x[0, 0, :2] = 1  # two input spikes at t=0: each reaches 3 non-zero weights
    x[0, 1, :] = 1  # four at t=1
    r = ReferenceSimulator(g).run(x)
    assert r.counts["fc1"].synops == (2 + 4) * 3 and r.counts["fc1"].synops_dense == 3 * 12
    # each l1 neuron receives 2 at t=0 and 4 at t=1: above the threshold 1.5 both times (hard reset)
    assert r.layers["l1"].spikes[0].sum(axis=1).tolist() == [3, 3, 0]
    assert r.counts["fc2"].synops == 2 * 2  # eye(2, 3): two of the three hidden neurons have a weight
    assert r.counts["l1"].neuron_updates == 3 * 3 and r.counts["l1"].spikes == 6
    e = energy_report(g, r.counts, TARGET, samples=1, timesteps=3, latency=r.latency)
    assert e["per_inference"]["synops"] == 18 + 4
    synop = TARGET.figures["energy"]["synop"].value
    assert e["target_model"]["dynamic_j"]["synops"] == pytest.approx(22 * synop * 1e-12)
    assert e["paper_convention"]["ac"] == 22 and e["paper_convention"]["mac"] == 0  # binary input: all ACs
    assert e["paper_convention"]["ann_mac"] == 12 + 6
    assert e["figures"]["energy.synop"]["confirmed"] is False  # provenance travels with the number
    pi = e["per_inference"]  # both layers share one core: every message stays in it
    assert pi["messages_within_core"] == pi["spike_messages"] == 6 and pi["hops_per_message"] == 0
    assert pi["messages_between_cores"] == pi["messages_between_chips"] == 0


def test_traffic_follows_placement():
    g = compiled()
    place(g, l1=Core(0, 0, 0, 0), l2=Core(0, 5, 2, 3))
    t = traffic(g, {"l1": np.array([1, 2, 3]), "l2": np.array([4, 0])})
    assert t["l1"] == {"messages": 6, "recurrent_messages": 0, "messages_within_core": 0, "messages_between_cores": 6,
                       "messages_between_chips": 0, "hops": 6 * 5, "hops_ew": 6 * 3, "hops_ns": 6 * 2,
                       "chip_hops": 0}  # l2 sits 2 rows (north-south) and 3 columns (east-west) away
    assert set(t["l2"].values()) == {0}  # nothing downstream
    place(g, l2=Core(2, 0, 0, 0))
    t = traffic(g, {"l1": np.array([1, 0, 0]), "l2": np.zeros(2)})["l1"]
    assert t["chip_hops"] == 2 and t["messages_between_chips"] == 1 and t["messages_between_cores"] == 0
    place(g, l2=Core(0, 0, 0, 0))  # the two layers share core 0:0
    t = traffic(g, {"l1": np.array([1, 2, 0]), "l2": np.zeros(2)})["l1"]
    assert t["messages_within_core"] == t["messages"] == 3 and t["hops"] == 0


def test_resource_report_utilisation():
    """Both layers share one core (two of its neuron groups): the core spends what the two blocks spend, and l1's
    spikes need one output axon each, to that same core."""
    r = resource_report(compiled(), TARGET)
    assert r["cores_used"] == 1 and r["cores_lower_bound"] == 1
    l1, l2 = r["blocks"]
    # memory (loihi2.yaml memory_model): 20 bits per synapse rounded up to bytes, no neuron state, 3 bytes per input
    assert l1["use"] == {"neurons": 3, "memory": -(-3 * 4 * 20 // 8) + 4 * 3, "input_axons": 4, "output_axons": 3}
    assert l2["use"] == {"neurons": 2, "memory": -(-2 * 3 * 20 // 8) + 3 * 3, "input_axons": 3, "output_axons": 0}
    (core,) = r["cores"]
    assert core["layers"] == ["l1", "l2"] and core["groups"] == 2
    assert core["use"] == {k: l1["use"][k] + l2["use"][k] for k in l1["use"]}
    assert core["utilisation"]["neurons"] == pytest.approx(5 / 4096)
    assert core["utilisation"]["neuron_groups"] == pytest.approx(2 / 8)
    assert r["layers"]["l1"]["synapses_nonzero"] == 12 and r["layers"]["l2"]["synapses_nonzero"] == 2


def test_unshared_cores_when_the_option_is_off():
    r = resource_report(compiled(options={"partition.share_cores": False}), TARGET)
    assert r["cores_used"] == 2 and [c["layers"] for c in r["cores"]] == [["l1"], ["l2"]]
    assert r["blocks"][0]["use"]["output_axons"] == 3


def test_traffic_of_tiled_conv_layers_reaches_only_the_tiles_that_read_each_spike():
    """Column-cut tiles (non-contiguous blocks): messages recomputed from the convolutions' dense (out, in) masks."""
    from tests.test_conv_mapping import Dense, conv_net, mapped, target_with

    target = target_with(input_axons=3 * 6 * 6)
    g = mapped(conv_net(c2=2), target)
    mapping = Mapping.of(g)
    assert any(len(b.ranges) > 1 for b in mapping.layers["lif1"].blocks)
    dense = Dense(g)
    rng = np.random.default_rng(0)
    counts = {n: rng.integers(0, 4, len(g.nodes[n].bias_mant)) for n in ("lif1", "lif2", "lif3")}
    t = traffic(g, counts)
    for src, syn, dst in (("lif1", "conv2", "lif2"), ("lif2", "fc", "lif3")):
        msgs = hops = 0
        for block, core in zip(mapping.layers[src].blocks, mapping.layers[src].cores, strict=True):
            for dblock, dcore in zip(mapping.layers[dst].blocks, mapping.layers[dst].cores, strict=True):
                reads = dense.mask[syn][dblock.index()].any(axis=0)  # inputs this consumer core reads
                sent = int(counts[src][block.index()][reads[block.index()]].sum())
                msgs, hops = msgs + sent, hops + sent * (abs(dcore.row - core.row) + abs(dcore.col - core.col))
        assert {k: t[src][k] for k in ("messages", "recurrent_messages", "hops", "chip_hops")} == {
            "messages": msgs, "recurrent_messages": 0, "hops": hops, "chip_hops": 0}
        assert t[src]["messages_within_core"] + t[src]["messages_between_cores"] == msgs
    # a tile's receptive field is not the whole map: fewer messages than one per consumer core per spike
    assert t["lif1"]["messages"] < len(mapping.layers["lif2"].blocks) * int(counts["lif1"].sum())


def test_energy_counts_convolution_synops_and_ann_macs():
    from tests.test_conv_mapping import conv_net, mapped

    g = mapped(conv_net())
    x = np.random.default_rng(1).integers(0, 2, (1, 4, 3 * 12 * 12))
    r = ReferenceSimulator(g).run(x)
    e = energy_report(g, r.counts, TARGET, samples=1, timesteps=4, latency=r.latency)
    assert e["layers"]["conv1"]["synops"] == r.counts["conv1"].synops > 0
    assert e["per_inference"]["synops"] == sum(r.counts[s].synops for s in ("conv1", "conv2", "fc"))
    ann = sum(int(fan_in_mask(g.nodes[s].geometry).sum()) for s in ("conv1", "conv2")) + g.nodes["fc"].weight.size
    assert e["paper_convention"]["ann_mac"] == ann


def test_core_map_colours_each_used_core_by_its_fullest_limit(tmp_path):
    from PIL import Image

    from snncc.reports import plot_core_map
    from snncc.reports.core_map import core_grid

    g = compiled(options={"partition.share_cores": False})
    place(g, l1=Core(0, 0, 0, 0), l2=Core(0, 5, 2, 3))
    report = resource_report(g, TARGET)
    mesh = tuple(TARGET.value("system", "mesh_shape"))
    (grid,) = core_grid(report, mesh).values()
    fullest = {tuple(c["mesh"]): max(c["utilisation"].values()) for c in report["cores"]}
    assert fullest.keys() == {(0, 0), (2, 3)}
    for (r, c), v in np.ndenumerate(grid):
        assert (np.isnan(v) and (r, c) not in fullest) or v == fullest[r, c]
    png = plot_core_map(report, mesh, tmp_path / "cores.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 200 and im.size[1] > 200


def test_compiled_bundle_lists_its_core_map(tmp_path):
    import json

    import torch

    import snncc
    from snncc.neurons import LIF

    model = torch.nn.Sequential(torch.nn.Linear(6, 5), LIF(beta=0.9), torch.nn.Linear(5, 3), LIF(beta=0.9))
    path = tmp_path / "m.pt"
    torch.save(model, path)
    bundle = snncc.compile(path, "loihi2", out_dir=tmp_path / "b", options=snncc.Options(timesteps=4))
    report = json.loads((bundle.path / "report.json").read_text())
    assert report["resources"]["core_map"] == "cores.png" and "cores.png" in bundle.manifest["files"]
    assert "](cores.png)" in (bundle.path / "report.md").read_text()
