"""Quantization-aware training helpers: the fake-quantized forward pass is the deployed network, spike for spike.

For each neuron family: inside ``QAT.fake_quant`` the torch model computes exactly what the compiled network
computes after ``finalize`` (reference simulator); gradients reach the float masters, which come back unchanged
in value after the block; training steps move them and refreshes follow; a convolutional model is refused with a
named error.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import snncc
from snncc import neurons as N
from snncc.errors import UnsupportedLayerError
from snncc.target import target_variant
from snncc.training import QAT
from tests.test_deploy_exact import FAMILIES, torch_layer_outputs


def _model(family: str, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = FAMILIES[family]()
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)
    return nn.Sequential(*layers)


def _spikes(seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((6, 12, 10)) < 0.4).astype(np.int64)


def _check_deployed_equals(model: nn.Module, fake_quant_out: list[np.ndarray], x: np.ndarray, target="loihi2"):
    ref = snncc.compile(model, target, options=snncc.Options(timesteps=x.shape[1])).run(x, "reference")
    assert len(ref.layers) == len(fake_quant_out)
    for name, y in zip(ref.layers, fake_quant_out, strict=True):
        np.testing.assert_array_equal(ref.layers[name].spikes, y.astype(np.int64), err_msg=name)
    assert sum(int(np.abs(y).sum()) for y in fake_quant_out) > 0


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fake_quant_forward_is_the_deployed_network(family):
    model = _model(family, sorted(FAMILIES).index(family))
    qat = QAT(model)
    x = _spikes(1)
    masters = [p.detach().clone() for p in model.parameters()]
    with qat.fake_quant():
        out = torch_layer_outputs(model, torch.tensor(x, dtype=torch.float64))
    assert all(torch.equal(a, b) for a, b in zip(masters, model.parameters(), strict=True))  # masters are back
    qat.finalize()
    _check_deployed_equals(model, out, x)


def test_training_moves_the_masters_and_stays_deployable_at_4_bits(tmp_path):
    """A few optimizer steps through the fake-quantized integer network (4-bit weights: a target variant), with
    refreshes between them; the finalized model's deployment equals its fake-quantized forward pass."""
    target = str(target_variant("loihi2", {"formats.weight_bits": 4}, "QAT test", tmp_path))
    model = _model("multilevel", 7)
    qat = QAT(model, target, refresh_every=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.tensor(_spikes(2), dtype=torch.float64)
    first = model[0].weight.detach().clone()
    for _ in range(5):
        with qat.fake_quant():
            out = N.run_sequence(model, x.permute(1, 0, 2)).sum(0)
            loss = nn.functional.cross_entropy(out, torch.arange(6) % 5)
            opt.zero_grad()
            loss.backward()
            assert model[0].weight.grad.abs().sum() > 0  # straight-through gradients reach the masters
        opt.step()
    assert not torch.equal(first, model[0].weight)
    unit = qat.plans[0].synapses[0].unit
    off_grid = np.abs(model[0].weight.detach().numpy() / unit - np.round(model[0].weight.detach().numpy() / unit))
    assert off_grid.max() > 1e-3  # the masters are float, not snapped
    qat.refresh()  # the grid of the current masters, which finalize uses too
    with qat.fake_quant():
        out = torch_layer_outputs(model, x)
    qat.finalize()
    w = model[0].weight.detach().numpy() / qat.plans[0].synapses[0].unit
    assert np.abs(w - np.round(w)).max() < 1e-9 and np.abs(np.round(w)).max() <= 7  # on the 4-bit grid
    _check_deployed_equals(model, out, x.numpy().astype(np.int64), target)


def test_convolutional_model_is_refused_with_the_layer_named():
    model = nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 2, 3, padding=1), N.LIF(), nn.Flatten(),
                          nn.Linear(32, 3), N.LIF())
    with pytest.raises(UnsupportedLayerError, match="conv2d_1.*Conv2d"):
        QAT(model)


def test_refresh_every_must_be_positive():
    with pytest.raises(ValueError, match="refresh_every"):
        QAT(_model("lif", 0), refresh_every=0)


def _dead_outlier(sign: int) -> tuple[nn.Sequential, np.ndarray]:
    """A LIF model whose weight [0, 0] is ``sign`` x 40 times the largest other, on input 0, which never fires in
    the calibration payloads returned with it."""
    model = _model("lif", 11)
    with torch.no_grad():
        model[0].weight[0, 0] = sign * 40 * model[0].weight.abs().max()
    cal = (np.random.default_rng(4).random((64, 12, 10)) < 0.4).astype(np.int64)
    cal[..., 0] = 0
    return model, cal


def test_calibrated_start_clips_a_dead_outlier_and_stays_exact():
    """``QAT(calibration=...)`` starts from the calibrated weights: a 40x outlier on an input that never fires is
    clipped in the masters (the max rule keeps it and rounds most other weights to zero), and the finalized model
    is still exactly the compiled network."""
    model, cal = _dead_outlier(+1)
    outlier = float(model[0].weight.detach()[0, 0])
    plain = QAT(copy.deepcopy(model))
    qat = QAT(model, calibration=cal)
    assert float(plain.model[0].weight.detach()[0, 0]) == outlier  # the max rule leaves the masters alone
    assert 0 < float(model[0].weight.detach()[0, 0]) < outlier / 4

    def zeroed(q: QAT) -> int:
        grid = q.plans[0].synapses[0]
        return int((np.round(grid.module.weight.detach().numpy() / grid.unit) == 0).sum())

    assert zeroed(qat) < zeroed(plain) / 4, (zeroed(qat), zeroed(plain))
    x = _spikes(3)
    x[..., 0] = 0
    with qat.fake_quant():
        out = torch_layer_outputs(model, torch.tensor(x, dtype=torch.float64))
    qat.finalize()
    _check_deployed_equals(model, out, x)


def test_calibrated_start_keeps_the_calibrated_grid_when_a_weight_saturates_negative():
    """A dead outlier of -40x saturates at mantissa -128 in the calibrated deployment. The max rule of the next
    refresh maps the largest |weight| onto +127, so the master starts at -127: the QAT grid is then the calibrated
    grid exactly (at -128 it would be 128/127 coarser, and every other weight re-rounded on it)."""
    from snncc.training import deploy_plan

    model, cal = _dead_outlier(-1)
    calibrated = deploy_plan(copy.deepcopy(model), "loihi2", cal, "search")[0].synapses[0]
    assert np.round(calibrated.calibrated[0, 0] / calibrated.unit[0, 0]) == calibrated.lo == -128
    qat = QAT(model, calibration=cal)
    grid = qat.plans[0].synapses[0]
    np.testing.assert_allclose(grid.unit, calibrated.unit, rtol=1e-12)
    mantissas = np.round(grid.module.weight.detach().numpy() / grid.unit)
    expected = np.round(calibrated.calibrated / calibrated.unit)
    assert mantissas[0, 0] == -127
    np.testing.assert_array_equal(mantissas.ravel()[1:], expected.ravel()[1:])


@pytest.mark.parametrize("family", ["multilevel", "asn_gn"])
def test_a_nudge_past_the_top_of_a_power_of_two_grid_does_not_coarsen_it(tmp_path, family):
    """Multi-level grids are powers of two of the threshold. With a master on the top mantissa, one optimizer step
    of 1e-6 outward (weights and neuron parameters alike) used to cross that boundary and halve the resolution of
    the layer at the next refresh. Masters are clamped to their grid's range and the neuron parameters are frozen
    while fine-tuning (and trainable again after finalize), so the grids and integer parameters stay."""
    target = str(target_variant("loihi2", {"formats.weight_bits": 4}, "QAT test", tmp_path))
    model = _model(family, 5)
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    qat = QAT(model, target)
    with torch.no_grad():
        for plan in qat.plans:
            grid = plan.synapses[0]
            grid.module.weight[0, 0] = float(grid.unit[0, 0]) * grid.hi  # a master on the top of its grid
    qat.refresh()
    units = [p.synapses[0].unit.copy() for p in qat.plans]
    params = [p.node.to_dict() for p in qat.plans]
    neuron_params = [p for name, p in model.named_parameters() if name.split(".")[-1] not in ("weight", "bias")]
    assert any(trainable.values()) and not any(p.requires_grad for p in neuron_params)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    opt.zero_grad()
    (-sum((p**2).sum() for p in model.parameters() if p.requires_grad)).backward()  # every weight moves outward
    opt.step()
    qat.refresh()
    for unit, plan in zip(units, qat.plans, strict=True):
        np.testing.assert_allclose(plan.synapses[0].unit, unit, rtol=1e-9)
    assert all(_same(p.node.to_dict(), before) for p, before in zip(qat.plans, params, strict=True))
    qat.finalize()
    assert {name: p.requires_grad for name, p in model.named_parameters()} == trainable


def _same(a: dict, b: dict) -> bool:
    """Two integer nodes' fields are equal (arrays by value)."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a if k != "metadata")
