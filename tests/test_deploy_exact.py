"""Deploy-exact mode: the torch model computes what the compiled network computes, spike for spike.

For every family: put a model into deploy-exact mode, run torch on payloads, compile the same model, run the
reference simulator (and Lava once): every layer's spikes (integer levels for multi-level layers) are identical.
"""

import numpy as np
import pytest
import torch
from torch import nn

import snncc
from snncc import neurons as N
from snncc.verify import compare_results

FAMILIES = {
    "lif": lambda: [nn.Linear(10, 12), N.LIF(beta=0.9, threshold=0.8), nn.Linear(12, 5), N.IF(reset="subtract")],
    "cuba": lambda: [nn.Linear(10, 12, bias=False), N.LIF(beta=0.8, current_decay=0.5),
                     nn.Linear(12, 5), N.LIF(beta=0.7, reset="subtract")],
    "klif": lambda: [nn.Linear(10, 12), N.KLIF(k=1.5), nn.Linear(12, 5), N.KLIF(tau=3.0, k=1.2, reset="subtract")],
    "multilevel": lambda: [nn.Linear(10, 12), N.MultiLevel(levels=3, threshold=0.6, beta=0.875),
                           nn.Linear(12, 5), N.MultiLevel(levels=2, threshold=0.5)],
    "asn_gn": lambda: [nn.Linear(10, 12), N.ASN(levels=4, threshold=0.7), nn.Linear(12, 5), N.GroupNeuron(3, 1.2)],
    "arlif": lambda: [nn.Linear(10, 12), N.ARLIF(a=0.3, c=0.8), nn.Linear(12, 5), N.ARLIF(decay=0.75, a=-0.2)],
    "nasn": lambda: [nn.Linear(10, 12), _trained_nasn(12), nn.Linear(12, 5), N.ASN(levels=2, threshold=0.6)],
}


def _trained_nasn(features: int) -> N.NASN:
    """A NASN whose running statistics are not the identity (as after training)."""
    m = N.NASN(levels=3, features=features, threshold=0.7)
    with torch.no_grad():
        m.norm.running_mean.uniform_(-0.5, 0.5)
        m.norm.running_var.uniform_(0.5, 2.0)
        m.norm.weight.uniform_(0.5, 1.5)
        m.norm.bias.uniform_(-0.2, 0.2)
    return m.eval()


def torch_layer_outputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Per neuron layer: outputs over time (batch, T, n) — spikes, or integer levels for multi-level layers."""
    outs: dict[int, list] = {}
    hooks = [m.register_forward_hook(lambda mod, _i, o, k=k: outs.setdefault(k, []).append(o.detach()))
             for k, m in enumerate(model) if isinstance(m, N.SpikingModule)]
    N.run_sequence(model, x.permute(1, 0, 2))
    for h in hooks:
        h.remove()
    layers = []
    for k in sorted(outs):
        y = torch.stack(outs[k], dim=1).numpy()
        mod = model[k]
        layers.append(np.rint(y / mod.out_scale) if isinstance(mod, (N.MultiLevel, N.NASN)) else y)
    return layers


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("graded", [False, True])
def test_deploy_exact_equals_compiled(family, graded, tmp_path):
    torch.manual_seed(sorted(FAMILIES).index(family) + 10 * graded)
    layers = FAMILIES[family]()
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)
    model = nn.Sequential(*([N.GradedInput(4)] if graded else []), *layers)
    N.deploy_exact(model)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, (6, 12, 10)) if graded else (rng.random((6, 12, 10)) < 0.4).astype(np.int64)
    torch_out = torch_layer_outputs(model, torch.tensor(x / 4.0 if graded else x, dtype=torch.float64))
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=12))
    ref = bundle.run(x, "reference")
    names = [n for n in ref.layers]
    assert len(names) == len(torch_out)
    for name, y in zip(names, torch_out, strict=True):
        np.testing.assert_array_equal(ref.layers[name].spikes, y.astype(np.int64), err_msg=f"{family}: {name}")
    assert sum(int(np.abs(y).sum()) for y in torch_out) > 0  # the network is not silent


@pytest.mark.lava
def test_deploy_exact_model_is_bit_exact_on_lava():
    torch.manual_seed(0)
    model = nn.Sequential(*FAMILIES["klif"]())
    N.deploy_exact(model)
    x = (np.random.default_rng(2).random((2, 8, 10)) < 0.5).astype(np.int64)
    torch_out = torch_layer_outputs(model, torch.tensor(x, dtype=torch.float64))
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=8))
    lava = bundle.run(x, "lava", record_states=True)
    assert compare_results("reference", bundle.run(x, "reference", record_states=True), "lava", lava, True).equal
    np.testing.assert_array_equal(lava.layers[list(lava.layers)[-1]].spikes, torch_out[-1].astype(np.int64))


def test_training_in_deploy_exact_mode_then_compiling():
    """Fine-tune in deploy-exact mode (straight-through gradients), re-snap, compile: still identical."""
    torch.manual_seed(3)
    model = nn.Sequential(*FAMILIES["multilevel"]())
    N.deploy_exact(model)
    rng = np.random.default_rng(4)
    x = torch.tensor((rng.random((8, 10, 10)) < 0.5).astype(np.float64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        out = N.run_sequence(model, x.permute(1, 0, 2)).sum(0)
        loss = nn.functional.cross_entropy(out, torch.arange(8) % 5)
        loss.backward()
        assert model[0].weight.grad.abs().sum() > 0  # gradients flow through the integer steps
        opt.step()
    N.deploy_exact(model)  # back onto the grid of the new weights
    torch_out = torch_layer_outputs(model, x)
    ref = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=10)).run(x.numpy().astype(np.int64),
                                                                                  "reference")
    for name, y in zip(ref.layers, torch_out, strict=True):
        np.testing.assert_array_equal(ref.layers[name].spikes, y.astype(np.int64))


def test_float_mode_again():
    model = nn.Sequential(*FAMILIES["lif"]())
    N.deploy_exact(model)
    assert model[1].deploy_params is not None
    N.deploy_exact(model, enable=False)
    assert model[1].deploy_params is None


def test_nasn_normalization_is_folded_into_the_linear():
    torch.manual_seed(5)
    model = nn.Sequential(*FAMILIES["nasn"]()).double().eval()
    x = torch.tensor((np.random.default_rng(6).random((4, 6, 10)) < 0.5).astype(np.float64))
    before = N.run_sequence(model, x.permute(1, 0, 2))
    N.deploy_exact(model)
    N.deploy_exact(model, enable=False)  # float mode, normalization now folded: the same function as before
    after = N.run_sequence(model, x.permute(1, 0, 2))
    assert torch.equal(model[1].norm.running_mean, torch.zeros(12, dtype=torch.float64))
    assert (before != after).float().mean() < 0.05  # the snapped weights move a few borderline spikes only
