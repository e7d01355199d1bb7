"""Graded relays: a multi-level layer (or a graded input) on the shorter of two paths is delayed by memoryless
multi-level relays that re-emit its integer payload. The Sparse-ResNet block (SEW sum of multi-level spikes, then a
"barrier" multi-level neuron that re-quantizes it) is the case the seed papers need. Checked: the canonical float
graph computes what torch computes; each integer relay re-emits its source's payload exactly one step later; the
reference simulator and Lava agree bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import snncc
from snncc.backends.reference import FloatSimulator
from snncc.errors import UnsupportedLayerError
from snncc.families.lif.nodes import LIFNeuron
from snncc.families.multilevel.nodes import MultiLevelNeuron, QMultiLevel
from snncc.frontend.torch_trace import trace_module
from snncc.ir.keys import RELAY as RELAY_KEY
from snncc.neurons import LIF, GradedInput, MultiLevel, Residual
from snncc.passes import BalanceLatency, Canonicalize, PassContext, PassManager
from snncc.target import load_target
from snncc.verify import verify_bundle
from tests.models import neuron_outputs

LOIHI2 = load_target("loihi2")
LEVELS = 3


def sparse_resnet(seed: int) -> nn.Sequential:
    """stem -> SEW block of multi-level neurons -> barrier multi-level neuron -> dense readout (dyadic thresholds, so
    that the summed payloads land on level boundaries identically in float32 and float64)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 4, 3, padding=1), MultiLevel(LEVELS, threshold=0.75),
        Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), MultiLevel(LEVELS, threshold=0.625),
                               nn.Conv2d(4, 4, 3, padding=1), MultiLevel(LEVELS, threshold=0.875))),
        MultiLevel(LEVELS, threshold=1.0, learn_threshold=False),  # the barrier: the sum (0..6) back to 0..3
        nn.Flatten(), nn.Linear(4 * 6 * 6, 5), MultiLevel(LEVELS, threshold=0.5))
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.uniform_(m.weight, -0.15, 0.35)
    return model.eval()


class GradedShortcut(nn.Module):
    """A graded (direct-encoded) input read by a 2-synapse path and a 1-synapse shortcut that meet at one neuron."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = GradedInput(7)
        self.unflatten = nn.Unflatten(1, (1, 5, 5))
        self.conv_a = nn.Conv2d(1, 3, 3, padding=1)
        self.lif_a = LIF(threshold=1.0)
        self.conv_b = nn.Conv2d(3, 2, 3, padding=1)
        self.conv_c = nn.Conv2d(1, 2, 1)
        self.lif_out = LIF(threshold=1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.unflatten(self.enc(x))
        return self.lif_out(self.conv_b(self.lif_a(self.conv_a(x))) + self.conv_c(x))


def canonical(model: nn.Module):
    return PassManager([Canonicalize(), BalanceLatency()]).run(trace_module(model), PassContext(target=LOIHI2))


def torch_payloads(model: nn.Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every neuron module's payload (z for multi-level layers, spikes for LIF) per (sample, step, neuron)."""
    return neuron_outputs(model, x)


def assert_float_graph_matches_torch(model: nn.Module, x: np.ndarray, input_scale: float = 1.0) -> None:
    """The canonical graph run on payloads ``x`` against torch run on ``x * input_scale``."""
    g = canonical(model)
    sim = FloatSimulator(g).run(x)
    active = 0
    for module_name, want in torch_payloads(model, x * input_scale).items():
        layer = next(n for n in sim.layers if n.endswith(module_name) and RELAY_KEY not in g.nodes[n].metadata)
        # float64 (simulator) vs float32 (torch): a voltage within rounding of a level boundary may differ
        assert (sim.layers[layer].spikes == want).mean() > 0.999, layer
        active += int(want.sum())
    assert active > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_resnet_block_gets_graded_relays_and_matches_torch(seed: int) -> None:
    model = sparse_resnet(seed)
    g = canonical(model)
    relays = {n: v for n, v in g.nodes.items() if RELAY_KEY in v.metadata and not hasattr(v, "weight")}
    # the identity shortcut into the barrier is 2 synapse layers shorter than the body: 2 graded relay stages
    assert len(relays) == 2 and all(isinstance(r, MultiLevelNeuron) and r.levels == LEVELS for r in relays.values())
    x = (np.random.default_rng(seed).random((3, 6, 36)) < 0.6).astype(np.int64)
    assert_float_graph_matches_torch(model, x)
    z = torch_payloads(model, x)
    residual_sum = z["2"] * model[2].out_scale + z["3_body_3"] * model[3].body[3].out_scale
    assert residual_sum.max() > LEVELS * model[4].out_scale  # the barrier really clips the SEW sum back


def test_graded_input_on_the_shorter_path_gets_a_graded_relay() -> None:
    torch.manual_seed(5)
    model = GradedShortcut().eval()
    g = canonical(model)
    (relay,) = [v for v in g.nodes.values() if RELAY_KEY in v.metadata and not hasattr(v, "weight")]
    assert isinstance(relay, MultiLevelNeuron) and relay.levels == 7  # a binary relay would clip 0..7 to a spike
    assert not any(isinstance(v, LIFNeuron) and RELAY_KEY in v.metadata for v in g.nodes.values())
    x = np.random.default_rng(5).integers(0, 8, (3, 5, 25))
    assert_float_graph_matches_torch(model, x, input_scale=1 / 7)


@pytest.mark.lava
def test_deployed_graded_relays_copy_exactly_and_lava_agrees() -> None:
    model = sparse_resnet(0)
    x = (np.random.default_rng(7).random((2, 6, 36)) < 0.6).astype(np.int64)
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(inputs=x, timesteps=6))
    g = bundle.graph
    relays = [n for n, v in g.nodes.items() if isinstance(v, QMultiLevel) and RELAY_KEY in v.metadata]
    assert len(relays) == 2
    ref = bundle.run(x, "reference")
    for relay in relays:  # traces are aligned to the float model's steps: a relay repeats its source exactly
        src = g.nodes[relay].metadata[RELAY_KEY]
        assert ref.layers[src].spikes.max() > 1  # graded payloads really pass through
        np.testing.assert_array_equal(ref.layers[relay].spikes, ref.layers[src].spikes, err_msg=relay)
    result = verify_bundle(bundle, inputs=x, skip=("netx",))
    assert result.bit_exact, result.render()
    assert result.fidelity["output_agreement"] >= 0.5, result.fidelity


@pytest.mark.parametrize("lowering, match", [("population", "population lowering.*convolution"),
                                             ("substep", "dense synapses only.*convolution")])
def test_loihi1_lowerings_of_convolutional_multilevel_layers_are_named_errors(lowering: str, match: str) -> None:
    x = (np.random.default_rng(7).random((1, 4, 36)) < 0.6).astype(np.int64)
    with pytest.raises(UnsupportedLayerError, match=match) as exc:
        snncc.compile(sparse_resnet(0), "loihi",
                      options=snncc.Options(inputs=x, timesteps=4, passes={"multilevel": lowering}))
    assert "loihi2" in exc.value.hint
