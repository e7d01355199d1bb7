"""netx export: files load in lava-dl's netx, run bit-exact with the reference, and refuse what netx cannot say."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snncc import fixedpoint as fx
from snncc.backends.lava import netx_expressible, run_netx, write_netx
from snncc.backends.reference import ReferenceSimulator
from snncc.compat.lava import import_netx
from snncc.errors import UnsupportedLayerError
from snncc.ir import Graph, QDense
from tests.graphs import qgraph, random_inputs

pytestmark = pytest.mark.lava


def expressible_graph(rng: np.random.Generator, sizes: list[int], graded: bool, max_value: int,
                      exps: list[int], du: list[int], dv: list[int], vth: list[int]) -> Graph:
    """A chain netx can express: mixed-sign mantissas whose ``w * 2**e`` is an integer in [-256, 254], and
    effective biases that are multiples of 64."""
    bias = []
    for n in sizes[1:]:
        be = rng.integers(0, 8, size=n)
        step = 1 << np.maximum(6 - be, 0)  # bias_mant << be must be a multiple of 64
        bias.append((rng.integers(-4096 // step, 4096 // step) * step, be))
    graph = qgraph(sizes, rng, graded=graded, max_value=max_value, exps=exps, du=du, dv=dv, vth=vth, bias=bias)
    for i, e in enumerate(exps):
        node = graph.nodes[f"dense{i}"]
        if e < 0:
            node.weight = (node.weight >> -e) << -e
        node.weight[0, 0], node.weight[-1, -1] = 5 << max(-e, 0), -(3 << max(-e, 0))  # mixed sign
    return graph


@st.composite
def netx_cases(draw: st.DrawFn) -> tuple[Graph, np.ndarray]:
    n_layers = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(2, 40), min_size=n_layers + 1, max_size=n_layers + 1))
    graded = draw(st.booleans())
    max_value = draw(st.integers(1, 100)) if graded else 1
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    graph = expressible_graph(
        rng, sizes, graded, max_value,
        exps=draw(st.lists(st.integers(-2, 1), min_size=n_layers, max_size=n_layers)),
        du=draw(st.lists(st.one_of(st.sampled_from([-1, 4095]), st.integers(-1, 4095)), min_size=n_layers,
                         max_size=n_layers)),
        dv=draw(st.lists(st.integers(0, 4096), min_size=n_layers, max_size=n_layers)),
        vth=draw(st.lists(st.integers(1, 3000), min_size=n_layers, max_size=n_layers)),
    )
    x = random_inputs(rng, draw(st.integers(1, 3)), draw(st.integers(1, 10)), sizes[0], graded=graded,
                      max_value=max_value, rate=0.4)
    return graph, x


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(netx_cases())
def test_netx_matches_reference(tmp_path: Path, case: tuple[Graph, np.ndarray]) -> None:
    graph, x = case
    assert netx_expressible(graph) is None
    path = write_netx(graph, tmp_path / "net.net")
    ref = ReferenceSimulator(graph).run(x)
    got = run_netx(path, graph, x)
    for name, trace in ref.layers.items():
        np.testing.assert_array_equal(got.layers[name].spikes, trace.spikes, err_msg=name)
        assert got.layers[name].latency == trace.latency
    assert {k: c.to_dict() for k, c in got.counts.items()} == {k: c.to_dict() for k, c in ref.counts.items()}


def test_network_loads_with_the_qlif_parameters(tmp_path: Path) -> None:
    """netx reads back du = iDecay - 1, dv, vth, bias_mant * 2**6 and weights that quantize to the same synapse."""
    rng = np.random.default_rng(3)
    graph = expressible_graph(rng, [7, 9, 4], False, 1, exps=[1, -1], du=[-1, 17], dv=[4096, 9], vth=[5, 300])
    path = write_netx(graph, tmp_path / "net.net")
    netx = import_netx()
    net = netx.hdf5.Network(net_config=str(path), reset_interval=5, reset_offset=1)
    try:
        assert len(net.layers) == 2
        for k, block in enumerate(net.layers):
            syn, lif = graph.nodes[f"dense{k}"], graph.nodes[f"lif{k}"]
            neuron = block.neuron
            assert (neuron.du.init, neuron.dv.init, neuron.vth.init) == (lif.du, lif.dv, lif.vth)
            assert neuron.proc_params["reset_offset"] == 2 + k and neuron.proc_params["reset_interval"] == 5
            bias = np.asarray(neuron.bias_mant.init) << np.asarray(neuron.bias_exp.init)
            np.testing.assert_array_equal(bias, fx.bias_value(lif.bias_mant, lif.bias_exp))
            w = np.asarray(block.synapse.weights.init) >> -block.synapse.proc_params["weight_exp"]
            np.testing.assert_array_equal(w, fx.shift_floor(syn.weight, syn.weight_exp))
    finally:
        net.net_config.f.close()


def chain(rng: np.random.Generator) -> Graph:
    return expressible_graph(rng, [6, 5, 4], False, 1, exps=[0, 0], du=[10, 10], dv=[10, 10], vth=[50, 50])


def _subtract(g: Graph) -> None:
    g.nodes["lif1"].reset = "subtract"


def _floored(g: Graph) -> None:
    g.nodes["dense0"].weight_exp = -1
    g.nodes["dense0"].weight[0, 1] = 3


def _bias(g: Graph) -> None:
    g.nodes["lif1"].bias_mant[2], g.nodes["lif1"].bias_exp[2] = 1, 5


def _range(g: Graph) -> None:
    g.nodes["dense1"].weight_exp = 2  # 5 << 2 and -3 << 2 are fine; 127 << 2 exceeds 254
    g.nodes["dense1"].weight[1, 1] = 127


def _inhibitory(g: Graph) -> None:
    g.nodes["dense0"].weight = -(np.abs(g.nodes["dense0"].weight) % 100) - 1
    g.nodes["dense0"].weight[0, 0] = -128  # netx scales to -256; Lava's inhibitory clip stops at -255


def _zero(g: Graph) -> None:
    g.nodes["dense1"].weight[:] = 0


def _fan_in(g: Graph) -> None:
    g.nodes["skip"] = QDense(weight=np.ones((4, 6), np.int64))
    g.edges += [("input", "skip"), ("skip", "lif1")]


def _neuron_type(g: Graph) -> None:
    g.nodes["lif0"] = nir.LIF(tau=np.ones(5), r=np.ones(5), v_leak=np.zeros(5), v_threshold=np.ones(5))


@pytest.mark.parametrize(("mutate", "layer", "words"), [
    (_subtract, "lif1", "reset"),
    (_floored, "dense0", "weight_exp"),
    (_bias, "lif1", "multiples of 64"),
    (_range, "dense1", "range"),
    (_inhibitory, "dense0", "reproduce"),
    (_zero, "dense1", "all-zero"),
    (_fan_in, "input", "feeds 2"),
    (_neuron_type, "lif0", "LIF"),
])
def test_not_expressible_names_the_layer(tmp_path: Path, mutate, layer: str, words: str) -> None:
    graph = chain(np.random.default_rng(0))
    assert netx_expressible(graph) is None
    mutate(graph)
    with pytest.raises(UnsupportedLayerError, match=words) as exc:
        write_netx(graph, tmp_path / "net.net")
    assert exc.value.layer == layer
    assert not (tmp_path / "net.net").exists()
    assert layer in netx_expressible(graph)
