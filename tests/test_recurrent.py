"""Recurrent networks from torch (``snncc.neurons.Recurrent``): self, all-to-all and cross-layer loops for every
family that can close one, binary and graded.

* the traced float IR computes what torch computes, spike for spike (random models, hypothesis);
* the deploy-exact torch model computes what the compiled network computes on the reference simulator, in every
  layer; reference == Lava in spikes, u and v at every step;
* balance-latency: a loop shorter than its trained delay gets relays on its feedback path (before/after IR); a longer
  one is refused, naming the loop;
* QAT fine-tunes a recurrent model and the finalized model is still deploy-exact;
* the tracer names what it cannot take.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import snncc
from snncc import cli
from snncc import neurons as N
from snncc.bundle import Bundle
from snncc.errors import UnsupportedLayerError
from snncc.families.quantization import shifted
from snncc.frontend import trace_module
from snncc.frontend.torch_trace import layer_name
from snncc.ir import FloatNeuron, keys
from snncc.passes import PassContext, PassManager, Pipeline
from snncc.target import load_target
from snncc.testing import assert_equivalent
from snncc.training import QAT
from snncc.training.deploy import deploy_plan

NEURONS = {  # every family whose torch module can sit in a loop (QCFS is an ANN activation, NASN normalises first)
    "lif": lambda: N.LIF(beta=0.9, threshold=0.5),
    "lif-subtract-cuba": lambda: N.LIF(beta=0.8, threshold=0.4, reset="subtract", current_decay=0.5),
    "if": lambda: N.IF(threshold=0.6, reset="subtract"),
    "klif": lambda: N.KLIF(tau=2.0, k=1.3, threshold=0.3),
    "arlif": lambda: N.ARLIF(decay=0.6, threshold=0.4, a=0.2, c=0.8),
    "multilevel": lambda: N.MultiLevel(levels=4, threshold=0.5, beta=0.9),
    "asn": lambda: N.ASN(levels=3, threshold=0.5),
    "group": lambda: N.GroupNeuron(members=3, theta=0.5),
}
LOOPS = ("self", "all", "cross2", "cross3")  # cross<k>: a feedback from the k-th layer of the body to its first


def recurrent_model(family: str, loop: str, graded: bool, seed: int, gain: float = 2.0) -> nn.Sequential:
    """input -> Linear -> Recurrent(block) -> Linear -> LIF; the block a neuron layer or a chain of ``k`` layers
    whose last feeds back into the first after ``k`` steps (the loop's length on the chip)."""
    torch.manual_seed(seed)
    make = NEURONS[family]
    if loop in ("self", "all"):
        block = N.Recurrent(make(), 6, connectivity=loop)
        width = 6
    else:
        k = int(loop[-1])
        sizes = [6, 5, 4][:k]
        body = [make()]
        for a, b in zip(sizes, sizes[1:], strict=False):
            body += [nn.Linear(a, b), make()]
        block = N.Recurrent(nn.Sequential(*body), 6, sizes[-1], delay=k)
        width = sizes[-1]
    model = nn.Sequential(*([N.GradedInput(4)] if graded else []), nn.Linear(8, 6), block, nn.Linear(width, 3),
                          N.LIF(threshold=0.3))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(gain)
    return model.double()


def payloads(graded: bool, seed: int, samples: int = 3, steps: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if graded:
        return rng.integers(0, 5, (samples, steps, 8))
    return (rng.random((samples, steps, 8)) < 0.5).astype(np.int64)


def torch_layers(model: nn.Module, x: np.ndarray, graded: bool) -> dict[str, np.ndarray]:
    """Per neuron module (by its IR name): its outputs (samples, T, n), integer levels for multi-level layers."""
    outs: dict[str, list] = {}
    hooks = []
    for qualname, m in model.named_modules():
        if isinstance(m, N.SpikingModule):
            name = layer_name(qualname, m)
            hooks.append(m.register_forward_hook(lambda _m, _i, o, k=name: outs.setdefault(k, []).append(o.detach())))
    xin = torch.tensor(x / 4.0 if graded else x, dtype=torch.float64).permute(1, 0, 2)
    with torch.no_grad():
        N.run_sequence(model, xin)
    for h in hooks:
        h.remove()
    modules = {layer_name(q, m): m for q, m in model.named_modules()}
    result = {}
    for name, ys in outs.items():
        y = torch.stack(ys, dim=1).numpy()
        scale = getattr(modules[name], "out_scale", None)
        result[name] = np.rint(y / scale).astype(np.int64) if scale is not None else y.astype(np.int64)
    return result


@settings(max_examples=24, deadline=None)
@given(family=st.sampled_from(sorted(NEURONS)), loop=st.sampled_from(LOOPS), graded=st.booleans(),
       seed=st.integers(0, 10_000))
def test_float_ir_equals_torch(family: str, loop: str, graded: bool, seed: int) -> None:
    """The compiled bundle's float graph (traced, canonicalized, latency-balanced, lowered) spikes as torch does,
    in every layer."""
    model = recurrent_model(family, loop, graded, seed)
    x = payloads(graded, seed)
    want = torch_layers(model, x, graded)
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=x.shape[1]))
    got = bundle.run(x, "float")
    for name, spikes in want.items():
        np.testing.assert_array_equal(got.layers[name].spikes, spikes, err_msg=f"{family} {loop}: {name}")


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("family", sorted(NEURONS))
def test_deploy_exact_equals_compiled(family: str, loop: str) -> None:
    """Deploy-exact torch == the reference simulator's compiled network, in every layer (relays excepted)."""
    graded = family in ("multilevel", "asn")
    model = recurrent_model(family, loop, graded, seed=LOOPS.index(loop))
    x = payloads(graded, seed=1, samples=4, steps=12)
    N.deploy_exact(model)
    want = torch_layers(model, x, graded)
    ref = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=12)).run(x, "reference")
    for name, spikes in want.items():
        np.testing.assert_array_equal(ref.layers[name].spikes, spikes, err_msg=f"{family} {loop}: {name}")
    body = [n for n in want if "body" in n]
    assert sum(int(want[n].sum()) for n in body) > 0, "the loop never fires"


LAVA_CASES = [("lif", "all", False), ("lif-subtract-cuba", "self", True), ("arlif", "cross2", False),
              ("multilevel", "cross3", True), ("klif", "self", False), ("asn", "all", True)]


@pytest.mark.lava
@pytest.mark.parametrize(("family", "loop", "graded"), LAVA_CASES)
def test_reference_equals_lava(family: str, loop: str, graded: bool) -> None:
    """Bit-exact in spikes, u and v at every step of every layer (the feedback path's relays included)."""
    model = recurrent_model(family, loop, graded, seed=7)
    x = payloads(graded, seed=8, samples=2, steps=8)
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=8))
    assert any(bundle.graph.is_recurrent(n) for n in bundle.graph.nodes)
    assert_equivalent(bundle, x)


def _balanced(model: nn.Module):
    g = trace_module(model)
    ctx = PassContext(target=load_target("loihi2"))
    return g, PassManager(Pipeline.parse("canonicalize,balance-latency").passes).run(g, ctx), ctx


def test_balance_latency_pads_a_loop_shorter_than_its_delay() -> None:
    """A self loop trained with delay 3: two relay stages on its feedback path (IR before/after), the float
    function unchanged, and the deployed loop exact."""
    model = nn.Sequential(nn.Linear(8, 6), N.Recurrent(N.LIF(threshold=0.5), 6, delay=3), nn.Linear(6, 3),
                          N.LIF(threshold=0.3)).double()
    before, after, ctx = _balanced(model)
    fb = "linear_1_feedback"
    assert before.predecessors(fb) == ["lif_1_body"]
    assert after.predecessors(fb) == ["lif_1_body__relay1"]
    assert [n for n in after.nodes if "__relay" in n] == ["lif_1_body__relay0", "lif_1_body__relay1"]
    assert ctx.notes["balance-latency"][fb]["stages"] == 2
    x = payloads(False, 3)
    want = torch_layers(model, x, False)
    bundle = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=10))
    np.testing.assert_array_equal(bundle.run(x, "float").layers["lif_3"].spikes, want["lif_3"])
    deployed = bundle.run(x, "reference").layers["lif_3"].spikes
    N.deploy_exact(model)
    np.testing.assert_array_equal(deployed, torch_layers(model, x, False)["lif_3"])


def test_a_loop_longer_than_its_delay_is_refused_by_name() -> None:
    body = nn.Sequential(N.LIF(), nn.Linear(6, 4), N.LIF())
    model = nn.Sequential(nn.Linear(8, 6), N.Recurrent(body, 6, 4), nn.Linear(4, 3), N.LIF())
    with pytest.raises(UnsupportedLayerError, match=r"layer 'linear_1_feedback': the loop lif_1_body_0 -> "
                                                    r"linear_1_body_1 -> lif_1_body_2 -> linear_1_feedback -> "
                                                    r"lif_1_body_0 passes through 2 synapse layers.*after 1.*"
                                                    r"delay=2"):
        snncc.compile(model, "loihi2")


def test_traced_feedback_synapse() -> None:
    model = nn.Sequential(nn.Linear(8, 6), N.Recurrent(N.LIF(), 6, connectivity="self"), nn.Linear(6, 3), N.LIF())
    with torch.no_grad():
        model[1].feedback.weight.copy_(torch.arange(36.0).reshape(6, 6))  # off-diagonal entries are masked out
    g = trace_module(model)
    fb = "selfconnection_1_feedback"
    assert g.is_recurrent(fb) and g.nodes[fb].metadata[keys.FEEDBACK_DELAY] == 1
    np.testing.assert_array_equal(g.nodes[fb].weight, np.diag(np.arange(36.0).reshape(6, 6).diagonal()))
    assert g.predecessors(fb) == ["lif_1_body"] and set(g.predecessors("lif_1_body")) == {"linear_0", fb}
    assert isinstance(g.nodes["lif_1_body"], FloatNeuron)


@pytest.mark.parametrize(("block", "match"), [
    (lambda: N.Recurrent(nn.Sequential(nn.Linear(6, 6), N.LIF()), 6), "must start with a neuron layer"),
    (lambda: N.Recurrent(nn.Sequential(N.LIF(), nn.Linear(6, 6)), 6), "must end with a neuron layer"),
    (lambda: N.Recurrent(N.NASN(3, 6), 6), "normalizes its input first"),
    (lambda: N.Recurrent(N.LIF(), 5), "takes 5 features"),
])
def test_tracer_names_what_a_loop_cannot_be(block, match: str) -> None:
    model = nn.Sequential(nn.Linear(8, 6), block(), nn.Linear(6, 3), N.LIF()).eval()
    with pytest.raises(snncc.SnnccError, match=f"layer 'recurrent_1'.*{match}"):
        trace_module(model)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"in_features": 0}, "in_features must be a positive integer"),
    ({"in_features": 4, "out_features": 3, "connectivity": "self"}, "self connections need as many"),
    ({"in_features": 4, "connectivity": "ring"}, "connectivity must be one of"),
    ({"in_features": 4, "delay": 0}, r"delay must be an integer number of steps in \[1, 64\]"),
])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        N.Recurrent(N.LIF(), **kwargs)


def test_qat_fine_tunes_a_recurrent_model() -> None:
    """QAT snaps the feedback weights too: after a few steps and finalize, torch == the compiled network."""
    model = recurrent_model("lif", "all", False, seed=11)
    qat = QAT(model, "loihi2", refresh_every=2)
    assert any(g.module is model[1].feedback for plan in qat.plans for g in plan.synapses)
    x = payloads(False, 12, samples=8)
    xin = torch.tensor(x, dtype=torch.float64).permute(1, 0, 2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    before = model[1].feedback.weight.detach().clone()
    for _ in range(4):
        with qat.fake_quant():
            loss = nn.functional.cross_entropy(N.run_sequence(model, xin).sum(0), torch.arange(8) % 3)
            opt.zero_grad()
            loss.backward()
        opt.step()
    assert not torch.equal(before, model[1].feedback.weight.detach())  # the feedback weights learn
    qat.finalize()
    want = torch_layers(model, x, False)
    ref = snncc.compile(model, "loihi2", options=snncc.Options(timesteps=10)).run(x, "reference")
    for name, spikes in want.items():
        np.testing.assert_array_equal(ref.layers[name].spikes, spikes, err_msg=name)


def test_saved_recurrent_model_compiles_from_the_command_line(tmp_path) -> None:
    """Recurrent and SelfConnection are on the safe loader's allow-list."""
    model = recurrent_model("lif", "self", False, seed=13)
    torch.save(model, tmp_path / "m.pt")
    assert cli.main(["compile", str(tmp_path / "m.pt"), "-o", str(tmp_path / "b"), "-q", "--timesteps", "8"]) == 0
    bundle = Bundle.load(tmp_path / "b")
    assert [n for n in bundle.graph.nodes if bundle.graph.is_recurrent(n)] == ["selfconnection_1_feedback"]


@pytest.mark.parametrize(("family", "loop"), [("lif", "all"), ("lif-subtract-cuba", "self"), ("lif", "cross2")])
def test_nir_export_round_trip(tmp_path, capsys, family: str, loop: str) -> None:
    """``snncc export --nir`` writes the loop as a NIR cycle; compiled again, the same float and deployed spikes. A
    feedback delay above one step is snncc metadata: refused without --allow-metadata."""
    model = recurrent_model(family, loop, False, seed=3)
    x = payloads(False, 4)
    first = snncc.compile(model, "loihi2", tmp_path / "b", snncc.Options(timesteps=10))
    metadata = ["--allow-metadata"] if family != "lif" or loop == "cross2" else []
    if loop == "cross2":
        assert cli.main(["export", str(tmp_path / "b"), "--nir", str(tmp_path / "m.nir")]) == 2
        assert "layer 'linear_1_feedback': standard NIR cannot say a loop whose feedback takes more than one step" \
            in capsys.readouterr().err
        assert not (tmp_path / "m.nir").exists()
    assert cli.main(["export", str(tmp_path / "b"), "--nir", str(tmp_path / "m.nir"), *metadata]) == 0
    again = snncc.compile(tmp_path / "m.nir", "loihi2", None, snncc.Options(timesteps=10))
    assert any(again.graph.is_recurrent(n) for n in again.graph.nodes)
    for backend in ("float", "reference"):
        a, b = first.run(x, backend), again.run(x, backend)
        for name in a.layers:
            np.testing.assert_array_equal(a.layers[name].spikes, b.layers[name].spikes, err_msg=f"{backend} {name}")


def test_feedback_shares_the_layer_scale_and_counts_in_its_range_check() -> None:
    """quantize: the feed-forward and the feedback synapse into one layer get one scale and one exponent, and the
    worst-case input is the sum over both (binary spikes: the sum of |mantissa| per neuron)."""
    model = recurrent_model("lif", "all", False, seed=5)
    with torch.no_grad():
        model[1].feedback.weight.mul_(4.0)  # the feedback holds the layer's largest weight
    ctx = PassContext(target=load_target("loihi2"))
    q = PassManager(Pipeline.parse("canonicalize,balance-latency,lower-neurons,quantize").passes).run(
        trace_module(model), ctx)
    ff, fb = q.nodes["linear_0"], q.nodes["linear_1_feedback"]
    assert q.is_recurrent("linear_1_feedback") and not q.is_recurrent("linear_0")
    assert ff.weight_exp == fb.weight_exp and ff.metadata[keys.SCALE] == fb.metadata[keys.SCALE]
    assert int(np.abs(fb.weight).max()) == 127  # the largest weight sets the scale
    worst = int((np.abs(ff.weight).sum(axis=1) + np.abs(fb.weight).sum(axis=1)).max())
    assert ctx.notes["quantize"]["lif_1_body"]["worst_case_input"] == shifted(worst, ff.weight_exp)


def test_calibration_covers_the_feedback_synapse() -> None:
    """calibrate (search) on a recurrent model: the feedback weights get their calibrated grid like the layer's
    feed-forward weights (what QAT starts from), on the layer's one clip."""
    model = recurrent_model("lif", "all", False, seed=6)
    x = payloads(False, 7, samples=16)
    plans = deploy_plan(model, "loihi2", calibration=x)
    (plan,) = [p for p in plans if any(g.module is model[1].feedback for g in p.synapses)]
    assert {id(g.module) for g in plan.synapses} == {id(model[0]), id(model[1].feedback)}
    for grid in plan.synapses:
        assert grid.calibrated is not None
        mantissas = grid.calibrated / grid.unit
        np.testing.assert_allclose(mantissas, np.rint(mantissas), atol=1e-9)  # on the grid
        assert mantissas.max() <= grid.hi and mantissas.min() >= grid.lo


@pytest.mark.lava
@pytest.mark.parametrize("loop", ["self", "cross2"])
def test_graded_loop_lowered_to_binary_populations(loop: str) -> None:
    """On Loihi 1 (no graded spikes) a leak-free multi-level layer in a loop becomes a population of binary neurons:
    the feedback synapse is expanded on both ends (the members' input and output weights) and the lowering stays
    exact (measured against the unlowered integer graph); reference == Lava."""
    torch.manual_seed(3)
    make = lambda: N.MultiLevel(levels=4, threshold=0.5, beta=1.0)  # noqa: E731
    body = make() if loop == "self" else nn.Sequential(make(), nn.Linear(6, 5), make())
    block = N.Recurrent(body, 6, None if loop == "self" else 5, connectivity="all", delay=1 if loop == "self" else 2)
    model = nn.Sequential(nn.Linear(8, 6), block, nn.Linear(6 if loop == "self" else 5, 3), N.LIF(threshold=0.3))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(2.0)
    x = payloads(False, 4, samples=2, steps=8)
    bundle = snncc.compile(model.double(), "loihi", options=snncc.Options(timesteps=8, inputs=x))
    lowered = bundle.report["lowering"]
    assert lowered and all(v["exact"] and v["measured"]["spike_agreement"] == 1.0 for v in lowered.values())
    assert any(bundle.graph.is_recurrent(n) for n in bundle.graph.nodes)
    assert_equivalent(bundle, x)
