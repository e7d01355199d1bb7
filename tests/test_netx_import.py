"""netx files in: real SLAYER networks compile (``snncc compile x.net``) and run bit-exact with netx's own Lava
network; the sigma-delta rule equals lava-nc's; damaged and unsupported files are one-line errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.bundle import Bundle
from snncc.cli import main
from snncc.compat.lava import import_netx
from snncc.errors import ModelLoadError, UnsupportedLayerError
from snncc.families.sigma_delta.integer import sigma_delta_step
from snncc.frontend import import_model
from snncc.frontend.netx_import import is_netx
from snncc.ir import QConv, QDense, keys
from snncc.verify import verify_bundle
from tests.slayer_nets import train_and_export

pytestmark = pytest.mark.lava
NETS = ("dense_cuba", "conv_cuba", "dense_sdnn", "conv_sdnn")


@pytest.fixture(scope="module")
def nets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("slayer")
    out = {}
    for kind in NETS:
        start = time.perf_counter()
        out[kind] = train_and_export(kind, folder / f"{kind}.net")
        assert time.perf_counter() - start < 20, f"training {kind} took too long"
    return out


@pytest.mark.parametrize("kind", NETS)
def test_slayer_net_compiles_and_verifies_against_netx(nets: dict[str, Path], kind: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bundle"
    assert main(["compile", str(nets[kind]), "-o", str(out), "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert "core(s)" in summary and "energy per inference" in summary
    assert (out / "network.net").read_bytes() == nets[kind].read_bytes()  # the user's own file
    report = json.loads((out / "report.json").read_text())
    assert report["resources"] and report["energy"]
    bundle = Bundle.load(out)
    result = verify_bundle(bundle, samples=3, seed=1)
    by_backend = {c.b: c for c in result.comparisons}
    assert by_backend["netx"].equal, by_backend["netx"].first_mismatch
    assert by_backend["lava"].equal, by_backend["lava"].first_mismatch
    layers = [n for n, node in bundle.graph.nodes.items() if hasattr(node, "integer_step")]
    assert {f"{n}.spikes" for n in layers} <= set(by_backend["netx"].checked)
    assert any(c.endswith(".u") for c in by_backend["netx"].checked)  # netx's u/v (sigma/act) compared too
    spikes = bundle.run(np.asarray(result_inputs(bundle)), "reference").layers[layers[-1]].spikes
    assert np.any(spikes), "the output layer is silent: the comparison would prove little"
    assert main(["verify", str(out), "--samples", "2", "--quiet"]) == 0


def result_inputs(bundle: Bundle) -> np.ndarray:
    from snncc.inputs import random_inputs

    return random_inputs(bundle.encoding, bundle.n_inputs, 4, bundle.timesteps, 3)


def test_imported_values_are_netx_own(nets: dict[str, Path]) -> None:
    """The deployed synapses are what netx hands Lava: Dense = optimize_weight_bits + clip/truncate, Conv = the
    file's kernel; neurons from the file's fields."""
    netx = import_netx()
    graph = import_model(nets["dense_cuba"])
    assert graph.metadata[keys.QUANTIZED] and is_netx(nets["dense_cuba"])
    with _net(netx, nets["dense_cuba"]) as net:
        for k, name in enumerate(("syn_0", "syn_1")):
            node: QDense = graph.nodes[name]
            syn = net.layers[k].synapse
            from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

            w = syn.weights.init
            mode = determine_sign_mode(w)
            w = truncate_weights(clip_weights(w, mode, 8), mode, syn.proc_params["num_weight_bits"])
            assert np.array_equal(node.weight << (node.weight_exp - syn.proc_params["weight_exp"]), w)
            lif = net.layers[k].neuron
            q = graph.nodes[f"dense_{k}"]
            assert (q.du, q.dv, q.vth) == (int(lif.du.init), int(lif.dv.init), int(lif.vth.init))
    conv = import_model(nets["conv_cuba"])
    with h5py.File(nets["conv_cuba"]) as f:
        kernel = f["layer/0/weight"][()]
    node: QConv = conv.nodes["syn_0"]
    assert np.array_equal(node.weight << node.weight_exp, kernel)


class _net:
    def __init__(self, netx, path: Path) -> None:
        self.net = netx.hdf5.Network(net_config=str(path))

    def __enter__(self):
        return self.net

    def __exit__(self, *exc) -> None:
        self.net.net_config.f.close()


def test_netx_still_refuses_pool_blocks(nets: dict[str, Path]) -> None:
    """compat's pool workaround is needed: netx 0.6.0 itself cannot build the pool block SLAYER exports."""
    netx = import_netx()
    with pytest.raises(NotImplementedError, match="pool"):
        netx.hdf5.Network(net_config=str(nets["conv_cuba"]), input_shape=(8, 8, 2))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_sigma_delta_rule_equals_lava_sdn(data: st.DataObject) -> None:
    """The family's rule == lava-nc's own PySigmaDeltaModelFixed / PyDeltaModelFixed / PySigmaModelFixed code on
    random inputs (its dynamics methods, called on a model object holding the same state)."""
    from snncc.compat.lava import import_lava

    import_lava()
    from lava.proc.sdn.models import PyDeltaModelFixed, PySigmaDeltaModelFixed, PySigmaModelFixed
    from lava.proc.sdn.process import ActivationMode

    mode = data.draw(st.sampled_from(("sigma_delta", "delta", "sigma")))
    cum_error = data.draw(st.booleans())
    vth, se, st_exp = data.draw(st.integers(0, 64)), data.draw(st.integers(0, 7)), data.draw(st.integers(0, 7))
    n, steps = 5, 6
    bias = np.asarray(data.draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n)), np.int64)
    a = np.asarray(data.draw(st.lists(st.integers(-3000, 3000), min_size=n * steps, max_size=n * steps)),
                   np.int64).reshape(steps, n)
    cls = {"sigma_delta": PySigmaDeltaModelFixed, "delta": PyDeltaModelFixed, "sigma": PySigmaModelFixed}[mode]
    m = object.__new__(cls)
    z = np.zeros(n, np.int64)
    m.sigma, m.act, m.residue, m.error = z.copy(), z.copy(), z.copy(), z.copy()
    m.vth, m.spike_exp, m.state_exp, m.cum_error = vth << (se + st_exp), se, st_exp, cum_error
    m.bias, m.act_mode = bias << (se + st_exp), ActivationMode.RELU
    state = {w: z.copy() for w in ("sigma", "act", "residue", "error")}
    for t in range(steps):
        if mode == "sigma":
            m.sigma = m.sigma_dynamics(a[t])
            lava_out = m.sigma
        elif mode == "delta":
            x = np.left_shift(a[t], se + st_exp)
            lava_out = np.right_shift(m.delta_dynamics(x), st_exp)
            m.act = x
        else:
            lava_out = np.right_shift(m.dynamics(a[t]), st_exp)
        ours = sigma_delta_step(state, a[t], mode, vth, bias if mode == "sigma_delta" else z, "relu", cum_error,
                                se, st_exp)
        assert np.array_equal(ours, lava_out)
        assert np.array_equal(state["sigma"], m.sigma) and np.array_equal(state["residue"], m.residue)


def test_unsupported_block_is_one_line_error(nets: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "avg.net"
    shutil.copyfile(nets["dense_cuba"], path)
    with h5py.File(path, "r+") as f:
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [b"average"])
    with pytest.raises(UnsupportedLayerError, match=r"layer/1.*average"):
        import_model(path)
    rf = tmp_path / "rf.net"
    shutil.copyfile(nets["dense_cuba"], rf)
    with h5py.File(rf, "r+") as f:
        del f["layer/0/neuron/type"]
        f["layer/0/neuron"].create_dataset("type", data="RF_PHASE")
    with pytest.raises(UnsupportedLayerError, match=r"layer/0.*RF_PHASE"):
        import_model(rf)


def test_damaged_net_is_one_line_error(nets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "damaged.net"
    path.write_bytes(nets["conv_sdnn"].read_bytes()[:700])
    with pytest.raises(ModelLoadError, match="damaged"):
        import_model(path)
    assert main(["compile", str(path), "-o", str(tmp_path / "b"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "damaged.net" in err
    fractional = tmp_path / "fractional.net"
    shutil.copyfile(nets["dense_cuba"], fractional)
    with h5py.File(fractional, "r+") as f:
        f["layer/0/weight"][0, 0] = 0.5
    with pytest.raises(ModelLoadError, match=r"layer/0.*not integers"):
        import_model(fractional)


def test_delay_the_target_cannot_hold(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = train_and_export("dense_delay", tmp_path / "delay.net", iterations=1)
    with h5py.File(path) as f:
        assert f["layer/0/delay"][()].max() == 3  # slayer's own export of an axonal delay
    assert main(["compile", str(path), "-o", str(tmp_path / "b"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "syn_0" in err and "delay" in err and "loihi2" in err


def test_compat_builds_pool_blocks_as_depthwise_conv(nets: dict[str, Path]) -> None:
    from snncc.compat.lava import netx_network

    with netx_network(nets["conv_cuba"], input_shape=(8, 8, 2)) as net:
        pool = net.layers[1]
        assert type(pool).__name__ == "Conv" and int(pool.synapse.groups.init) == 4
        with h5py.File(nets["conv_cuba"]) as f:
            w = f["layer/1/weight"][()]
        assert np.array_equal(np.unique(pool.synapse.weight.init), np.unique(w))


def test_float_level_passes_skip_an_integer_import(nets: dict[str, Path]) -> None:
    from snncc.passes import PassContext, PassManager, default_pipeline
    from snncc.target import load_target

    graph = import_model(nets["dense_sdnn"])
    ctx = PassContext(target=load_target("loihi2"))
    final = PassManager(default_pipeline({}).passes).run(graph, ctx)
    assert ctx.notes["skipped"] == ["canonicalize", "balance-latency", "lower-neurons"]
    assert [type(n).__name__ for n in final.nodes.values()] == [type(n).__name__ for n in graph.nodes.values()]
    assert all(np.array_equal(final.nodes[k].weight, graph.nodes[k].weight) for k in graph.nodes if k.startswith("syn"))
