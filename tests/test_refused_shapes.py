"""Five valid model shapes fuzz runs found refused by ``snncc compile`` (both targets), compiled and verified here.

1. a KLIF right after a Conv2d: the KLIF lowering rebuilt every input synapse as a dense ``nir.Linear``, so the
   convolution lost its geometry ("shape mismatch on edge (input -> conv2d_1)");
2. a KLIF after a residual addition: the same, for the identity shortcut's 1x1 depthwise convolution and the
   residual body's convolutions;
3. a KLIF whose ``k`` is ``tau/(tau-1)``, the bound its constructor allows: its float32 parameter rounded past the
   bound (tau = 4: 1.33333337 > 4/3), so the lowering refused ``beta = 1.00000003``; the bound is now defined once
   (:mod:`snncc.families.klif.bounds`) and the module holds and clamps ``k`` onto it;
4. an AvgPool2d before a dilated Conv2d: the pooling was fused only into undilated convolutions, leaving two synapse
   layers in a row; a pooled dilated kernel is now fused as the undilated kernel it spans;
5. an AvgPool2d over a map that is not a multiple of its kernel before a padded Conv2d: fused as one dense matrix.

Each model is saved whole, compiled from the file for loihi2 and loihi, and checked: the bundle verifies bit-exact
(reference == Lava, and netx where the target writes it), every layer fires (so the comparisons are not vacuous),
and torch's own spikes equal the canonical float graph (the KLIF as traced) and the bundle's float model (F level,
after lowering) layer by layer, in float64.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import snncc
from snncc import neurons as N
from snncc.backends.reference import FloatSimulator
from snncc.families.klif import bounds
from snncc.frontend.torch_trace import layer_name, trace_module
from snncc.nn.residual import Residual
from snncc.passes import BalanceLatency, Canonicalize, PassContext, PassManager
from snncc.target import load_target
from snncc.verify import verify_bundle

pytestmark = pytest.mark.lava  # every test runs the bundles in Lava

TARGETS = ("loihi2", "loihi")
T = 8  # time steps per sample
SAMPLES = 3


def torch_spikes(model: nn.Module, x: np.ndarray, levels: int | None) -> dict[str, np.ndarray]:
    """Spikes (batch, T, n) of every neuron module when torch runs payloads ``x`` in float64, by IR layer name."""
    model = copy.deepcopy(model).double()
    names = {m: layer_name(q, m) for q, m in model.named_modules() if isinstance(m, N.SpikingModule)}
    rec: dict[str, list] = {n: [] for n in names.values()}
    hooks = [m.register_forward_hook(lambda mod, _a, out: rec[names[mod]].append(out.flatten(1).numpy()))
             for m in names]
    N.reset_states(model)
    with torch.no_grad():
        for t in range(x.shape[1]):
            model(torch.tensor(x[:, t] / levels if levels else x[:, t], dtype=torch.float64))
    for h in hooks:
        h.remove()
    return {n: np.stack(v, 1) for n, v in rec.items() if v}


def payloads(n_in: int, levels: int | None, seed: int = 0) -> np.ndarray:
    """Random inputs (SAMPLES, T, n_in): graded payloads 0..levels, or binary spikes."""
    rng = np.random.default_rng(seed)
    if levels:
        return rng.integers(0, levels + 1, (SAMPLES, T, n_in))
    return (rng.random((SAMPLES, T, n_in)) < 0.4).astype(np.int64)


def compile_and_verify(model: nn.Module, tmp_path: Path, n_in: int, levels: int | None = None,
                       targets: tuple[str, ...] = TARGETS) -> dict:
    """Save ``model`` whole, compile the file for every target, verify each bundle; returns the bundles."""
    tmp_path = tmp_path / ("graded" if levels else "binary")
    tmp_path.mkdir()
    path = tmp_path / "model.pt"
    torch.save(model, path)
    x = payloads(n_in, levels)
    want = torch_spikes(model, x, levels)
    assert want and all(s.any() for s in want.values()), {n: s.mean() for n, s in want.items()}
    canonical = PassManager([Canonicalize(), BalanceLatency()]).run(trace_module(model),
                                                                    PassContext(target=load_target("loihi2")))
    traced = FloatSimulator(canonical).run(x).layers
    bundles = {}
    for target in targets:
        bundle = snncc.compile(path, target, tmp_path / target, snncc.Options(timesteps=T, samples=2))
        result = verify_bundle(bundle, inputs=x)
        assert result.bit_exact, result.render()
        compared = {c.b for c in result.comparisons}
        assert "lava" in compared, result.render()
        if bundle.manifest.get("netx", {}).get("file"):
            assert "netx" in compared, result.render()
        ref = bundle.run(x, "reference")
        assert all(trace.spikes.any() for trace in ref.layers.values()), {n: t.spikes.mean()
                                                                          for n, t in ref.layers.items()}
        deployed = FloatSimulator(bundle.float_graph).run(x).layers
        for name, spikes in want.items():
            np.testing.assert_array_equal(traced[name].spikes, spikes, err_msg=f"canonical {name}")
            np.testing.assert_array_equal(deployed[name].spikes, spikes, err_msg=f"{target} float model {name}")
        bundles[target] = bundle
    return bundles


def positive(module: nn.Module, scale: float) -> nn.Module:
    """``module`` with weights drawn so that its neurons fire: |N(0, 1)| * scale, a few negative."""
    with torch.no_grad():
        w = module.weight
        w.copy_(torch.randn_like(w).abs() * scale * torch.where(torch.rand_like(w) < 0.2, -1.0, 1.0))
    return module


def test_klif_after_conv2d_compiles_and_verifies(tmp_path):
    """Binary input on both targets; direct-encoded (GradedInput) input on loihi2, the target with graded spikes."""
    for graded in (False, True):
        torch.manual_seed(0)
        model = nn.Sequential(*([N.GradedInput(4)] if graded else []), nn.Unflatten(1, (1, 6, 6)),
                              positive(nn.Conv2d(1, 3, 3, padding=1, bias=False), 0.5), N.KLIF(tau=2.0, k=1.5),
                              nn.Flatten(), positive(nn.Linear(108, 5, bias=False), 0.15), N.LIF(beta=0.875))
        bundles = compile_and_verify(model, tmp_path, 36, levels=4 if graded else None,
                                     targets=("loihi2",) if graded else TARGETS)
        for bundle in bundles.values():
            conv = next(n for n in bundle.graph.nodes.values() if type(n).__name__ == "QConv")
            assert tuple(conv.weight.shape) == (3, 1, 3, 3)  # still the convolution, k/tau folded into it


def test_klif_after_residual_addition_compiles_and_verifies(tmp_path):
    """``KLIF(conv(LIF(conv(s))) + s)``: an identity shortcut into the KLIF's current, the body one synapse deeper
    (a relay balances it), and a KLIF inside the body too."""
    torch.manual_seed(1)
    body = nn.Sequential(positive(nn.Conv2d(2, 2, 3, padding=1, bias=False), 0.6), N.KLIF(tau=2.0, k=1.5),
                         positive(nn.Conv2d(2, 2, 3, padding=1, bias=False), 0.6))
    model = nn.Sequential(nn.Unflatten(1, (1, 5, 5)), positive(nn.Conv2d(1, 2, 3, padding=1, bias=False), 1.0),
                          N.LIF(beta=0.75, threshold=0.5), Residual(body), N.KLIF(tau=4.0, k=1.25, threshold=0.5))
    for bundle in compile_and_verify(model, tmp_path, 25).values():
        assert any(re.search(r"__relay\d+$", n) for n in bundle.graph.nodes), list(bundle.graph.nodes)


def test_klif_with_k_at_its_bound_compiles_and_verifies(tmp_path):
    """``k = tau/(tau-1)`` (accepted by the constructor) compiles, and so does a model saved before the bound was
    fixed, whose parameter holds the float32 just past it."""
    torch.manual_seed(2)
    for tau in (4.0, 6.0, 10.0):
        assert np.float32(tau / (tau - 1)) > tau / (tau - 1)  # the float32 rounds up: the case that was refused
        held = N.KLIF(tau=tau, k=tau / (tau - 1))
        assert float(held.k.detach()) == bounds.k_max(tau) and 0.999999 < held.decay <= 1.0
        assert bounds.k_problem(bounds.k_max(tau), tau) is None
        assert bounds.k_problem(float(np.nextafter(np.float32(bounds.k_max(tau)), np.float32(9))), tau)
    old = N.KLIF(tau=10.0, k=1.0, decay_input=False, threshold=0.75)
    with torch.no_grad():
        old.k.fill_(float(np.float32(10.0 / 9.0)))  # as pickled by the constructor before
    model = nn.Sequential(positive(nn.Linear(10, 8, bias=False), 0.5), N.KLIF(tau=4.0, k=4.0 / 3.0),
                          positive(nn.Linear(8, 6, bias=False), 0.25), old)
    compile_and_verify(model, tmp_path, 10)


def test_avgpool_before_dilated_conv2d_compiles_and_verifies(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)),
                          positive(nn.Conv2d(1, 2, 3, padding=1, bias=False), 0.6), N.LIF(beta=0.875, threshold=0.5),
                          nn.AvgPool2d(2), positive(nn.Conv2d(2, 3, 3, dilation=2, padding=2, bias=False), 0.5),
                          N.LIF(beta=0.875, threshold=0.5))
    bundles = compile_and_verify(model, tmp_path, 64)
    for bundle in bundles.values():  # the pooling fused: one synapse layer of kernel (3-1)*2+1 = 5, times 2
        fused = bundle.graph.nodes["conv2d_4"]
        assert "avgpool2d_3" not in bundle.graph.nodes
        assert tuple(fused.weight.shape) == (3, 2, 10, 10) and fused.dilation == (1, 1) and fused.stride == (2, 2)


def test_avgpool_dropping_rows_before_padded_conv2d_compiles_and_verifies(tmp_path):
    """A fifth shape, found by the fuzz of valid models: AvgPool2d(2) over a 5x5 map drops its last row and column,
    and the padded conv after it zero-pads the 2x2 pooled map, where the 5x5 map still has those rows: fused as
    one dense matrix (each conv column spread over the window it averages, zero on the dropped rows)."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Unflatten(1, (1, 5, 5)), positive(nn.Conv2d(1, 2, 1, bias=False), 0.8),
                          N.LIF(beta=0.875, threshold=0.5), nn.AvgPool2d(2),
                          positive(nn.Conv2d(2, 2, 3, padding=1, bias=False), 0.5), N.LIF(beta=0.875, threshold=0.3))
    bundles = compile_and_verify(model, tmp_path, 25)
    for bundle in bundles.values():
        assert "avgpool2d_3" not in bundle.graph.nodes  # fused, not a synapse layer of its own
