"""Seed-neuron training modules (KLIF, AR-LIF, multi-level/ASN/NASN, QCFS/Group Neuron): per-step semantics against
hand computations and independent references, exact agreement with snncc.fixedpoint, gradients, conversion."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc import fixedpoint as fp
from snncc import neurons as N
from snncc.errors import UnsupportedLayerError
from snncc.families.arlif import integer as aq
from snncc.families.klif.module import K_MIN
from snncc.families.multilevel.integer import multilevel_step
from snncc.frontend.loading import load_model


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---- KLIF ---------------------------------------------------------------------------------------------------------
def test_klif_hand_computed_steps_floor_and_resets():
    n = N.KLIF(tau=2.0, k=1.0, threshold=1.0, reset="zero")
    assert n(torch.tensor([1.0])).item() == 0.0 and n.v.item() == pytest.approx(0.5)  # h = 0 + (1 - 0)/2
    assert n(torch.tensor([1.6])).item() == 1.0 and n.v.item() == 0.0  # h = 0.5 + 1.1/2 = 1.05 > 1 -> hard reset
    n(torch.tensor([1.0]))
    n(torch.tensor([-3.0]))  # h = 0.5 - 3.5/2 < 0 -> the ReLU floors v at 0
    assert n.v.item() == 0.0
    soft = N.KLIF(tau=2.0, k=1.5, threshold=1.0, reset="subtract")
    assert soft(torch.tensor([2.0])).item() == 1.0 and soft.v.item() == pytest.approx(0.5)  # f = 1.5*1 = 1.5
    strict = N.KLIF(tau=2.0, k=1.0, threshold=1.0)
    assert strict(torch.tensor([2.0])).item() == 0.0  # f == threshold: no spike (strict, like Loihi)
    no_decay_input = N.KLIF(tau=4.0, k=1.2, decay_input=False, threshold=10.0)
    no_decay_input(torch.tensor([1.0]))
    assert no_decay_input.v.item() == pytest.approx(1.2)  # gamma = k
    assert no_decay_input.decay == pytest.approx(1.2 * 0.75) and no_decay_input.gain == pytest.approx(1.2)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("decay_input", [True, False])
def test_klif_equals_floored_lif_form(reset, decay_input):
    """§2.5: v = max(beta v + gamma x, 0), beta = k(1-1/tau), gamma = k/tau (k without decay_input)."""
    rng = np.random.default_rng(1)
    tau, k, thr = 3.0, 1.375, 0.75  # float32-exact, so the float64 reference sees the same parameters
    n = N.KLIF(tau=tau, k=k, threshold=thr, reset=reset, decay_input=decay_input).double()
    beta, gamma = n.decay, n.gain
    assert beta == pytest.approx(k * (1 - 1 / tau)) and gamma == pytest.approx(k / tau if decay_input else k)
    xs = rng.normal(0.4, 1.0, size=(60, 200))
    v = np.zeros(200)
    spikes = 0
    for x in xs:
        with torch.no_grad():
            s = n(torch.from_numpy(x)).numpy()
        v = np.maximum(beta * v + gamma * x, 0.0)
        ref = v > thr
        v = np.where(ref, 0.0, v) if reset == "zero" else v - ref * thr
        assert np.array_equal(s.astype(bool), ref)
        np.testing.assert_allclose(n.v.detach().numpy(), v, rtol=0, atol=1e-12)
        spikes += ref.sum()
    assert 0 < spikes < xs.size  # the comparison saw both outcomes


def test_klif_k_is_clamped_to_a_valid_decay_with_straight_through_gradient():
    n = N.KLIF(tau=2.0, k=1.0)
    with torch.no_grad():
        n.k.fill_(5.0)
    assert n.decay == 1.0 and n.gain == 1.0  # k clamped to tau/(tau-1) = 2: beta = 1
    x = torch.full((4,), 0.8)
    n(x)
    assert torch.allclose(n.v, x)  # h = 0.4, f = 2 * 0.4
    n.reset_state()
    n(x)[0].sum()  # no spike; use v for a gradient
    n.v.sum().backward()
    assert n.k.grad is not None and n.k.grad.item() != 0.0  # gradient survives beyond the bound
    with torch.no_grad():
        n.k.fill_(-1.0)
    assert n.decay == pytest.approx(K_MIN / 2) and n.gain == pytest.approx(K_MIN / 2)
    for kwargs in (dict(k=2.5), dict(k=0.0), dict(tau=1.0), dict(threshold=0.0), dict(reset="never")):
        with pytest.raises(ValueError):
            N.KLIF(**kwargs)


# ---- AR-LIF -------------------------------------------------------------------------------------------------------
def _arlif_numpy(xs, decay, threshold, a, c):
    """Plain numpy transcription of seed_neurons.md §1.3 (strict spike)."""
    v = np.zeros(xs.shape[1])
    m = np.zeros(xs.shape[1])
    out = []
    for x in xs:
        v = decay * v + x
        thr = threshold + np.tanh(a) * np.tanh(x)
        s = (v > thr).astype(float)
        g = _sig(c * x)
        m = np.maximum(m, 0) * g + np.minimum(m, 0) * (1 - g)
        m = m + (2 * s - 1) * _sig(x)
        v = v - s * (thr + _sig(m))
        out.append((s, v.copy(), m.copy()))
    return out


def test_arlif_hand_computed_step():
    n = N.ARLIF(decay=0.5, threshold=1.0, a=0.0, c=1.0)
    assert n(torch.tensor([1.0])).item() == 0.0  # v == thr: strict comparison does not fire
    # v = 1.0; m = -sigmoid(1) after one silent step
    assert n.m.item() == pytest.approx(-_sig(1.0))
    assert n(torch.tensor([1.5])).item() == 1.0  # v = 0.5 + 1.5 = 2 > 1
    g = _sig(1.5)
    m = -_sig(1.0) * (1 - g) + _sig(1.5)
    assert n.m.item() == pytest.approx(m)
    assert n.v.item() == pytest.approx(2.0 - (1.0 + _sig(m)))


def test_arlif_float_matches_numpy_reference():
    rng = np.random.default_rng(2)
    decay, threshold, a, c = 0.625, 0.875, 0.75, -1.75  # float32-exact
    n = N.ARLIF(decay=decay, threshold=threshold, a=a, c=c).double()
    xs = rng.normal(0.5, 1.0, size=(40, 300))
    ref = _arlif_numpy(xs, decay, threshold, a, c)
    total = 0
    for x, (s, v, m) in zip(xs, ref, strict=True):
        out = n(torch.from_numpy(x)).detach().numpy()
        assert np.array_equal(out, s)
        np.testing.assert_allclose(n.v.detach().numpy(), v, atol=1e-12)
        np.testing.assert_allclose(n.m.detach().numpy(), m, atol=1e-12)
        total += s.sum()
    assert 0 < total < xs.size


@settings(max_examples=40, deadline=None)
@given(decay=st.floats(0.0, 1.0), threshold=st.floats(0.05, 4.0), a=st.floats(-3.0, 3.0), c=st.floats(-4.0, 4.0),
       scale=st.sampled_from([1, 4, 16, 400]), seed=st.integers(0, 2**31 - 1))
def test_arlif_deploy_exact_is_fixedpoint_arlif_step(decay, threshold, a, c, scale, seed):
    """Forward in deploy-exact mode == the family's arlif_step on Q12 integer inputs, step after step."""
    n = N.ARLIF(decay=decay, threshold=threshold, a=a, c=c, deploy_exact=True)
    q = n.quantized()
    assert q == {"dv": fp.float_decay_to_int(decay), "vth": round(threshold * 4096), "amp": round(math.tanh(a) * 4096),
                 "gate": round(c * 4096)}
    rng = np.random.default_rng(seed)
    v = np.zeros(64, np.int64)
    m = np.zeros(64, np.int64)
    for _ in range(25):
        xi = rng.integers(-scale * 4096, scale * 4096 + 1, 64) // rng.integers(1, 8, 64)
        with torch.no_grad():
            s = n(torch.from_numpy(xi / 4096).float())
        v, m, s_ref = aq.arlif_step(v, m, xi, q["dv"], q["vth"], q["amp"], q["gate"])
        assert np.array_equal(s.numpy().astype(bool), s_ref)
        assert np.array_equal(n.v.double().numpy() * 4096, v)
        assert np.array_equal(n.m.double().numpy() * 4096, m)


def test_arlif_deploy_exact_differs_from_float_yet_passes_gradients():
    torch.manual_seed(3)
    fc = torch.nn.Linear(5, 8)
    n = N.ARLIF(decay=0.5, a=0.3, c=0.7, deploy_exact=True)
    model = torch.nn.Sequential(fc, n)
    xs = torch.rand(12, 4, 5) * 3
    out = N.run_sequence(model, xs)
    (out.sum() + n.v.sum() + n.m.sum()).backward()
    for p in (fc.weight, n.a, n.c):
        assert p.grad is not None and p.grad.abs().sum() > 0
    q = (n.v.detach().double() * 4096)
    assert torch.equal(q, torch.round(q))  # state on the Q12 grid
    n.deploy_exact = False
    with torch.no_grad():
        N.run_sequence(model, xs)
    q_float = n.v.double() * 4096
    assert not torch.equal(q_float, torch.round(q_float))  # float mode does not quantize


def test_arlif_rectangle_surrogate_and_parameter_gradients():
    torch.manual_seed(4)
    n = N.ARLIF(decay=0.5, threshold=1.0)
    x = torch.tensor([0.25, 0.75, 1.25, 1.5, 1.75, 3.0], requires_grad=True)  # v - thr = x - 1
    n(x).sum().backward()
    # ds/dx through v (1) and through thr (-tanh(0) tanh'(x) = 0): box of height 1 for |v - thr| <= 0.5
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    fc = torch.nn.Linear(4, 6)
    ar = N.ARLIF(a=0.2, c=1.0)
    N.run_sequence(torch.nn.Sequential(fc, ar), torch.rand(10, 3, 4) * 2).sum().backward()
    assert fc.weight.grad.abs().sum() > 0 and ar.a.grad.abs() > 0 and ar.c.grad.abs() > 0
    assert not N.ARLIF(learn=False).a.requires_grad
    for kwargs in (dict(decay=1.5), dict(threshold=0.0), dict(a=math.inf)):
        with pytest.raises(ValueError):
            N.ARLIF(**kwargs)


# ---- multi-level family ------------------------------------------------------------------------------------------
def test_multilevel_hand_computed_clip_and_soft_reset():
    n = N.MultiLevel(levels=3, threshold=1.0)
    assert n(torch.tensor([2.5])).item() == 2.0 and n.v.item() == pytest.approx(0.5)
    assert n(torch.tensor([3.0])).item() == 3.0 and n.v.item() == pytest.approx(0.5)  # v = 3.5 -> z = 3
    assert n(torch.tensor([10.0])).item() == 3.0 and n.v.item() == pytest.approx(7.5)  # clipped at levels
    n.reset_state()
    assert n(torch.tensor([-1.5])).item() == 0.0 and n.v.item() == -1.5  # no negative spikes, no reset
    scaled = N.MultiLevel(levels=4, threshold=0.5, beta=0.5, offset=0.5, out_scale=0.25)
    assert scaled(torch.tensor([0.74])).item() == 0.25  # z = floor(1.48 + 0.5) = 1, out = 1 * 0.25
    assert scaled.v.item() == pytest.approx(0.24)
    assert scaled(torch.tensor([1.0])).item() == 0.5  # v = 0.12 + 1 = 1.12 -> z = floor(2.74) = 2
    assert scaled.out_scale == 0.25 and scaled.decay == 0.5 and scaled.offset == 0.5 and scaled.levels == 4
    assert N.MultiLevel(threshold=0.7).out_scale == pytest.approx(0.7)  # default: output theta * z
    for kwargs in (dict(levels=0), dict(levels=2.5), dict(threshold=0.0), dict(beta=1.1), dict(offset=1.0),
                   dict(out_scale=0.0)):
        with pytest.raises(ValueError):
            N.MultiLevel(**kwargs)


@settings(max_examples=40, deadline=None)
@given(theta_exp=st.integers(0, 12), levels=st.integers(1, 8), frac=st.floats(0.0, 0.999),
       seed=st.integers(0, 2**31 - 1))
def test_multilevel_equals_fixedpoint_multilevel_step(theta_exp, levels, frac, seed):
    """IF multi-level on the integer grid: float module == the family's multilevel_step (a_in << 6 enters v)."""
    theta_int = 1 << theta_exp
    offset_int = int(frac * theta_int)
    n = N.MultiLevel(levels=levels, threshold=theta_int / 64, beta=1.0, offset=offset_int / theta_int).double()
    rng = np.random.default_rng(seed)
    u = np.zeros(32, np.int64)
    v = np.zeros(32, np.int64)
    for _ in range(20):
        a_in = rng.integers(-3 * theta_int // 64 - 2, (levels + 2) * theta_int // 64 + 2, 32)
        with torch.no_grad():
            out = n(torch.from_numpy(a_in.astype(np.float64)))
        u, v, z = multilevel_step(u, v, a_in, du=4095, dv=0, bias=np.zeros(32, np.int64), theta_exp=theta_exp,
                                     offset=offset_int, levels=levels)
        assert np.array_equal(out.numpy() / n.out_scale, z)
        assert np.array_equal(n.v.numpy() * 64, v)


def test_multilevel_box_gradient_and_lsq_theta_gradient():
    n = N.MultiLevel(levels=4, threshold=0.5)
    x = torch.tensor([-0.2, 0.3, 1.3, 2.6], requires_grad=True)  # w = v/theta = -0.4, 0.6, 2.6, 5.2
    out = n(x)
    assert out.tolist() == [0.0, 0.0, 1.0, 2.0]
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]  # dz/dv = 1/theta inside [0, N theta], out = theta z
    # LSQ: d(theta z)/d theta = z - v/theta inside, N above, 0 below
    assert n.threshold.grad.item() == pytest.approx((0 - 0.6) + (2 - 2.6) + 4)


def test_multilevel_family_gradients_reach_weights_theta_and_beta():
    torch.manual_seed(5)
    for neuron in (N.MultiLevel(levels=3, threshold=0.3, beta=0.8, learn_beta=True), N.ASN(levels=4, threshold=0.3)):
        fc = torch.nn.Linear(4, 6)
        N.run_sequence(torch.nn.Sequential(fc, neuron), torch.rand(6, 3, 4)).pow(2).sum().backward()
        assert fc.weight.grad.abs().sum() > 0
        assert neuron.threshold.grad.abs() > 0 and neuron.beta.grad.abs() > 0
    assert not N.MultiLevel().beta.requires_grad and N.MultiLevel().threshold.requires_grad


def test_asn_rounds_with_learnable_leak():
    n = N.ASN(levels=4, threshold=1.0, beta=0.5)
    assert isinstance(n, N.MultiLevel) and n.offset == 0.5
    assert n(torch.tensor([1.5])).item() == 2.0 and n.v.item() == -0.5  # round half up, output z * theta
    assert n(torch.tensor([1.2])).item() == 1.0 and n.v.item() == pytest.approx(-0.05)  # v = -0.25 + 1.2 = 0.95
    assert n.beta.requires_grad and n.threshold.requires_grad
    with torch.no_grad():
        n.beta.fill_(1.7)
    assert n.decay == 1.0  # clamped to [0, 1]


def test_nasn_folded_affine_is_the_eval_normalization():
    torch.manual_seed(6)
    n = N.NASN(levels=4, features=5, threshold=0.5)
    with torch.no_grad():
        n.norm.weight.uniform_(0.5, 2.0)
        n.norm.bias.uniform_(-1.0, 1.0)
    for _ in range(20):  # training mode: batch statistics, running statistics updated
        n(torch.randn(16, 5) * 3 + 2)
    n.eval()
    n.reset_state()
    x = torch.randn(32, 5) * 3 + 2
    scale, shift = n.folded_affine()
    ref = torch.nn.functional.batch_norm(x, n.norm.running_mean, n.norm.running_var, n.norm.weight, n.norm.bias,
                                         False, 0.0, n.norm.eps)
    torch.testing.assert_close(x * scale + shift, ref, rtol=1e-6, atol=1e-6)
    out = n(x)
    asn = N.ASN(levels=4, threshold=0.5)
    asn.load_state_dict(n.neuron.state_dict())
    assert torch.equal(out, asn(x * scale + shift))  # eval forward is exactly the folded affine + ASN
    fc = torch.nn.Linear(3, 5)
    folded = torch.nn.Linear(3, 5)
    with torch.no_grad():
        folded.weight.copy_(fc.weight * scale[:, None])
        folded.bias.copy_(fc.bias * scale + shift)
    inp = torch.randn(8, 3)
    torch.testing.assert_close(folded(inp), n.norm(fc(inp)), rtol=1e-5, atol=1e-5)
    assert n(torch.randn(2, 5, 7)).shape == (2, 5, 7)  # (batch, features, length) broadcasts per feature
    assert n.levels == 4 and n.threshold is n.neuron.threshold and n.offset == 0.5 and n.features == 5


# ---- QCFS and Group Neurons ---------------------------------------------------------------------------------------
def test_qcfs_values_and_gradients():
    act = N.QCFS(levels=4)
    assert act.theta.item() == 4.0 and act.theta.requires_grad  # init theta = L
    x = torch.tensor([-1.0, 0.4, 0.5, 1.49, 3.6, 10.0], requires_grad=True)
    y = act(x)
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0, 4.0, 4.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # floor STE, zero outside the clip
    assert act.theta.grad.item() != 0.0
    for kwargs in (dict(levels=0), dict(theta=-1.0)):
        with pytest.raises(ValueError):
            N.QCFS(**kwargs)


def test_group_neuron_is_a_multilevel_configuration():
    gn = N.GroupNeuron(members=4, theta=2.0)
    assert isinstance(gn, N.MultiLevel)
    assert (gn.levels, gn.threshold.item(), gn.decay, gn.offset, gn.out_scale) == (4, 0.5, 1.0, 0.5, 0.5)
    assert gn.members == 4 and gn.theta == 2.0 and not gn.threshold.requires_grad
    # the code's form: v0 = theta/(2m), c = clip(floor(v m / theta), 0, m), v -= c theta/m
    rng = np.random.default_rng(7)
    v = np.full(50, 0.25)
    for _ in range(10):
        x = rng.uniform(-1.0, 3.0, 50)
        with torch.no_grad():
            out = gn(torch.from_numpy(x)).numpy()
        v = v + x
        c = np.clip(np.floor(v * 4 / 2.0), 0, 4)
        v = v - c * 0.5
        np.testing.assert_allclose(out, c * 0.5)


def _qcfs_mlp(levels):
    torch.manual_seed(8)
    ann = torch.nn.Sequential(torch.nn.Linear(6, 16), N.QCFS(levels, theta=1.7), torch.nn.Linear(16, 12),
                              N.QCFS(levels, theta=2.3), torch.nn.Linear(12, 3))
    return ann


def test_converted_mlp_equals_qcfs_ann_at_one_step_and_refines_with_time():
    levels = 4
    ann = _qcfs_mlp(levels)
    snn = N.convert_to_snn(ann)
    assert [type(m) for m in snn] == [torch.nn.Linear, N.GroupNeuron, torch.nn.Linear, N.GroupNeuron,
                                      torch.nn.Linear]
    assert snn[1].members == levels and snn[1].theta == pytest.approx(1.7) and isinstance(ann[1], N.QCFS)
    x = torch.randn(256, 6) * 2
    with torch.no_grad():
        y_ann = ann(x)
        assert torch.equal(N.run_sequence(snn, x[None])[0], y_ann)  # T=1: bit-exact
        clip_ann = torch.nn.Sequential(ann[0], torch.nn.Hardtanh(0.0, 1.7), ann[2], torch.nn.Hardtanh(0.0, 2.3),
                                       ann[4])
        y_clip = clip_ann(x)
        errs = [(N.run_sequence(snn, x.expand(t, -1, -1)).mean(0) - y_clip).abs().mean().item() for t in (1, 4, 32)]
        err_ann = [(N.run_sequence(snn, x.expand(t, -1, -1)).mean(0) - y_ann).abs().max().item() for t in (4, 32)]
    assert errs[0] > errs[1] > errs[2]  # time averaging refines toward the theta-clipped ReLU network
    assert max(err_ann) < 0.5 * (y_ann - y_clip).abs().max().item() + 1.0  # and stays near the QCFS ANN
    other = N.convert_to_snn(ann, members=2)
    assert other[1].members == 2 and other[1].threshold.item() == pytest.approx(1.7 / 2)


def test_group_neuron_time_average_is_the_finer_quantization():
    """Constant input x for T steps: sum z = clip(floor(T x/q + 1/2), 0, T m) (the NT+1-level property)."""
    gn = N.GroupNeuron(members=4, theta=4.0).double()  # q = 1
    x = torch.from_numpy(np.random.default_rng(9).integers(-40, 120, 400) / 16.0)
    for t in (1, 3, 8):
        total = N.run_sequence(gn, x.expand(t, -1)).sum(0)
        assert torch.equal(total, torch.clamp(torch.floor(t * x + 0.5), 0, 4 * t))


def test_convert_rejects_relu_and_maxpool_naming_them():
    ann = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with pytest.raises(UnsupportedLayerError, match=r"layer '1'.*ReLU.*QCFS"):
        N.convert_to_snn(ann)
    nested = torch.nn.Sequential(torch.nn.Sequential(N.QCFS(4), torch.nn.MaxPool1d(2)))
    with pytest.raises(UnsupportedLayerError, match=r"layer '0.1'.*MaxPool1d"):
        N.convert_to_snn(nested)
    with pytest.raises(UnsupportedLayerError, match="no QCFS"):
        N.convert_to_snn(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    with pytest.raises(ValueError):
        N.convert_to_snn(_qcfs_mlp(4), members=0)


# ---- state handling and safe loading ------------------------------------------------------------------------------
def _all_stateful():
    return torch.nn.Sequential(
        torch.nn.Linear(3, 4), N.KLIF(), N.ARLIF(), N.MultiLevel(), N.ASN(), N.NASN(4, 4), N.GroupNeuron(), N.LIF())


def test_reset_states_clears_every_seed_neuron():
    model = _all_stateful()
    model(torch.rand(2, 3))
    stateful = [m for m in model.modules() if isinstance(m, N.SpikingModule)]
    assert all(getattr(m, "v", None) is not None for m in stateful if not isinstance(m, N.NASN))
    N.reset_states(model)
    assert all(m.v is None for m in stateful if not isinstance(m, N.NASN))
    assert model[2].m is None and model[5].neuron.v is None
    model(torch.rand(5, 3))  # a new batch size re-creates the state
    assert model[1].v.shape == (5, 4)


def test_seed_neurons_load_through_the_safe_allow_list(tmp_path):
    model = torch.nn.Sequential(_all_stateful(), N.QCFS(4))
    path = tmp_path / "model.pt"
    torch.save(model, path)
    loaded = load_model(path)
    assert not loaded.unsafe
    assert [type(m) for m in loaded.module.modules()] == [type(m) for m in model.modules()]
