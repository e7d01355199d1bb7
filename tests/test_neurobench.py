"""snncc's NeuroBench-convention counts against the ``neurobench`` package itself, and against hand computation.

The twin: a small snnTorch network (Leaky layers, snnTorch's default subtract reset) exported to NIR and compiled by
snncc; NeuroBench's ``SynapticOperations`` and ``MembraneUpdates`` run on the snnTorch model, snncc's counts on the
deployed integer network, on the same binary inputs.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from neurobench.benchmarks import Benchmark
from neurobench.metrics.workload import MembraneUpdates, SynapticOperations
from neurobench.models import SNNTorchModel
from snntorch.export_nir import export_to_nir
from torch.utils.data import DataLoader, TensorDataset

import snncc
from snncc.backends.reference import ReferenceSimulator
from snncc.backends.reference.trace import count_operations
from snncc.frontend import SemanticsRequest
from snncc.ir import QConv
from snncc.reports.neurobench import neurobench_counts
from tests.graphs import qgraph

STEPS, SAMPLES = 8, 6


def _leaky(shape: tuple[int, ...], output: bool = False) -> snn.Leaky:
    return snn.Leaky(beta=torch.full(shape, 0.5), threshold=torch.ones(shape), init_hidden=True, output=output)


def _twin(kind: str, rng: np.random.Generator) -> tuple[torch.nn.Sequential, tuple[int, ...]]:
    """Weights k / 32 with integers |k| <= 24 (about 30% zeros) and one k = 127 per layer: snncc's max rule maps
    the largest weight onto the 127 mantissa, so every weight quantizes to exactly k (scale 32 * 2**3 with the
    exponent the threshold asks for), none rounds to zero, and with beta = 0.5 every voltage halving is exact for
    more than STEPS steps: the deployed network computes snnTorch's float32 network exactly, spike for spike."""
    if kind == "dense":
        net = torch.nn.Sequential(torch.nn.Linear(10, 16, bias=False), _leaky((16,)),
                                  torch.nn.Linear(16, 4, bias=False), _leaky((4,), output=True))
        shape = (10,)
    else:  # no pooling: snncc folds a pooling into the synapse after it, which NeuroBench counts apart
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), _leaky((4, 6, 6)),
                                  torch.nn.Flatten(), torch.nn.Linear(144, 5, bias=False), _leaky((5,), output=True))
        shape = (1, 6, 6)
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                k = rng.integers(-24, 25, size=m.weight.shape) * (rng.random(m.weight.shape) < 0.7)
                k.flat[0] = 127
                m.weight.copy_(torch.tensor(k / 32.0))
    return net, shape


def _neurobench(net: torch.nn.Module, x: torch.Tensor) -> dict:
    loader = DataLoader(TensorDataset(x, torch.zeros(len(x))), batch_size=2)  # three batches of two
    bench = Benchmark(SNNTorchModel(net), loader, [], [], [[], [SynapticOperations, MembraneUpdates]])
    return bench.run(quiet=True)


def _snntorch_spikes(net: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    outs: dict[int, list] = {}
    def keep(k: int, out: torch.Tensor | tuple) -> None:  # an output layer returns (spikes, membrane)
        outs.setdefault(k, []).append(out[0] if isinstance(out, tuple) else out)

    hooks = [m.register_forward_hook(lambda _m, _i, o, k=k: keep(k, o)) for k, m in enumerate(net)
             if isinstance(m, snn.Leaky)]
    snn.utils.reset(net)
    with torch.no_grad():
        for t in range(x.shape[1]):
            net(x[:, t])
    for h in hooks:
        h.remove()
    return [torch.stack(outs[k], 1).reshape(len(x), x.shape[1], -1).numpy() for k in sorted(outs)]


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_neurobench_metrics_on_snntorch_equal_snncc_counts_on_the_deployed_twin(tmp_path, kind: str) -> None:
    rng = np.random.default_rng(3)
    net, shape = _twin(kind, rng)
    x = torch.tensor((rng.random((SAMPLES, STEPS, *shape)) < 0.4).astype(np.float32))
    path = tmp_path / f"{kind}.nir"
    nir.write(path, export_to_nir(net, x[:, 0], ignore_dims=[0]))
    expected = _neurobench(net, x)
    bundle = snncc.compile(path, "loihi2", None, snncc.Options(timesteps=STEPS, samples=2,
                                                               semantics=SemanticsRequest(library="snntorch")))
    run = bundle.run(x.reshape(SAMPLES, STEPS, -1).numpy().astype(np.int64), "reference", record_states=True)
    for ours, theirs in zip(run.layers.values(), _snntorch_spikes(net, x), strict=True):
        np.testing.assert_array_equal(ours.spikes, theirs)  # the twin computes the same network
    got = neurobench_counts(bundle.graph, run.counts, SAMPLES)
    synops = expected["SynapticOperations"]
    assert synops["Effective_ACs"] > 0 and synops["Effective_MACs"] == 0  # binary spikes and inputs: all ACs
    assert got["Effective_ACs"] == synops["Effective_ACs"]
    assert got["Effective_MACs"] == synops["Effective_MACs"]
    assert got["Dense"] == synops["Dense"]
    assert got["MembraneUpdates"] == expected["MembraneUpdates"] > 0


def test_synaptic_operations_by_hand_with_graded_and_ternary_calls() -> None:
    """Input payloads per (sample, step): a call is ACs when all its payloads lie in {-1, 0, 1}, else MACs; a
    payload of any size is one operation per non-zero weight; dense counts every weight in every call."""
    g = qgraph([3, 2], np.random.default_rng(0), graded=True, max_value=4, vth=[1000])
    g.nodes["dense0"].weight = np.array([[1, 0, 2], [0, 0, 3]])  # non-zero weights per input: 1, 0, 2
    x = np.zeros((2, 3, 3), np.int64)
    x[0, 0] = [1, 1, 0]  # AC call: 1 + 0
    x[0, 1] = [0, 4, 1]  # MAC call: 0 + 2
    x[1, 0] = [1, 0, 1]  # AC call: 1 + 2
    x[1, 2] = [3, 0, 0]  # MAC call: 1
    c = ReferenceSimulator(g).run(x).counts["dense0"]
    assert (c.nb_effective_ac, c.nb_effective_mac, c.nb_dense) == (1 + 3, 2 + 1, 2 * 3 * 6)
    assert c.synops == 1 + 2 + 3 + 1  # the chip's count: the same pairs, no classing


def test_convolution_dense_count_excludes_padding() -> None:
    """A 3x3 kernel with padding 1 over a 3x3 map: 4 corner outputs see 4 inputs, 4 edge ones 6, the centre 9."""
    g = qgraph([9, 9], np.random.default_rng(0))
    g.nodes["dense0"] = QConv(weight=np.ones((1, 1, 3, 3), np.int64), input_shape=(1, 3, 3), padding=(1, 1))
    x = np.zeros((1, 2, 9), np.int64)
    x[0, 0, 4] = 1  # the centre input reaches all 9 outputs
    counts = count_operations(g, x, ReferenceSimulator(g).run(x).layers)
    assert counts["dense0"].nb_dense == 2 * (4 * 4 + 4 * 6 + 9)
    assert counts["dense0"].nb_effective_ac == 9


def test_membrane_updates_and_active_neurons_by_hand() -> None:
    """Two IF neurons (u holds only this step's input, no voltage decay, vth 4, reset to zero): membrane updates are
    NeuroBench's (every neuron in the first step, then each step whose v changed); an update is active when the
    state before or after it is not at rest, or the neuron spikes."""
    g = qgraph([1, 2], np.random.default_rng(0), du=[4095], dv=[0], vth=[4], resets=["zero"])
    g.nodes["dense0"].weight = np.array([[3], [0]])  # neuron 1 never receives anything
    x = np.zeros((1, 5, 1), np.int64)
    x[0, 1] = x[0, 3] = 1  # neuron 0: v 0, 3, 3, then 6 > 4 (a spike, v reset to 0), 0
    r = ReferenceSimulator(g).run(x, record_states=True)
    assert (r.layers["lif0"].v[0, :, 0] >> 6).tolist() == [0, 3, 3, 0, 0]
    assert (r.layers["lif0"].u[0, :, 0] >> 6).tolist() == [0, 3, 0, 3, 0]
    assert r.layers["lif0"].spikes[0, :, 0].tolist() == [0, 0, 0, 1, 0]
    c = r.counts["lif0"]
    assert c.membrane_updates == 2 + 2  # the first step's two neurons, then 0 -> 3 and 3 -> 0 (the reset)
    # neuron 0 is at rest before and after step 0 only, and at rest after step 4 but not before it; neuron 1 always
    assert c.neuron_updates_active == 4 and c.neuron_updates_inactive == 1 + 5
    assert ReferenceSimulator(g).run(x).counts["lif0"].neuron_updates_active is None  # no states, no split
