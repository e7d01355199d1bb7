"""snncc.neurons: the per-step semantics, state handling and gradients of the training modules."""

import pytest
import torch

from snncc import neurons as N


def test_lif_step_semantics_and_resets():
    lif = N.LIF(beta=0.5, threshold=1.0, reset="zero")
    assert lif(torch.tensor([[0.8]])).item() == 0.0 and lif.v.item() == pytest.approx(0.8)
    assert lif(torch.tensor([[0.7]])).item() == 1.0 and lif.v.item() == 0.0  # 0.4 + 0.7 = 1.1 > 1 -> reset to 0
    soft = N.IF(threshold=1.0, reset="subtract")
    soft(torch.tensor([[1.5]]))
    assert soft.v.item() == pytest.approx(0.5)  # subtract the threshold, keep the rest
    edge = N.IF(threshold=1.0)
    assert edge(torch.tensor([[1.0]])).item() == 0.0  # strict: v == threshold does not fire


def test_current_decay_and_state_reset():
    lif = N.LIF(beta=1.0, threshold=10.0, current_decay=0.5)
    lif(torch.tensor([[2.0]]))
    lif(torch.tensor([[0.0]]))
    assert lif.i.item() == pytest.approx(1.0) and lif.v.item() == pytest.approx(3.0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), lif)
    N.reset_states(model)
    assert lif.v is None and lif.i is None


def test_surrogate_gradient_reaches_weights_and_learnable_parameters():
    torch.manual_seed(0)
    lif = N.LIF(beta=0.8, threshold=1.0, learn_beta=True, learn_threshold=True)
    fc = torch.nn.Linear(4, 3)
    out = N.run_sequence(torch.nn.Sequential(fc, lif), torch.rand(6, 2, 4) * 2)
    out.sum().backward()
    assert fc.weight.grad.abs().sum() > 0
    assert lif.threshold.grad is not None and lif.beta.grad is not None
    assert not N.LIF().beta.requires_grad  # fixed unless asked


def test_graded_input_quantizes_with_straight_through_gradient():
    enc = N.GradedInput(levels=4)
    x = torch.tensor([0.0, 0.1, 0.13, 0.5, 1.2], requires_grad=True)
    y = enc(x)
    assert y.tolist() == [0.0, 0.0, 0.25, 0.5, 1.0]
    assert enc.to_payload(x).tolist() == [0, 0, 1, 2, 4]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]  # clamp blocks the gradient above 1


@pytest.mark.parametrize("kwargs", [dict(reset="never"), dict(beta=1.5), dict(threshold=0.0), dict(current_decay=1.0)])
def test_invalid_parameters(kwargs):
    with pytest.raises(ValueError):
        N.LIF(**kwargs)
