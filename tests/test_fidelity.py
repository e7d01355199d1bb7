"""The float-vs-integer fidelity figures: a layer damaged after quantization is named, with the fix, and a healthy
network raises no warning. The damage is injected into the compiled integer graph, so the float model is unchanged
and the figures must find the one layer that differs."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

import snncc
from snncc import fixedpoint as fx
from snncc.fidelity import compare_float_int
from snncc.ir import QDense
from tests.models import mlp

SIZES = (12, 32, 32, 6)


@pytest.fixture(scope="module")
def bundle():
    x = np.random.default_rng(0).integers(0, 9, (16, 10, SIZES[0]))
    return snncc.compile(mlp(SIZES, threshold=0.3, seed=2), "loihi2", options=snncc.Options(inputs=x, timesteps=10)), x


def figures(b, graph, x):
    ref = snncc.backends.reference.ReferenceSimulator(graph).run(x, record_states=True)
    flt = b.run(x, "float", record_states=True)
    return compare_float_int(b.float_graph, flt, graph, ref)


def layers_of(graph) -> list[str]:
    return [n for n in graph.topological_order() if hasattr(graph.nodes[n], "vth")]


def test_healthy_network_has_no_warning_and_matching_membranes(bundle):
    b, x = bundle
    f = figures(b, b.graph, x)
    assert f["warnings"] == []
    for name in layers_of(b.graph):
        lay = f["layers"][name]
        assert lay["float_active_neurons"] > 0 and lay["saturated_states"] == 0
        # the integer v, rescaled to float units, tracks the float v (a wrong unit would be off by >= 1 threshold;
        # measured 0.02-0.21, the error growing with depth as flipped spikes accumulate)
        assert lay["v_rms_error_theta"] < 0.5, (name, lay)
        assert abs(lay["v_int_mean"] - lay["v_float_mean"]) < 0.1 * abs(lay["v_float_std"]), (name, lay)


def test_a_weakened_layer_is_named_as_silenced(bundle):
    b, x = bundle
    first, second, _ = layers_of(b.graph)
    g = copy.deepcopy(b.graph)
    (syn,) = g.predecessors(second)
    g.nodes[syn] = QDense(weight=g.nodes[syn].weight // 16, weight_exp=g.nodes[syn].weight_exp,
                          metadata=g.nodes[syn].metadata)  # as if its scale had been chosen 16x too small
    f = figures(b, g, x)
    named = [w for w in f["warnings"] if f"'{second}'" in w]
    assert any("never fire after quantization" in w and "calibrate" in w for w in named), f["warnings"]
    assert not any(f"'{first}'" in w for w in f["warnings"])  # the layer before is untouched
    assert f["layers"][second]["silenced_neurons"] > 0


def test_an_overdriven_layer_is_named_as_saturating(bundle):
    b, x = bundle
    _, second, _ = layers_of(b.graph)
    g = copy.deepcopy(b.graph)
    (syn,) = g.predecessors(second)
    n_in = g.nodes[syn].weight.shape[1]  # strongly inhibitory input (|u| stays below the 24-bit wrap) and bias, no leak
    g.nodes[syn] = QDense(weight=np.full_like(g.nodes[syn].weight, -128), weight_exp=4, metadata=g.nodes[syn].metadata)
    assert n_in * 128 * 2 ** (4 + 6) < 1 << (fx.STATE_BITS - 1)
    node = g.nodes[second]
    g.nodes[second] = dataclasses.replace(node, dv=0, bias_mant=np.full_like(node.bias_mant, -4096),
                                          bias_exp=np.full_like(node.bias_exp, 7))
    f = figures(b, g, x)
    assert f["layers"][second]["saturated_states"] > 0
    assert any(f"'{second}'" in w and "saturated" in w and "state bits" in w for w in f["warnings"]), f["warnings"]
    # the guard needs no recorded states: the reference counts clipped voltages as it runs (as during compile)
    quick = snncc.backends.reference.ReferenceSimulator(g).run(x)
    full = snncc.backends.reference.ReferenceSimulator(g).run(x, record_states=True)
    clipped = int(np.sum(np.abs(full.layers[second].v) >= (1 << (fx.STATE_BITS - 1)) - 1))  # from the states
    assert quick.layers[second].v is None and quick.saturated[second] == clipped == f["layers"][second][
        "saturated_states"]
    g_only = compare_float_int(b.float_graph, b.run(x, "float"), g, quick)
    assert any(f"'{second}'" in w and "saturated" in w for w in g_only["warnings"])


@pytest.mark.lava
def test_verify_fidelity_prints_every_layer_and_writes_the_plot(bundle, tmp_path, capsys):
    from snncc.cli import main

    b, x = bundle
    folder = tmp_path / "bundle"
    snncc.compile(mlp(SIZES, threshold=0.3, seed=2), "loihi2", folder, options=snncc.Options(inputs=x, timesteps=10))
    png = tmp_path / "fid.png"
    assert main(["verify", str(folder), "--samples", "2", "--fidelity", "--plot", str(png), "-q"]) == 0
    out = capsys.readouterr().out
    table = out.split("fidelity (float vs integer, per layer):")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| layer")]
    assert [r.split(" | ")[0][2:] for r in rows] == layers_of(b.graph)
    assert all(r.split(" | ")[8] != "-" for r in rows)  # clipped-weight counts came from the compile report
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
