"""Regressions for what the fuzz harness (tests/fuzz) found, each on the smallest model that showed it.

* A SEW spike sum feeding a synapse with a bias (its own, or one a folded batch norm made) counted the bias once
  per summed source: canonicalize copies the synapse per source, and each copy kept the bias. The model compiled
  and verified (reference == Lava), but computed something else than torch.
* A NASN reading a residual sum was refused: its normalization (an affine) read the sum, and canonicalize merged
  synapse chains only before splitting the sum, so the Linear before it was left feeding a synapse.
* A multi-level layer whose threshold is a few hundred times its weights, or whose bias is large next to them (a
  graded input's ``1/levels`` folded into the weights), was refused ("levels overflow the voltage", "bias exceeds
  the mantissa") where a LIF of the same values compiles: its quantizer never lowered the weight exponent to make
  room, as the LIF rule does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import snncc
from snncc import neurons as N
from snncc.verify import verify_bundle
from tests.fuzz.cases import float_mismatch

OPTIONS = snncc.Options(timesteps=6, samples=2)


def _sew(seed: int, bias: bool, batch_norm: bool) -> nn.Sequential:
    torch.manual_seed(seed)
    head: list[nn.Module] = [nn.Linear(6, 4, bias=bias)]
    if batch_norm:
        bn = nn.BatchNorm1d(4)
        bn.running_mean.uniform_(-0.5, 0.5)
        head.append(bn)
    model = nn.Sequential(nn.Linear(5, 6), N.LIF(threshold=0.3),
                          N.Residual(nn.Sequential(nn.Linear(6, 6), N.LIF(threshold=0.3))), *head, N.LIF(threshold=0.4))
    if bias:
        with torch.no_grad():
            head[0].bias.uniform_(0.2, 0.4)
    return model.eval()


@pytest.mark.parametrize("bias, batch_norm", [(True, False), (False, True)])
def test_a_sew_sum_into_a_synapse_with_a_bias_counts_the_bias_once(bias, batch_norm):
    for seed in range(3):
        model = _sew(seed, bias, batch_norm)
        bundle = snncc.compile(model, "loihi2", None, OPTIONS)
        assert float_mismatch(model, bundle, samples=3, seed=seed) is None
        # the bias reaches the neuron once: the canonical layer's bias is the synapse's (+ the folded shift)
        neuron = bundle.float_graph.nodes["lif_5" if batch_norm else "lif_4"]
        lin = model[3]
        expected = lin.bias.detach().double().numpy() if bias else np.zeros(4)
        if batch_norm:
            bn = model[4]
            scale = bn.weight.detach().double().numpy() / np.sqrt(bn.running_var.double().numpy() + bn.eps)
            expected = (expected - bn.running_mean.double().numpy()) * scale + bn.bias.detach().double().numpy()
        np.testing.assert_allclose(neuron.bias, expected, rtol=1e-6)


@pytest.mark.parametrize("bias", [True, False])
def test_a_nasn_reading_a_residual_sum_compiles_and_computes_what_torch_does(bias):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 4), N.NASN(4, 4, threshold=0.3),
                          N.Residual(nn.Sequential(nn.Linear(4, 4), N.NASN(4, 4, threshold=0.3),
                                                   nn.Linear(4, 4, bias=bias))),
                          N.NASN(4, 4, threshold=0.2)).eval()
    for mod in model.modules():
        if isinstance(mod, N.NASN):
            mod.norm.running_mean.uniform_(-0.3, 0.3)
            mod.norm.running_var.uniform_(0.5, 2.0)
    bundle = snncc.compile(model, "loihi2", None, OPTIONS)
    assert float_mismatch(model, bundle, samples=3) is None


def _multilevel(case: str) -> nn.Sequential:
    torch.manual_seed(2)
    if case == "threshold far above the weights":
        lin = nn.Linear(8, 5)
        with torch.no_grad():
            lin.weight.uniform_(0.0, 0.5)
            lin.bias.fill_(300.0)  # keeps the layer firing
        return nn.Sequential(lin, N.MultiLevel(levels=4, threshold=1000.0), nn.Linear(5, 3),
                             N.MultiLevel(levels=3, threshold=0.2)).eval()
    lin = nn.Linear(8, 5)  # graded input of 255 levels: the weights shrink by 1/255 next to the bias
    with torch.no_grad():
        lin.bias.uniform_(0.1, 0.5)
    return nn.Sequential(N.GradedInput(255), lin, N.MultiLevel(levels=4, threshold=0.25), nn.Linear(5, 3),
                         N.MultiLevel(levels=3, threshold=0.2)).eval()


@pytest.mark.lava
@pytest.mark.parametrize("case", ["threshold far above the weights", "large bias"])
def test_a_multilevel_layer_takes_a_negative_weight_exponent_when_its_values_need_one(case):
    model = _multilevel(case)
    targets = ["loihi2"] if case == "large bias" else ["loihi2", "loihi"]  # loihi takes no graded input
    for target in targets:
        bundle = snncc.compile(model, target, None, OPTIONS)
        layer = bundle.report["quantization"]["layers"]["multilevel_2" if case == "large bias" else "multilevel_1"]
        assert layer["weight_exp"] < 0
        assert float_mismatch(model, bundle, samples=3) is None
        result = verify_bundle(bundle, samples=2)
        assert result.bit_exact and result.comparisons
        assert bundle.report["fidelity"]["output_agreement"] > 0.9
