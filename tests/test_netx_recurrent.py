"""netx's ``dense_rec``: a layer feeding its own spikes back is exported as one, run by netx's own Lava network
bit-exact with the reference (spikes, u, v); read back in by the netx frontend (round trip, and a SLAYER-built
recurrent block); what netx cannot describe is a one-line error naming the synapse and why, and a compile of such
a graph still writes its bundle with the reason recorded."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from snncc import fixedpoint as fx
from snncc.backends.lava import netx_export as netx_export_module
from snncc.backends.lava import netx_expressible, run_netx, write_netx
from snncc.backends.reference import ReferenceSimulator, SimResult
from snncc.bundle import Bundle
from snncc.compat.lava import import_netx
from snncc.compiler import compile_model
from snncc.errors import ModelLoadError, UnsupportedLayerError
from snncc.families.lif.nodes import QLIF
from snncc.frontend import import_model
from snncc.ir import Graph, QConv, QDense, keys
from snncc.verify import verify_bundle
from tests.graphs import random_inputs
from tests.slayer_nets import train_and_export
from tests.test_netx import expressible_graph
from tests.test_primitives_lava import feedback_graph

pytestmark = pytest.mark.lava
SEEDS = tuple(range(6))  # each a netx run per sample (a dense_rec file runs one sample per Lava run)


def add_rec(graph: Graph, layer: str, weight: np.ndarray, exp: int = 0, name: str | None = None) -> str:
    """A recurrent QDense from ``layer``'s spikes back into ``layer``."""
    name = name or f"rec_{layer}"
    graph.nodes[name] = QDense(weight=weight, weight_exp=exp, metadata={keys.RECURRENT: True})
    graph.edges += [(layer, name), (name, layer)]
    return name


def recurrent_chain(seed: int) -> tuple[Graph, np.ndarray, list[str]]:
    """A netx-expressible chain of 1-3 CUBA layers, some with a self-recurrent synapse (all-to-all or diagonal, the
    mantissas scaled by up to 2**1), no bias on those layers or before them."""
    rng = np.random.default_rng(seed)
    n_layers = int(rng.integers(1, 4))
    sizes = [int(s) for s in rng.integers(3, 12, size=n_layers + 1)]
    exps = [int(e) for e in rng.integers(-1, 2, size=n_layers)]
    graph = expressible_graph(rng, sizes, bool(seed % 3 == 2), 5, exps=exps,
                              du=[int(v) for v in rng.integers(0, 4096, size=n_layers)],
                              dv=[int(v) for v in rng.integers(0, 1000, size=n_layers)],
                              vth=[int(v) for v in rng.integers(20, 200, size=n_layers)])
    rec = sorted({f"lif{i}" for i in rng.integers(0, n_layers, size=2)})
    last = max(int(r[3:]) for r in rec)
    for i, layer in enumerate(f"lif{i}" for i in range(n_layers)):
        if i <= last:
            graph.nodes[layer].bias_mant[:] = 0
        if layer in rec:
            n = sizes[i + 1]
            w = rng.integers(-120, 90, size=(n, n))
            add_rec(graph, layer, np.diag(np.diag(w)) if rng.random() < 0.3 else w, exp=int(rng.integers(0, 2)))
    graded = graph.nodes["dense0"].graded
    x = random_inputs(rng, int(rng.integers(2, 4)), int(rng.integers(3, 9)), sizes[0], graded=graded, max_value=5,
                      rate=0.5)
    return graph, x, rec


def assert_same(got: SimResult, ref: SimResult, states: bool = True) -> None:
    for name, trace in ref.layers.items():
        for what in ("spikes", "u", "v") if states else ("spikes",):
            np.testing.assert_array_equal(getattr(got.layers[name], what), getattr(trace, what),
                                          err_msg=f"{name}.{what}")
    assert {k: c.to_dict() for k, c in got.counts.items()} == {k: c.to_dict() for k, c in ref.counts.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_rec_file_matches_reference(tmp_path: Path, seed: int) -> None:
    graph, x, rec = recurrent_chain(seed)
    assert netx_expressible(graph) is None
    path = write_netx(graph, tmp_path / "net.net")
    with h5py.File(path) as f:
        types = [f[f"layer/{i}/type"][0].decode() for i in range(1, len(f["layer"]))]
    assert [t == "dense_rec" for t in types] == [f"lif{i}" in rec for i in range(len(types))]
    ref = ReferenceSimulator(graph).run(x, record_states=True)
    assert_same(run_netx(path, graph, x, record_states=True), ref)
    plain = graph.copy()
    for r in rec:
        plain.nodes[f"rec_{r}"].weight[:] = 0
    changed = not all(np.array_equal(ref.layers[n].spikes, ReferenceSimulator(plain).run(x).layers[n].spikes)
                      for n in ref.layers)
    assert changed, "the recurrence changes nothing: the comparison would prove little"


def test_netx_builds_recurrent_dense_with_one_exponent(tmp_path: Path) -> None:
    """netx loads the file as a RecurrentDense whose two synapses share the exponent and give back the graph's
    synapses exactly (each Dense clips and truncates under its own sign mode)."""
    rng = np.random.default_rng(3)
    graph = expressible_graph(rng, [5, 6], False, 1, exps=[0], du=[10], dv=[10], vth=[50])
    graph.nodes["lif0"].bias_mant[:] = 0
    add_rec(graph, "lif0", -np.abs(rng.integers(1, 100, size=(6, 6))))  # inhibitory: a sign mode of its own
    path = write_netx(graph, tmp_path / "net.net")
    netx = import_netx()
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    net = netx.hdf5.Network(net_config=str(path))
    try:
        (block,) = net.layers
        assert type(block).__name__ == "RecurrentDense"
        (exp,) = {s.proc_params["weight_exp"] for s in (block.synapse, block.synapse_rec)}
        modes = []
        for syn, name in ((block.synapse, "dense0"), (block.synapse_rec, "rec_lif0")):
            w = syn.weights.init
            modes.append(determine_sign_mode(w))
            w = np.asarray(truncate_weights(clip_weights(w, modes[-1], 8), modes[-1],
                                            syn.proc_params["num_weight_bits"]), np.int64)
            node = graph.nodes[name]
            np.testing.assert_array_equal(w << exp if exp >= 0 else w >> -exp, node.weight << node.weight_exp)
        assert modes[0] != modes[1]  # mixed feed-forward, inhibitory recurrent weights
    finally:
        net.net_config.f.close()


# ---- what netx cannot describe ------------------------------------------------------------------------------
def chain(rng: np.random.Generator) -> Graph:
    graph = expressible_graph(rng, [6, 5, 4], False, 1, exps=[0, 0], du=[10, 10], dv=[10, 10], vth=[50, 50])
    for layer in ("lif0", "lif1"):
        graph.nodes[layer].bias_mant[:] = 0
    return graph


def _feedback(g: Graph) -> None:
    g.nodes["back"] = QDense(weight=np.full((5, 4), -3), metadata={keys.RECURRENT: True})
    g.edges += [("lif1", "back"), ("back", "lif0")]


def _two(g: Graph) -> None:
    add_rec(g, "lif1", np.full((4, 4), -2), name="rec_a")
    add_rec(g, "lif1", np.full((4, 4), -3), name="rec_b")


def _joint(g: Graph) -> None:
    """Each alone quantizes exactly; side by side the shared exponent of netx loses the odd recurrent weights."""
    g.nodes["dense1"].weight[:] = 120
    g.nodes["dense1"].weight[0, 0] = -128
    g.nodes["dense1"].weight_exp = 1  # [-256, 240]: netx halves them ...
    add_rec(g, "lif1", np.full((4, 4), 3))  # ... and 3 is odd


def _bias(g: Graph) -> None:
    """lif1's bias alone passes its threshold each step (100 << 6 > 50 << 6): it spikes at steps 0 and 1 (after
    its hard reset at 0), its reset comes at step 2."""
    g.nodes["lif1"].bias_mant[:], g.nodes["lif1"].bias_exp[:] = 100, 6
    add_rec(g, "lif1", np.full((4, 4), -1))


def _upstream_bias(g: Graph) -> None:
    """lif0 (no recurrence) fires on its bias at step 0, before its reset; its spikes drive lif1 over threshold at
    step 1, the step before lif1's reset."""
    g.nodes["lif0"].bias_mant[:], g.nodes["lif0"].bias_exp[:] = 60, 6
    g.nodes["dense1"].weight[:] = 100
    add_rec(g, "lif1", np.full((4, 4), -5))


def _conv(g: Graph) -> None:
    g.nodes["dense0"] = QConv(weight=np.ones((5, 6, 1, 1), np.int64), input_shape=(6, 1, 1))
    add_rec(g, "lif0", np.full((5, 5), -3))


def _conv_rec(g: Graph) -> None:
    g.nodes["rec_lif1"] = QConv(weight=np.ones((4, 4, 1, 1), np.int64), input_shape=(4, 1, 1),
                                metadata={keys.RECURRENT: True})
    g.edges += [("lif1", "rec_lif1"), ("rec_lif1", "lif1")]


def _delayed(g: Graph) -> None:
    """A loop trained to feed back after 2 steps (compiled, its feedback path holds a relay)."""
    rec = add_rec(g, "lif1", np.full((4, 4), -3))
    g.nodes[rec].metadata[keys.FEEDBACK_DELAY] = 2


@pytest.mark.parametrize(("mutate", "layer", "words"), [
    (_feedback, "back", "feeds lif1's spikes into lif0"),
    (_delayed, "rec_lif1", "trained with delay=2"),
    (_two, "rec_b", "one weight_rec per layer"),
    (_joint, "rec_lif1", "together, one exponent"),
    (_bias, "lif1", "spike at step 1, the step before its first reset"),
    (_upstream_bias, "lif1", "spike at step 1"),
    (_conv, "rec_lif0", "conv layer lif0"),
    (_conv_rec, "rec_lif1", "this recurrent synapse is a snncc.QConv"),
])
def test_what_netx_cannot_describe_names_the_synapse(tmp_path: Path, mutate, layer: str, words: str) -> None:
    graph = chain(np.random.default_rng(0))
    assert netx_expressible(graph) is None
    mutate(graph)
    with pytest.raises(UnsupportedLayerError, match=words) as exc:
        write_netx(graph, tmp_path / "net.net")
    assert exc.value.layer == layer
    assert not (tmp_path / "net.net").exists()
    assert layer in netx_expressible(graph)


def test_each_alone_quantizes_in_the_joint_case() -> None:
    """The joint-exponent refusal is netx's own: the feed-forward and the recurrent weights each export alone."""
    graph = chain(np.random.default_rng(0))
    _joint(graph)
    alone = graph.copy()
    alone.nodes["rec_lif1"].metadata = {}
    alone.edges = [e for e in alone.edges if "rec_lif1" not in e]
    assert netx_expressible(alone) is None
    single = chain(np.random.default_rng(0))
    add_rec(single, "lif1", np.full((4, 4), 3))
    assert netx_expressible(single) is None


@pytest.mark.parametrize("mutate", [_bias, _upstream_bias])
def test_the_silence_check_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutate) -> None:
    """Written anyway (the check switched off), such a file does differ from the reference, in lif1's first step."""
    graph = chain(np.random.default_rng(0))
    mutate(graph)
    monkeypatch.setattr(netx_export_module, "silent_before_window", lambda *args: None)
    path = write_netx(graph, tmp_path / "net.net")
    x = np.zeros((1, 4, 6), np.int64)
    got, ref = run_netx(path, graph, x, record_states=True), ReferenceSimulator(graph).run(x, record_states=True)
    assert not np.array_equal(got.layers["lif1"].u[:, 0], ref.layers["lif1"].u[:, 0])  # the early spike, fed back
    np.testing.assert_array_equal(got.layers["lif0"].spikes, ref.layers["lif0"].spikes)


def test_a_bias_that_stays_below_threshold_before_the_window_exports(tmp_path: Path) -> None:
    """lif0 fires on its bias before its reset and lif1 (recurrent, biased) integrates it without spiking: the
    file is exact, the early activity wiped by the resets."""
    graph = chain(np.random.default_rng(0))
    graph.nodes["lif0"].bias_mant[:], graph.nodes["lif0"].bias_exp[:] = 60, 6
    graph.nodes["lif1"].bias_mant[:], graph.nodes["lif1"].bias_exp[:] = 20, 6
    graph.nodes["dense1"].weight[:] = 2
    add_rec(graph, "lif1", np.full((4, 4), -5))
    assert netx_expressible(graph) is None
    path = write_netx(graph, tmp_path / "net.net")
    x = random_inputs(np.random.default_rng(1), 2, 6, 6, rate=0.5)
    ref = ReferenceSimulator(graph).run(x, record_states=True)
    assert (60 << 6) > graph.nodes["lif0"].vth << 6  # lif0 fires at step 0, before its reset, on its bias alone
    assert ref.layers["lif1"].spikes.any()
    assert_same(run_netx(path, graph, x, record_states=True), ref)


def test_compile_of_a_graph_netx_cannot_describe_records_why(tmp_path: Path) -> None:
    """Feedback from lif2 into lif0: the bundle is written without network.net, the manifest and the report say
    why, and the netx backend refuses with that reason while Lava verifies."""
    graph = feedback_graph(np.random.default_rng(4), False)
    graph.metadata[keys.QUANTIZED] = True
    bundle = compile_model(graph, out_dir=tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["netx"]["file"] is None and not (tmp_path / "b" / "network.net").exists()
    assert "this synapse feeds lif2's spikes into lif0" in manifest["netx"]["reason"]
    assert "back" in json.loads((tmp_path / "b" / "report.json").read_text())["netx"]["status"]
    result = verify_bundle(Bundle.load(tmp_path / "b"), samples=2, seed=0)
    by = {c.b: c for c in result.comparisons}
    assert by["lava"].equal and "netx" not in by
    assert bundle.netx_path is None


def test_a_loop_trained_with_a_longer_delay_is_not_exported(tmp_path: Path) -> None:
    """Recurrent(delay=2) from torch: the quantized feedback synapse keeps its trained delay, the bundle has no
    netx file and says why (netx's dense_rec feeds back after one step), Lava still verifies."""
    import torch
    from torch import nn

    from snncc import neurons as N

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), N.Recurrent(N.LIF(threshold=0.5), 4, delay=2), nn.Linear(4, 3),
                          N.LIF(threshold=0.3))
    bundle = compile_model(model, out_dir=tmp_path / "b")
    (fb,) = [n for n in bundle.graph.nodes if bundle.graph.is_recurrent(n)]
    assert bundle.graph.nodes[fb].metadata[keys.FEEDBACK_DELAY] == 2
    assert bundle.graph.predecessors(fb)[0].endswith("__relay0")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["netx"]["file"] is None
    assert f"layer '{fb}': netx's dense_rec feeds spikes back after one step" in manifest["netx"]["reason"]
    result = verify_bundle(Bundle.load(tmp_path / "b"), samples=2, seed=0)
    assert {c.b: c.equal for c in result.comparisons}["lava"]


# ---- netx files in ------------------------------------------------------------------------------------------
def test_round_trip_export_import(tmp_path: Path) -> None:
    """A dense_rec file read back is the graph it was written from: same synapses (recurrent marked), same
    traces on the reference, and netx's own run of the file equals the import's reference."""
    graph, x, rec = recurrent_chain(4)
    path = write_netx(graph, tmp_path / "net.net")
    back = import_model(path)
    recurrent = [n for n in back.nodes if back.is_recurrent(n)]
    assert len(recurrent) == len(rec)
    for name in recurrent:
        (src,) = back.predecessors(name)
        assert back.successors(name) == [src]
    ref, got = ReferenceSimulator(graph).run(x, record_states=True), ReferenceSimulator(back).run(x, record_states=True)
    for i, layer in enumerate(n for n in graph.nodes if n.startswith("lif")):
        imported = f"dense_{i + 1}"
        for what in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(got.layers[imported], what), getattr(ref.layers[layer], what))


def test_slayer_recurrent_block_compiles_and_verifies(tmp_path: Path) -> None:
    """lava-dl's own cuba.Recurrent (trained a few steps, exported by SLAYER) compiles; the bundle's reference
    equals netx's own network (spikes, u, v) and snncc's Lava graph."""
    net = train_and_export("dense_rec", tmp_path / "rec.net")
    bundle = compile_model(net, out_dir=tmp_path / "b")
    rec = [n for n in bundle.graph.nodes if bundle.graph.is_recurrent(n)]
    assert rec == ["rec_0"] and bundle.graph.predecessors("rec_0") == ["dense_0"]
    assert np.any(bundle.graph.nodes["rec_0"].weight)
    result = verify_bundle(Bundle.load(tmp_path / "b"), samples=3, seed=1)
    by = {c.b: c for c in result.comparisons}
    assert by["netx"].equal, by["netx"].first_mismatch
    assert by["lava"].equal, by["lava"].first_mismatch
    assert {"dense_0.spikes", "dense_0.u", "dense_0.v"} <= set(by["netx"].checked)


def test_sigma_delta_dense_rec_with_graded_input_verifies(tmp_path: Path) -> None:
    """A SLAYER SDNN whose hidden dense block is made a dense_rec (weight_rec added): its input is the Delta
    encoder's graded payloads, so netx's recurrent synapse is graded too; netx's own network equals the reference."""
    path = train_and_export("dense_sdnn", tmp_path / "sd.net", iterations=2)
    with h5py.File(path, "r+") as f:
        block = f["layer/1"]
        del block["type"]
        block.create_dataset("type", (1,), "S10", [b"dense_rec"])
        block.create_dataset("weight_rec", data=np.random.default_rng(0).integers(-40, 40, size=(16, 16)))
    bundle = compile_model(path, out_dir=tmp_path / "b")
    assert bundle.graph.is_recurrent("rec_1") and bundle.graph.nodes["rec_1"].graded
    result = verify_bundle(Bundle.load(tmp_path / "b"), samples=2, seed=1)
    by = {c.b: c for c in result.comparisons}
    assert by["netx"].equal, by["netx"].first_mismatch
    assert by["lava"].equal, by["lava"].first_mismatch


def test_slayer_recurrent_block_with_an_early_spiking_bias_is_refused(tmp_path: Path) -> None:
    path = train_and_export("dense_rec", tmp_path / "rec.net", iterations=1)
    with h5py.File(path, "r+") as f:
        f["layer/0"].create_dataset("bias", data=np.full(16, 1 << 16))  # past vThMant in one step
    with pytest.raises(UnsupportedLayerError, match="step before its first reset") as exc:
        import_model(path)
    assert exc.value.layer == "layer/0"


def _dense_rec_file(path: Path, neuron: dict, weight_rec: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        block = f.create_group("layer/0")
        block.create_dataset("type", (1,), "S10", [b"dense_rec"])
        block.create_dataset("shape", data=np.array([3]))
        block.create_dataset("weight", data=np.arange(-4, 2).reshape(3, 2) * 8)
        block.create_dataset("weight_rec", data=weight_rec)
        for key, value in neuron.items():
            block.create_dataset(f"neuron/{key}", data=value)
    return path


def test_dense_rec_blocks_netx_reads_differently_are_refused(tmp_path: Path) -> None:
    """A graded (SDNN) dense_rec fed binary input: netx's recurrent synapse would take the block's input message
    bits (0) and count each payload as one spike; a weight_rec that does not map the block onto itself is a
    damaged file."""
    sdnn = {"type": "SDNN", "vThMant": 2}
    with pytest.raises(UnsupportedLayerError, match="input message bits") as exc:
        import_model(_dense_rec_file(tmp_path / "sd.net", sdnn, np.eye(3, dtype=np.int64) * 4))
    assert exc.value.layer == "layer/0"
    cuba = {"type": "CUBA", "iDecay": 100, "vDecay": 100, "vThMant": 40}
    with pytest.raises(ModelLoadError, match="weight_rec of shape"):
        import_model(_dense_rec_file(tmp_path / "bad.net", cuba, np.ones((3, 2), np.int64)))
    graph = import_model(_dense_rec_file(tmp_path / "ok.net", cuba, -np.eye(3, dtype=np.int64) * 4))
    assert graph.is_recurrent("rec_0") and isinstance(graph.nodes["dense_0"], QLIF)
    rec = graph.nodes["rec_0"]
    np.testing.assert_array_equal(fx.shift_floor(rec.weight, rec.weight_exp), -np.eye(3, dtype=np.int64) * 4)

