"""Convolutional models through the frontend and canonicalize: the canonical float graph computes what torch
computes, layer by layer (pool fusion, batch-norm folding, spike addition, identity shortcuts are exact rewrites),
and the integer graph keeps convolutions as QConv synapses."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snncc.backends.reference import FloatSimulator, ReferenceSimulator
from snncc.errors import UnsupportedLayerError
from snncc.frontend.torch_trace import trace_module
from snncc.ir import QConv
from snncc.neurons import LIF
from snncc.passes import BalanceLatency, Canonicalize, PassContext, PassManager, Quantize
from snncc.target import load_target
from tests.models import neuron_outputs

LOIHI2 = load_target("loihi2")


def canonical(model: nn.Module):
    return PassManager([Canonicalize(), BalanceLatency()]).run(trace_module(model), PassContext(target=LOIHI2))


def torch_spikes(model: nn.Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every LIF module's spikes (batch, T, n) when torch runs ``x`` (batch, T, n_in) step by step."""
    return neuron_outputs(model, x)


def compare_with_torch(model: nn.Module, x: np.ndarray) -> None:
    g = canonical(model)
    sim = FloatSimulator(g).run(x)
    want = torch_spikes(model, x)
    active = 0
    for module_name, spikes in want.items():
        layer = next(n for n in sim.layers if n.endswith(module_name))
        got = sim.layers[layer].spikes
        # float64 (simulator) vs float32 (torch): a voltage within rounding of the threshold may flip; demand
        # near-total agreement and that the network is active
        assert (got == spikes).mean() > 0.999, layer
        active += int(spikes.sum())
    assert active > 0


def vgg(seed: int, pool: str = "avg", bn: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    pool_layer = nn.AvgPool2d(2) if pool == "avg" else nn.AdaptiveAvgPool2d((4, 4))
    layers = [nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3, padding=1)]
    layers += [nn.BatchNorm2d(6)] if bn else []
    layers += [LIF(beta=0.9, threshold=0.5), pool_layer, nn.Conv2d(6, 8, 3, padding=1, groups=2), LIF(threshold=0.5),
               nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 10), LIF(threshold=0.3)]
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, -0.3, 0.9)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), pool=st.sampled_from(["avg", "adaptive"]), bn=st.booleans())
def test_canonical_conv_net_computes_what_torch_computes(seed: int, pool: str, bn: bool) -> None:
    model = vgg(seed, pool, bn)
    x = (np.random.default_rng(seed).random((3, 6, 64)) < 0.5).astype(np.int64)
    compare_with_torch(model, x)


def test_pooling_is_fused_into_the_next_synapse() -> None:
    g = canonical(vgg(1))
    assert not any(isinstance(n, (nir.AvgPool2d, nir.SumPool2d)) for n in g.nodes.values())
    convs = [n for n in g.nodes.values() if isinstance(n, nir.Conv2d)]
    assert len(convs) == 2 and convs[1].metadata.get("snncc.fused_pool")
    assert np.asarray(convs[1].weight).shape[2:] == (6, 6)  # a 3x3 kernel after a 2x2 pool: 6x6, stride 2
    (linear,) = [n for n in g.nodes.values() if isinstance(n, nir.Linear)]
    assert linear.metadata.get("snncc.fused_pool") and np.asarray(linear.weight).shape == (10, 128)


class SEWBlock(nn.Module):
    """Two spiking branches added as spikes (SEW) and fed to one convolution, plus an identity shortcut into a
    current: both residual forms the issue names."""

    def __init__(self) -> None:
        super().__init__()
        self.unflatten = nn.Unflatten(1, (1, 8, 8))
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.lif0 = LIF(threshold=0.5)
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.lif1 = LIF(threshold=0.5)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.lif2 = LIF(threshold=0.5)
        self.head = nn.Conv2d(4, 4, 3, padding=1, stride=2)
        self.lif3 = LIF(threshold=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.lif0(self.stem(self.unflatten(x)))
        s1 = self.lif1(self.conv1(s0))
        s2 = self.lif2(self.conv2(s1) + s0)  # identity shortcut into a current
        return self.lif3(self.head(s2 + s1))  # SEW: spikes added, then one convolution


def test_residual_forms_are_split_into_synapses_and_exact() -> None:
    torch.manual_seed(3)
    model = SEWBlock().eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, -0.2, 0.6)
    g = canonical(model)
    preds = g.predecessors("lif3")
    assert len(preds) == 2 and all(isinstance(g.nodes[p], nir.Conv2d) for p in preds)  # head copied per source
    assert any("identity" in g.nodes[p].metadata.get("snncc.source", "") for p in g.predecessors("lif2"))
    x = (np.random.default_rng(3).random((2, 5, 64)) < 0.5).astype(np.int64)
    compare_with_torch(model, x)


def test_quantized_conv_layers_become_qconv_and_simulate() -> None:
    model = vgg(5, bn=True)
    ctx = PassContext(target=LOIHI2)
    q = PassManager([Canonicalize(), BalanceLatency(), Quantize()]).run(trace_module(model), ctx)
    convs = [n for n in q.nodes.values() if isinstance(n, QConv)]
    assert len(convs) == 2 and all(c.weight_exp >= 0 for c in convs)  # Lava's Conv has no exponent
    x = (np.random.default_rng(5).random((2, 6, 64)) < 0.5).astype(np.int64)
    ref = ReferenceSimulator(q).run(x)
    flt = FloatSimulator(canonical(model)).run(x)
    for name, trace in flt.layers.items():
        assert (ref.layers[name].spikes == trace.spikes).mean() > 0.95, name


def test_max_pooling_is_refused_with_a_hint() -> None:
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 3), LIF(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(18, 10), LIF())
    with pytest.raises(UnsupportedLayerError, match="max pooling") as exc:
        trace_module(model)
    assert "AvgPool2d" in exc.value.hint and "maxpool2d_3" in str(exc.value)


def test_batchnorm_must_follow_a_synapse() -> None:
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 3), LIF(), nn.BatchNorm2d(2), nn.Flatten(),
                          nn.Linear(72, 10), LIF())
    with pytest.raises(UnsupportedLayerError, match="batch norm"):
        trace_module(model)


def test_residual_paths_are_balanced_with_relays_and_deploy_in_step() -> None:
    """The identity shortcut (1 synapse shorter) and the SEW branch from s1 (1 shorter) get one relay stage each;
    the deployed integer network then agrees with the float model spike for spike, up to weight rounding."""
    import snncc

    torch.manual_seed(4)
    model = SEWBlock().eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, -0.2, 0.6)
    x = (np.random.default_rng(4).random((4, 6, 64)) < 0.5).astype(np.int64)
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(inputs=x, timesteps=6))
    relays = [n for n in bundle.graph.nodes if n.endswith("__relay0")]
    assert len(relays) == 2
    depth = bundle.graph.synapse_depth()
    for layer in ("lif2", "lif3"):
        assert len({depth[p] for p in bundle.graph.predecessors(layer)}) == 1
    fidelity = bundle.manifest["report"]["fidelity"]
    assert all(v["agreement"] > 0.97 for v in fidelity["layers"].values()), fidelity
    assert sum(v["int_rate"] for v in fidelity["layers"].values()) > 0


def test_bad_convolution_geometry_is_a_named_error() -> None:
    from snncc.errors import GraphError
    from snncc.ir import Graph

    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 9), LIF(), nn.Flatten(), nn.Linear(2, 10),
                          LIF())
    with pytest.raises(GraphError, match="conv2d_1.*does not fit"):
        trace_module(model)
    g = Graph(nodes={"input": nir.Input(input_type={"input": np.array([4])}),
                     "conv": nir.Conv2d(input_shape=None, weight=np.ones((1, 1, 1, 1)), stride=1, padding=0,
                                        dilation=1, groups=1, bias=np.zeros(1)),
                     "lif": nir.IF(r=np.ones(4), v_threshold=np.ones(4)),
                     "output": nir.Output(output_type={"output": np.array([4])})},
              edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")], metadata={"dt": 1.0})
    with pytest.raises(UnsupportedLayerError, match="conv.*input_shape"):
        PassManager([Canonicalize()]).run(g, PassContext(target=LOIHI2))
