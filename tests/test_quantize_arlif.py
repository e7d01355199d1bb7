"""quantize on AR-LIF layers: the input scale of the integer program (power of two, or gain * 2**shift).

Before: a float AR-LIF layer and its float synapse. After: a QARLIF whose ``input_gain[i] * 2**input_shift`` is the
Q12 value of one mantissa step of neuron ``i``, and an unshifted QDense; each float weight is deployed as that value
times its mantissa.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snncc import neurons as N
from snncc.families.arlif import integer as aq
from snncc.families.arlif.nodes import QARLIF
from snncc.frontend import trace_module
from snncc.ir import QDense
from snncc.passes import Canonicalize, LowerNeurons, PassContext, PassManager, Quantize
from snncc.target import load_target


def quantize(weight: np.ndarray) -> tuple[QDense, QARLIF, dict, list[str]]:
    """Compile ``Linear(weight) -> ARLIF`` up to quantize; returns the synapse, the neuron, its stats, warnings."""
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(weight))
    ctx = PassContext(target=load_target("loihi2"))
    g = PassManager([Canonicalize(), LowerNeurons(), Quantize()]).run(trace_module(nn.Sequential(lin, N.ARLIF())),
                                                                      ctx)
    (syn,) = [n for n in g.nodes.values() if isinstance(n, QDense)]
    (name, neuron), = [(k, n) for k, n in g.nodes.items() if isinstance(n, QARLIF)]
    return syn, neuron, ctx.notes["quantize"][name], ctx.warnings


def deployed_q12(syn: QDense, neuron: QARLIF) -> np.ndarray:
    """What each weight adds to the program's Q12 input current, per unit of payload (before the rounding shift)."""
    return syn.weight * step(neuron)


def step(neuron: QARLIF) -> np.ndarray:
    """Per output row (n, 1): the Q12 value of one mantissa step."""
    return neuron.input_gain[:, None] * 2.0**neuron.input_shift


def row_errors(w: np.ndarray, syn: QDense, step_q12: np.ndarray) -> np.ndarray:
    """Per row, the squared difference between the float weights and their deployed values."""
    return np.sum((syn.weight * step_q12 / aq.ARLIF_ONE - w) ** 2, axis=1)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n_in=st.integers(2, 40), n_out=st.integers(1, 12),
       log_scale=st.floats(-6.0, 2.0))
def test_float_weights_use_the_mantissa_range_and_round_to_the_nearest_step(seed, n_in, n_out, log_scale):
    w = np.random.default_rng(seed).normal(size=(n_out, n_in)) * 2.0**log_scale
    syn, neuron, stats, _ = quantize(w)
    assert syn.weight_exp == 0  # the program scales the sum, so it is never floored
    error = np.abs(deployed_q12(syn, neuron) - w * aq.ARLIF_ONE)
    assert np.all(error <= step(neuron) / 2 * (1 + 1e-9))  # nearest step of each row, nothing clipped
    gain, shift = neuron.input_gain, neuron.input_shift
    if np.any(gain > 1):  # free scales: no row is rounded worse than on its finest grid (largest weight on 127)
        assert gain.max() < 1 << aq.ARLIF_GAIN_BITS
        needed = aq.ARLIF_ONE * np.abs(w).max(axis=1) / 127  # Q12 per step that puts the row's max on 127
        assert np.all(needed <= gain * 2.0**shift)
        finest = np.maximum(np.ceil(needed / 2.0**shift - 1e-9), 1)[:, None] * 2.0**shift
        fine_syn = QDense(weight=np.clip(np.round(w * aq.ARLIF_ONE / finest), -128, 127), weight_exp=0)
        assert np.all(row_errors(w, syn, step(neuron)) <= row_errors(w, fine_syn, finest) * (1 + 1e-9) + 1e-300)
        top = np.abs(syn.weight).max(axis=1)
        assert np.all(top[gain >= 254] >= 64)  # a coarser grid is only tried down to half the mantissa range
    assert stats["input_shift"] == shift


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), shift=st.integers(-20, 4), n_in=st.integers(3, 30), n_out=st.integers(2, 10))
def test_weights_on_per_neuron_grids_below_the_mantissa_limit_are_found_again_exactly(seed, shift, n_in, n_out):
    """Each row on its own 12-bit gain with its largest mantissa anywhere in 90..127 (as error-minimising
    rounding or a finalized QAT model leaves them): quantize deploys every weight unchanged."""
    rng = np.random.default_rng(seed)
    gain = rng.integers(2048, 4096, size=n_out)
    m = rng.integers(-89, 90, size=(n_out, n_in))
    m[np.arange(n_out), rng.integers(0, n_in, size=n_out)] = rng.integers(90, 128, size=n_out)
    w = m * (gain[:, None] * 2.0**shift) / aq.ARLIF_ONE
    syn, neuron, stats, _ = quantize(w)
    np.testing.assert_array_equal(deployed_q12(syn, neuron), w * aq.ARLIF_ONE)
    assert stats["weight_rms_error"] == pytest.approx(0, abs=1e-12 * np.abs(w).max())


def test_the_free_scale_rounds_float_weights_better_than_the_power_of_two():
    """max |w| = 0.7: the power of two maps it onto mantissa 0.7 * 4096 / 32 = 89.6, the free scale onto 127."""
    w = np.random.default_rng(0).uniform(-0.7, 0.7, size=(20, 30))
    w[0, 0] = 0.7
    syn, neuron, stats, _ = quantize(w)
    assert np.all(neuron.input_gain > 1) and np.abs(syn.weight).max() == 127
    pow2_error = np.abs(np.round(w * aq.ARLIF_ONE / 32) * 32 - w * aq.ARLIF_ONE)
    free_error = np.abs(deployed_q12(syn, neuron) - w * aq.ARLIF_ONE)
    assert np.sqrt(np.mean(free_error**2)) < 0.75 * np.sqrt(np.mean(pow2_error**2))
    assert stats["weight_rms_error"] == pytest.approx(np.sqrt(np.mean(free_error**2)) / aq.ARLIF_ONE)


@pytest.mark.parametrize("exp", [-9, -3, 1, 5])
def test_weights_on_a_power_of_two_grid_deploy_with_gain_one_and_no_error(exp):
    """A deploy-exact model's weights (multiples of 2**(exp - 12) with mantissas up to 100): kept exactly."""
    m = np.random.default_rng(exp + 10).integers(-100, 101, size=(8, 16))
    m[0, 0] = 100
    syn, neuron, stats, _ = quantize(m * 2.0 ** (exp - aq.ARLIF_FRAC))
    assert np.all(neuron.input_gain == 1) and neuron.input_shift == exp
    np.testing.assert_array_equal(syn.weight, m)
    assert stats["weight_rms_error"] == pytest.approx(0, abs=1e-12)


def test_requantizing_the_deployed_weights_finds_the_same_grid():
    """Idempotent (QAT refreshes its grids from weights already on them)."""
    w = np.random.default_rng(5).normal(size=(10, 25)) * 0.3
    syn, neuron, _, _ = quantize(w)
    again, neuron2, stats, _ = quantize(deployed_q12(syn, neuron) / aq.ARLIF_ONE)
    np.testing.assert_array_equal(neuron2.input_gain, neuron.input_gain)
    assert neuron2.input_shift == neuron.input_shift
    np.testing.assert_array_equal(again.weight, syn.weight)
    assert stats["weight_rms_error"] == pytest.approx(0, abs=1e-12)


def test_a_large_fan_in_gets_a_gain_whose_product_with_the_sum_fits_int32():
    """20000 weights of 1.0 to 1.3: the worst-case sum (about 2.2e6, 22 bits) leaves 10 bits for the gain."""
    syn, neuron, _, warnings = quantize(np.ones((1, 20000)) + np.linspace(0, 0.3, 20000)[None])
    worst = int(np.abs(syn.weight).sum())
    (gain,) = neuron.input_gain
    assert worst * gain < 2**31 <= worst * 2 * gain  # one more bit would overflow
    assert int(gain).bit_length() == 10
    assert any("can wrap" in w for w in warnings)  # its input current can exceed the 24-bit state: named
