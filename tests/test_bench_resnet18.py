"""The ResNet-18 compile benchmark (benchmarks/bench_resnet18_compile.py): its build + compile function on reduced
widths, checked against figures computed independently from the torch model.

Expected neurons: every LIF module's output size (from a torch forward pass), plus one latency relay per
BasicBlock of the block's input size (the shortcut crosses one synapse, the residual path two, so balance-latency
delays the shortcut by one relay stage). Expected connections: each torch convolution's (output, tap) pairs inside
the input map (a convolution of ones), each shortcut relay's and identity shortcut's one synapse per neuron, and the
classifier with the global pooling fused into it (every class reads every position of every channel).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snncc.neurons import LIF, reset_states
from snncc.passes import default_pipeline
from snncc.target import load_target
from tests.benchmarks import load


def _bench():
    return load("bench_resnet18_compile")


def expected_figures(model: nn.Module, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(model neurons, relay neurons, connections) of the compiled network, from the torch model alone."""
    bench = _bench()
    sizes: dict[nn.Module, int] = {}
    block_in: dict[nn.Module, int] = {}
    conv_connections = 0

    def on_lif(mod, _inp, out):
        sizes[mod] = out[0].numel()

    def on_block(mod, inp):
        block_in[mod] = inp[0][0].numel()

    def on_conv(mod, inp, _out):
        nonlocal conv_connections
        ones = torch.ones_like(inp[0][:1])
        conv_connections += int(F.conv2d(ones, torch.ones_like(mod.weight), None, mod.stride, mod.padding,
                                         mod.dilation, mod.groups).sum())

    hooks = [m.register_forward_hook(on_lif) for m in model.modules() if isinstance(m, LIF)]
    hooks += [m.register_forward_pre_hook(on_block) for m in model.modules() if isinstance(m, bench.BasicBlock)]
    hooks += [m.register_forward_hook(on_conv) for m in model.modules() if isinstance(m, nn.Conv2d)]
    reset_states(model)
    with torch.no_grad():
        model(torch.rand(1, math.prod(in_shape)))
    for h in hooks:
        h.remove()
    reset_states(model)
    relays = sum(block_in.values())
    identity = sum(n for b, n in block_in.items() if len(b.shortcut) == 0)
    pooled = model.fc.in_features * (in_shape[1] // 8) * (in_shape[2] // 8)  # 3 stride-2 stages: H/8 x W/8
    fc = model.fc.out_features * pooled
    return sum(sizes.values()), relays, conv_connections + relays + identity + fc


def check_result(result, model: nn.Module, in_shape: tuple[int, int, int], target_name: str) -> None:
    target = load_target(target_name)
    assert list(result.pass_seconds) == [p.name for p in default_pipeline()]
    assert all(t > 0 for t in result.pass_seconds.values())
    assert {"import", "passes", "reference_simulation", "float_simulation"} <= set(result.stage_seconds)
    assert sum(result.pass_seconds.values()) <= result.total_seconds
    model_neurons, relays, connections = expected_figures(model, in_shape)
    assert result.relay_neurons == relays
    assert result.neurons == model_neurons + relays == sum(result.layer_neurons.values())
    assert 0.95 * connections <= result.synapses <= connections  # a few random weights quantize to zero
    per_core = target.value("core_limits", "neurons")
    assert result.cores >= math.ceil(result.neurons / per_core)
    assert result.cores >= result.cores_lower_bound
    assert result.cores <= target.total_cores
    assert result.cores == len({tuple(c[:2]) for c in _placements(result)})


def _placements(result) -> list:
    return [[c["chip"], c["core"]] for c in result.report["resources"]["cores"]]


def test_tiny_resnet_compiles_with_every_figure() -> None:
    bench = _bench()
    in_shape = (3, 16, 16)
    model = bench.build_resnet18(width=4, seed=1, in_shape=in_shape)
    result = bench.compile_resnet(model, "loihi2", timesteps=2, samples=1)
    check_result(result, model, in_shape, "loihi2")
    assert len(result.layer_neurons) == 1 + 8 * 2 + 8 + 1  # stem, 2 LIFs per block, one relay per block, classifier


def test_benchmark_target_overrides_only_what_it_is_asked() -> None:
    bench = _bench()
    assert bench.scaled_target("loihi2") == "loihi2"
    stock, big = load_target("loihi2"), load_target(bench.scaled_target("loihi2", chips=3, input_axons=5000))
    assert big.total_cores == 3 * stock.total_cores
    assert big.value("core_limits", "input_axons") == 5000
    assert big.value("core_limits", "neurons") == stock.value("core_limits", "neurons")


@pytest.mark.slow
def test_resnet18_at_quarter_width_compiles_for_loihi2() -> None:
    """ResNet-18 with channels / 4 (16/32/64/128) on the stock loihi2 target (it fits one chip)."""
    bench = _bench()
    model = bench.build_resnet18(width=16, seed=0)
    result = bench.compile_resnet(model, "loihi2", timesteps=2, samples=1)
    check_result(result, model, bench.INPUT_SHAPE, "loihi2")  # speed is the benchmark's job, not a test's
