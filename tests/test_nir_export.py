"""``snncc export BUNDLE --nir``: the file is standard NIR (type-checked ``nir.read``), snncc re-imports it to the
same float graph bit for bit (identical float and integer spikes), snnTorch and Norse reproduce the float spikes
where their importers follow NIR's forward-Euler contract, and every refusal is one line naming the layer."""

from __future__ import annotations

import re
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from torch import nn

import snncc
from snncc import neurons as N
from snncc.bundle import Bundle
from snncc.cli import main
from snncc.export.nir import feature_table

ROOT = Path(__file__).resolve().parents[1]
T = 10


def compile_model(model: nn.Module, out: Path) -> Bundle:
    snncc.compile(model, "loihi2", out, snncc.Options(timesteps=T, samples=4))
    return Bundle.load(out)


def dense(seed: int = 0, resets: tuple[str, str, str] = ("zero", "subtract", "zero")) -> nn.Module:
    """LIF (becomes nir.LIF), IF (nir.IF) and a current-based LIF (nir.CubaLIF), with biases where NIR keeps them."""
    torch.manual_seed(seed)
    return nn.Sequential(N.GradedInput(8), nn.Linear(12, 16), N.LIF(beta=0.9, threshold=0.5, reset=resets[0]),
                         nn.Linear(16, 12), N.IF(threshold=0.4, reset=resets[1]), nn.Linear(12, 8, bias=False),
                         N.LIF(beta=0.75, current_decay=0.5, threshold=0.3, reset=resets[2]), nn.Linear(8, 5),
                         N.LIF(beta=0.8, threshold=0.2))


def conv(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1), N.LIF(beta=0.9, threshold=0.4),
                         nn.AvgPool2d(2), nn.Conv2d(4, 6, 3), N.LIF(beta=0.8, threshold=0.3), nn.Flatten(),
                         nn.Linear(6 * 2 * 2, 10), N.LIF(beta=0.9, threshold=0.2))


def payloads(bundle: Bundle, samples: int = 8, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, bundle.encoding.max_value + 1, size=(samples, T, bundle.n_inputs))


def export(bundle: Bundle, dest: Path, *flags: str) -> None:
    assert main(["export", str(bundle.path), "--nir", str(dest), *flags]) == 0


@pytest.fixture(scope="module")
def dense_bundle(tmp_path_factory) -> Bundle:
    return compile_model(dense(), tmp_path_factory.mktemp("dense") / "bundle")


@pytest.mark.parametrize("dt", [None, "1e-4", "0.001"])
def test_snncc_reimports_the_same_float_and_integer_network(dense_bundle, tmp_path, dt):
    out = tmp_path / "out.nir"
    export(dense_bundle, out, "--allow-metadata", *(["--dt", dt] if dt else []))
    g = nir.read(out)  # type_check=True
    kinds = {name: type(node).__name__ for name, node in g.nodes.items()}
    assert [kinds[n] for n in ("lif_2", "if_4", "lif_6", "lif_8")] == ["LIF", "IF", "CubaLIF", "LIF"]
    assert kinds["linear_1"] == "Affine" and kinds["linear_5"] == "Linear"
    want_dt = float(dt) if dt else 1.0
    assert g.metadata["dt"] == want_dt and g.nodes["lif_2"].metadata["dt"] == want_dt
    assert g.nodes["if_4"].metadata["snncc.reset"] == "subtract"
    assert g.metadata["snncc.exported_from"]["graph"] == "float.nir"
    # forward Euler with the export's dt: tau = dt/(1 - beta), input gain dt r / tau = 1
    np.testing.assert_allclose(g.nodes["lif_2"].tau, want_dt / (1 - np.float32(0.9)), rtol=1e-12)
    np.testing.assert_allclose(g.nodes["lif_2"].r * want_dt / g.nodes["lif_2"].tau, 1.0, rtol=1e-12)

    again = Bundle.load(_compile_cli(out, tmp_path / "again"))  # the dt comes from the file's metadata
    for name, node in dense_bundle.float_graph.nodes.items():  # the same float graph, bit for bit
        back = again.float_graph.nodes[name]
        for field in ("decay_v", "decay_i", "threshold", "bias", "weight", "reset"):
            if hasattr(node, field):
                assert np.array_equal(getattr(node, field), getattr(back, field)), (name, field)
    x = payloads(dense_bundle)
    for backend in ("float", "reference"):
        a, b = dense_bundle.run(x, backend), again.run(x, backend)
        assert set(a.layers) == set(b.layers)
        for layer in a.layers:
            assert a.layers[layer].spikes.sum() > 0, (backend, layer)  # every layer is active: a real comparison
            assert np.array_equal(a.layers[layer].spikes, b.layers[layer].spikes), (backend, layer)


def _compile_cli(model: Path, out: Path) -> Path:
    assert main(["compile", str(model), "-o", str(out), "-q", "--samples", "4"]) == 0
    return out


def layer_spikes(module: nn.Module, kinds: tuple[type, ...], steps: np.ndarray, call) -> dict[str, np.ndarray]:
    """Spikes (samples, T, n) of every submodule of ``kinds`` while ``call(x)`` runs each step ``x`` of ``steps``
    (samples, T, ...), all samples at once or (``call`` returning per sample) one at a time."""
    rec: dict[str, list] = {}
    for name, mod in module.named_modules():
        if isinstance(mod, kinds):
            mod.register_forward_hook(lambda _m, _a, out, name=name: rec.setdefault(name, []).append(
                (out[0] if isinstance(out, tuple) else out).detach().numpy()))
    with torch.no_grad():
        call(steps)
    samples, t_steps = steps.shape[:2]
    return {name: _arrange(v, samples, t_steps) for name, v in rec.items()}


def _arrange(outputs: list[np.ndarray], samples: int, t_steps: int) -> np.ndarray:
    """Hook outputs in call order -> (samples, T, n): batched calls (T of them) or unbatched (samples * T)."""
    if len(outputs) == t_steps:
        return np.stack([o.reshape(samples, -1) for o in outputs], 1)
    return np.stack([o.reshape(-1) for o in outputs]).reshape(samples, t_steps, -1)


@pytest.mark.parametrize("make", [dense, conv])
def test_snntorch_reproduces_the_float_spikes(make, tmp_path):
    """snnTorch's importer hard-codes dt = 1e-4 and maps nir.IF to a leaky neuron (beta 0.9): exported with
    --dt 1e-4, its LIF and CubaLIF layers compute snncc's float step (zero reset)."""
    import snntorch
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    model = make()
    if make is dense:  # the IF layer becomes a LIF snnTorch reads correctly
        model[4] = N.LIF(beta=0.5, threshold=0.4)
        model[2].reset = "zero"
    bundle = compile_model(model, tmp_path / "bundle")
    out = tmp_path / "out.nir"
    export(bundle, out, "--dt", "1e-4")
    graph = nir.read(out)
    net = import_from_nir(graph)
    snntorch.utils.reset(net)
    x = payloads(bundle)
    shape = tuple(graph.nodes["input"].output_type["output"])  # (C, H, W) of a conv net; the payloads are flat

    def run(steps: np.ndarray) -> None:
        # one sample at a time, unbatched: snnTorch maps nir.Flatten(start_dim=0) (NIR shapes have no batch) to
        # torch's Flatten(0), which would flatten the batch too
        for sample in steps:
            snntorch.utils.reset(net)
            for step in sample:
                net(torch.tensor(step.reshape(shape), dtype=torch.float32))

    got = layer_spikes(net, (snntorch.Leaky, snntorch.Synaptic), x, run)
    want = bundle.run(x, "float").layers
    assert set(got) == set(want)
    for layer, spikes in got.items():
        assert want[layer].spikes.sum() > 0, layer
        assert np.array_equal(spikes, want[layer].spikes), layer


def test_norse_reproduces_the_float_spikes_of_if_layers(tmp_path):
    """Norse's IAFCell integrates its input as a jump (gain 1, r ignored), which is what the export writes;
    its LIFBoxCell ignores r too, so a LIF layer (gain dt r / tau = 1 needs r = tau/dt != 1) is not reproduced."""
    import norse.torch as norse
    from norse.torch.module.iaf import IAFCell

    torch.manual_seed(0)
    model = nn.Sequential(N.GradedInput(8), nn.Linear(12, 16), N.IF(threshold=0.5), nn.Linear(16, 5),
                          N.IF(threshold=0.4))
    bundle = compile_model(model, tmp_path / "bundle")
    out = tmp_path / "out.nir"
    export(bundle, out)
    net = norse.from_nir(nir.read(out), dt=1.0)
    x = payloads(bundle)

    def run(steps: np.ndarray) -> None:
        state = None
        for t in range(steps.shape[1]):
            _, state = net(torch.tensor(steps[:, t], dtype=torch.float32), state)

    got = layer_spikes(net, (IAFCell,), x, run)
    want = bundle.run(x, "float").layers
    assert set(got) == set(want)
    for layer, spikes in got.items():
        assert want[layer].spikes.sum() > 0, layer
        assert np.array_equal(spikes, want[layer].spikes), layer


def test_conv_maps_keep_their_shape(tmp_path):
    bundle = compile_model(conv(), tmp_path / "bundle")
    out = tmp_path / "out.nir"
    export(bundle, out)
    g = nir.read(out)
    assert list(g.nodes["input"].output_type["output"]) == [1, 8, 8]
    assert list(g.nodes["lif_2"].input_type["input"]) == [4, 8, 8]
    flatten = [n for n, node in g.nodes.items() if isinstance(node, nir.Flatten)]
    assert len(flatten) == 1 and list(g.nodes[flatten[0]].output_type["output"]) == [24]


# ---- refusals: one line, exit 2, nothing written -----------------------------------------------------------------
def assert_one_line_error(capsys, argv: list[str], *fragments: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snncc: error: "), err
    for f in fragments:
        assert f in err[0], err[0]


@pytest.mark.parametrize("case", ["klif", "grouped", "subtract"])
def test_what_nir_cannot_say_is_refused_naming_the_layer(case, tmp_path, capsys):
    torch.manual_seed(0)
    model, layer, fragment = {
        "klif": (nn.Sequential(nn.Linear(6, 4), N.KLIF()), "klif_1", "family without a NIR neuron"),
        "grouped": (nn.Sequential(nn.Unflatten(1, (2, 4, 4)), nn.Conv2d(2, 4, 3, groups=2), N.LIF()), "conv2d_1",
                    "grouped convolution"),
        "subtract": (nn.Sequential(nn.Linear(6, 4), N.LIF(reset="subtract")), "lif_1", "--allow-metadata"),
    }[case]
    bundle = compile_model(model, tmp_path / "bundle")
    out = tmp_path / "out.nir"
    assert_one_line_error(capsys, ["export", str(bundle.path), "--nir", str(out)], f"layer '{layer}'", fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no file, no temporary left behind


def test_destinations(dense_bundle, tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    argv = ["export", str(dense_bundle.path), "--allow-metadata", "--nir"]
    assert_one_line_error(capsys, [*argv, str(blocker / "out.nir")], "cannot write the --nir file", "not a folder")
    assert_one_line_error(capsys, [*argv, str(blocker)], "is not a NIR file", "--force")
    assert blocker.read_text() == "not a folder"
    assert main([*argv, str(blocker), "--force"]) == 0
    assert isinstance(nir.read(blocker), nir.NIRGraph)
    assert main([*argv, str(blocker)]) == 0  # a NIR file is replaced without --force
    assert_one_line_error(capsys, ["export", str(dense_bundle.path)], "--nir")
    assert_one_line_error(capsys, [*argv, str(tmp_path / "x.nir"), "--dt", "-1"], "--dt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_every_row_of_the_feature_table_is_documented():
    doc = (ROOT / "docs" / "nir_export.md").read_text()
    rows = {re.sub(r"\s+", " ", line) for line in doc.splitlines() if line.startswith("|")}
    for row in feature_table():
        assert any(row.feature in line and row.verdict in line for line in rows), row.feature
