"""A pooling whose fusion would give the next layer more inputs than a core has axons stays a layer of its own:
a sum into graded relay neurons (canonicalize). The rewrite is exact at the float level (torch == canonical graph)
and at the integer level (each relay sends its window's spike count, in the reference simulator and in Lava), and
it makes the classifier fit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from snncc.backends.reference import FloatSimulator
from snncc.compiler import Options, compile_model
from snncc.families.multilevel.nodes import MultiLevelNeuron, QMultiLevel
from snncc.frontend.torch_trace import trace_module
from snncc.neurons import LIF, reset_states
from snncc.passes import BalanceLatency, Canonicalize, PassContext, PassManager
from snncc.target import load_target
from snncc.testing import assert_equivalent

TARGETS = Path(__file__).resolve().parents[1] / "targets"


def target_with(input_axons: int, base: str = "loihi2") -> Path:
    data = yaml.safe_load((TARGETS / f"{base}.yaml").read_text())
    data["core_limits"]["input_axons"]["value"] = input_axons
    path = Path(tempfile.mkdtemp()) / f"{base}-axons.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def global_pool_net(seed: int = 0) -> nn.Module:
    """conv (8 channels on 8x8) -> LIF -> global average pooling -> Linear 10 -> LIF: fused, 512 inputs per class."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), LIF(threshold=0.5),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10), LIF(threshold=0.05))
    nn.init.uniform_(model[1].weight, -0.2, 0.8)
    return model.eval()


def canonical(model: nn.Module, target) -> tuple:
    ctx = PassContext(target=load_target(target))
    return PassManager([Canonicalize(), BalanceLatency()]).run(trace_module(model), ctx), ctx


def test_pooling_is_fused_while_the_fan_in_fits() -> None:
    g, ctx = canonical(global_pool_net(), "loihi2")
    assert not any(isinstance(n, MultiLevelNeuron) for n in g.nodes.values())
    assert ctx.notes["canonicalize"]["pool_relays"] == {}


def test_pooling_without_graded_spikes_stays_fused() -> None:
    g, _ = canonical(global_pool_net(), target_with(256, base="loihi"))
    assert not any(isinstance(n, MultiLevelNeuron) for n in g.nodes.values())


def test_too_wide_pooling_becomes_a_graded_relay_and_stays_exact() -> None:
    model = global_pool_net(3)
    g, ctx = canonical(model, target_with(256))
    (relay,) = [n for n, v in g.nodes.items() if isinstance(v, MultiLevelNeuron)]
    (note,) = ctx.notes["canonicalize"]["pool_relays"].values()
    assert note == {"relay": relay, "neurons": 8, "levels": 64, "fused_fan_in": 512, "input_axons": 256}
    assert g.nodes[g.successors(relay)[0]].weight.shape == (10, 8)  # the classifier reads 8 counts, not 512 spikes
    x = (np.random.default_rng(3).random((4, 6, 64)) < 0.5).astype(np.int64)
    sim = FloatSimulator(g).run(x)
    reset_states(model)
    with torch.no_grad():
        out = np.stack([model(torch.tensor(x[:, t], dtype=torch.float32)).numpy() for t in range(x.shape[1])], 1)
    conv_spikes = sim.layers[g.predecessors(g.predecessors(relay)[0])[0]].spikes
    assert np.array_equal(sim.layers[relay].spikes, conv_spikes.reshape(4, 6, 8, 64).sum(axis=3))
    last = sim.output_layers[0]
    assert (sim.layers[last].spikes == out).mean() > 0.99 and out.sum() > 0


def test_graded_relay_compiles_and_sends_the_window_counts() -> None:
    x = (np.random.default_rng(5).random((3, 5, 64)) < 0.5).astype(np.int64)
    bundle = compile_model(global_pool_net(5), target_with(256), options=Options(inputs=x))
    relays = [n for n, v in bundle.graph.nodes.items() if isinstance(v, QMultiLevel)]
    assert len(relays) == 1
    g = bundle.graph
    conv_layer = g.predecessors(g.predecessors(relays[0])[0])[0]
    ref = bundle.run(x, "reference")
    counts = ref.layers[relays[0]].spikes
    assert np.array_equal(counts, ref.layers[conv_layer].spikes.reshape(3, 5, 8, 64).sum(axis=3, dtype=np.int32))
    assert counts.max() > 1  # graded payloads: counts, not spikes
    assert bundle.manifest["report"]["resources"]["layers"][g.successors(g.successors(relays[0])[0])[0]][
        "fan_in"] == 8
    assert_equivalent(bundle, x[:2])  # Lava runs the sum pool (Conv) and the graded relay bit for bit alike
