"""Frontend: safe loading, torch tracing (exact float semantics), NIR import with explicit dt/reset."""

import nir
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snncc import neurons as N
from snncc.backends.reference import FloatSimulator
from snncc.errors import GraphError, ModelLoadError, UnsupportedLayerError
from snncc.families.lif.nodes import LIFNeuron
from snncc.frontend import SemanticsRequest, import_model, load_model, trace_module
from snncc.passes import Canonicalize, PassContext, PassManager
from snncc.target import load_target
from tests.models import mlp


def canonical(graph):
    return PassManager([Canonicalize()]).run(graph, PassContext(target=load_target("loihi2")))


def test_trace_maps_modules_and_records_semantics():
    g = trace_module(mlp(), timesteps=5)
    assert [type(n).__name__ for n in g.nodes.values()] == ["Input", "Affine", "LIFNeuron", "Affine", "LIFNeuron",
                                                            "Output"]
    assert g.metadata["dt"] == 1.0 and g.metadata["timesteps"] == 5
    assert g.metadata["input"] == {"kind": "graded", "scale": 0.125, "max_value": 8}
    lifs = [n for n in g.nodes.values() if isinstance(n, LIFNeuron)]
    assert [n.reset for n in lifs] == ["zero", "subtract"]
    assert lifs[0].decay_v[0] == pytest.approx(0.9) and lifs[1].decay_v[0] == 1.0


def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), N.LIF())
    with pytest.raises(UnsupportedLayerError, match="layer 'relu_1'.*torch.nn.modules.activation.ReLU"):
        trace_module(model)
    with pytest.raises(UnsupportedLayerError, match="must follow a synapse layer"):
        trace_module(nn.Sequential(N.LIF(), nn.Linear(3, 3), N.LIF()))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.floats(0.5, 1.0), reset=st.sampled_from(["zero", "subtract"]),
       current=st.sampled_from([0.0, 0.5]), graded=st.booleans())
def test_torch_model_equals_float_ir(seed, beta, reset, current, graded):
    """The traced+canonicalized float graph computes exactly what the torch module computes (float64)."""
    torch.manual_seed(seed)
    layers = [N.GradedInput(4)] if graded else []
    layers += [nn.Linear(6, 9), N.LIF(beta=beta, threshold=0.7, reset=reset, current_decay=current),  # bias into
               nn.Linear(9, 4), N.LIF(beta=beta, threshold=0.5, reset=reset, current_decay=current)]  # the current
    model = nn.Sequential(*layers).double()
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, (3, 7, 6)) if graded else (rng.random((3, 7, 6)) < 0.5).astype(np.int64)
    with torch.no_grad():
        xin = torch.tensor(x / 4.0 if graded else x, dtype=torch.float64).permute(1, 0, 2)
        out = N.run_sequence(model, xin).permute(1, 0, 2).numpy()
    result = FloatSimulator(canonical(trace_module(model))).run(x)
    np.testing.assert_array_equal(result.layers[result.output_layers[0]].spikes, out.astype(np.int8))


def test_safe_loading(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(mlp(), path)
    loaded = load_model(path)
    assert isinstance(loaded.module, nn.Sequential) and not loaded.unsafe


class _Custom(nn.Module):  # not in the allow-list
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.lif = N.LIF()

    def forward(self, x):
        return self.lif(self.fc(x))


def test_unlisted_class_needs_opt_in(tmp_path):
    path = tmp_path / "c.pt"
    torch.save(_Custom(), path)
    with pytest.raises(ModelLoadError, match="tests.test_frontend._Custom.*--allow-unsafe-pickle"):
        load_model(path)
    loaded = load_model(path, allow_unsafe=True)
    assert loaded.unsafe and isinstance(loaded.module, _Custom)
    assert len(import_model(path, allow_unsafe=True).nodes) == 4


def test_bad_files(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a PyTorch file"):
        load_model(tmp_path / "junk.pt")
    torch.save(mlp().state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ModelLoadError, match="state dict"):
        load_model(tmp_path / "sd.pt")
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="unknown model file type"):
        load_model(tmp_path / "m.onnx")
    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    with pytest.raises(ModelLoadError):
        load_model(tmp_path / "junk.nir")


def _nir_graph(reset_value=0.0):
    return nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([3])}),
        nir.Affine(weight=np.full((2, 3), 0.5), bias=np.array([0.1, 0.0])),
        nir.LIF(tau=np.full(2, 1e-3), r=np.full(2, 10.0), v_leak=np.zeros(2), v_threshold=np.ones(2),
                v_reset=np.full(2, reset_value)),
        nir.Output(output_type={"output": np.array([2])}),
    )


def test_nir_import_needs_dt_and_discretizes(tmp_path):
    path = tmp_path / "g.nir"
    nir.write(path, _nir_graph())
    with pytest.raises(GraphError, match="unknown time step, reset rule, threshold test .* --dt, --reset"):
        import_model(path)
    with pytest.raises(GraphError, match=r"unknown threshold test \(> or >=\), integration scheme.* --threshold"):
        import_model(path, semantics=SemanticsRequest(dt=1e-4, reset="subtract"))
    g = canonical(import_model(path, semantics=SemanticsRequest(library="nir", dt=1e-4, reset="subtract")))
    lif = g.nodes["lif"]
    assert lif.reset == "subtract" and lif.decay_v[0] == pytest.approx(0.9)
    # forward Euler: input gain dt*r/tau = 1 folded into the weights; the Affine bias moved into the neuron
    np.testing.assert_allclose(g.nodes["affine"].weight, np.full((2, 3), 0.5))
    np.testing.assert_allclose(lif.bias, [0.1, 0.0])


def test_nir_nonzero_reset_is_unsupported(tmp_path):
    path = tmp_path / "g.nir"
    nir.write(path, _nir_graph(reset_value=0.3))
    with pytest.raises(UnsupportedLayerError, match="non-zero v_reset"):
        canonical(import_model(path, semantics=SemanticsRequest(library="nir", dt=1e-4)))
