"""The integer rules of snncc.fixedpoint, pinned to values measured in Lava (shared note, loihi2_lava.md §1)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc import fixedpoint as fx
from snncc.families.arlif import integer as aq
from snncc.families.lif.integer import lif_step


def test_decay_truncates_toward_zero():
    assert fx.trunc_decay(np.array([128]), 1).tolist() == [127]  # du=0 still decays: 128 -> 127
    assert fx.trunc_decay(np.array([-100]), 2048).tolist() == [-50]
    assert fx.trunc_decay(np.array([-101]), 2048).tolist() == [-50]  # -50.5 -> -50 (toward zero, not floor)
    assert fx.trunc_decay(np.array([101]), 2048).tolist() == [50]
    assert fx.trunc_decay(np.array([5]), 4096).tolist() == [0]
    assert fx.trunc_decay(np.array([7]), 0).tolist() == [7]


def test_current_wrap_is_a_single_correction():
    m = 1 << 23
    assert fx.wrap_current(np.array([m])).tolist() == [m]  # exactly +2**23 is left alone
    assert fx.wrap_current(np.array([m + 1])).tolist() == [-m + 1]
    assert fx.wrap_current(np.array([-m])).tolist() == [m]
    assert fx.wrap_current(np.array([3 * m])).tolist() == [m]  # beyond 2**24: folded once only


def test_voltage_saturates():
    m = (1 << 23) - 1
    assert fx.saturate(np.array([m + 5, -m - 5, 3])).tolist() == [m, -m, 3]


def test_lif_step_hard_and_soft_reset():
    u, v = np.zeros(2, np.int64), np.zeros(2, np.int64)
    u1, v1, s = lif_step(u, v, np.array([2, 1]), du=4095, dv=0, vth=100, bias=np.zeros(2), reset="zero")
    # a << 6 = 128 and 64; vth << 6 = 6400: no spike yet
    assert u1.tolist() == [128, 64] and v1.tolist() == [128, 64] and s.tolist() == [False, False]
    u2, v2, s2 = lif_step(u, np.array([6400, 6401]), np.array([0, 0]), 4095, 0, 100, np.zeros(2), "zero")
    assert s2.tolist() == [False, True] and v2.tolist() == [6400, 0]  # strict >
    _, v3, s3 = lif_step(u, np.array([6401, 10]), np.array([0, 0]), 4095, 0, 100, np.zeros(2), "subtract")
    assert s3.tolist() == [True, False] and v3.tolist() == [1, 10]  # soft reset subtracts vth << 6


def test_bias_and_shift():
    assert fx.bias_value(np.array([4095, -3, 5]), np.array([5, 6, -1])).tolist() == [131040, -192, 2]
    assert fx.shift_floor(np.array([7, -7]), -1).tolist() == [3, -4]  # arithmetic shift floors
    assert fx.shift_floor(np.array([7]), 2).tolist() == [28]


@pytest.mark.parametrize("exp", [-3, -1, 0, 1, 2])
def test_lava_dense_encoding_is_exact(exp):
    w = np.array([[-128, -3, 0, 5, 127]])
    enc, e, bits = fx.lava_dense_encoding(w, exp)
    # Lava MIXED mode: clip to [-256, 255], floor to multiples of 2**(8 - bits + 1), then shift the sum by e
    nt = 8 - bits + 1
    stored = (np.clip(enc, -256, 255) >> nt) << nt
    s = np.ones(5, np.int64)
    assert fx.shift_floor(stored @ s, e).tolist() == fx.shift_floor(w @ s, exp).tolist()
    with pytest.raises(ValueError):
        fx.lava_dense_encoding(np.array([[200]]), 0)


def test_float_decay_to_int():
    assert fx.float_decay_to_int(1.0) == 0
    assert fx.float_decay_to_int(0.0) == 4096
    assert fx.float_decay_to_int(0.9) == 410


def test_arlif_sigmoid_table_is_the_rounded_sigmoid_and_interpolates_it_closely():
    """The AR-LIF program's sigmoid: knots round(4096 sigmoid(k/4)), linear between them, 1 - y for x < 0."""
    k = np.arange(len(aq.SIGMOID_KNOTS))
    exact = 4096 / (1 + np.exp(-k / 4))
    np.testing.assert_array_equal(aq.SIGMOID_KNOTS, np.round(exact))
    x = np.arange(-12 * 4096, 12 * 4096 + 1)
    y, t = aq.sigmoid_q(x), aq.tanh_q(x)
    assert np.all(np.diff(y) >= 0) and np.all(y[::-1] == 4096 - y)  # monotone, and sigmoid(-x) = 1 - sigmoid(x)
    assert aq.sigmoid_q(np.array([0, 4096, 8 * 4096, 1 << 22])).tolist() == [2048, 2994, 4095, 4095]
    sigmoid_error = np.abs(y / 4096 - 1 / (1 + np.exp(-x / 4096))).max()
    tanh_error = np.abs(t / 4096 - np.tanh(x / 4096)).max()
    assert sigmoid_error < 0.0009 and tanh_error < 0.0018  # PLAN, before it: 0.019 and 0.038


def test_arlif_input_scales_by_gain_and_rounds_half_up():
    """x = round(a * gain * 2**shift) + bias: halves round up (toward +inf) on both signs; left shifts are exact."""
    a = np.array([5, 2, -2, -3, 0])
    # 15/4 = 3.75 -> 4; 6/4 = 1.5 -> 2; -6/4 = -1.5 -> -1; -9/4 = -2.25 -> -2
    assert aq.arlif_input(a, 3, -2, np.zeros(5)).tolist() == [4, 2, -1, -2, 0]
    assert aq.arlif_input(a, 3, -2, np.array([1, 0, 0, 0, -7])).tolist() == [5, 2, -1, -2, -7]
    assert aq.arlif_input(a, 1, 6, np.zeros(5)).tolist() == [320, 128, -128, -192, 0]  # the power-of-two grid
    assert aq.arlif_input(a, 3710, -12, np.zeros(5)).tolist() == [5, 2, -2, -3, 0]  # 18550/4096 = 4.53 -> 5...


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([1, 7, 8, 64]), st.sampled_from([1, 200, 3000]),
       st.sampled_from([1, 2**7, 2**16, 2**24, 2**40]))
def test_exact_matmul_equals_integer_matmul_in_every_regime(seed, rows, inner, scale):
    """float32, float64 or int64, whichever the bound picks, the product is the int64 one exactly (large values
    push the bound past 2**24 and 2**53; few rows keep the int64 loop)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-scale, scale + 1, (rows, inner), dtype=np.int64)
    b = rng.integers(-128, 128, (inner, 5), dtype=np.int64)
    b[0, 0] = 127  # the largest weight, so the bound is reached
    a[0, 0] = scale
    np.testing.assert_array_equal(fx.exact_matmul(a, b), a @ b)


def test_exact_matmul_keeps_int64_where_a_float_would_round():
    big = np.full((8, 2), (1 << 60) + 1, np.int64)  # 2**60 + 1 is no float64: a float product would lose the 1s
    assert int(fx.exact_matmul(big, np.ones((2, 1), np.int64))[0, 0]) == (1 << 61) + 2
    near = np.full((8, 2), (1 << 23) + 1, np.int64)  # past float32's 2**24 in the sum: float64 is still exact
    assert int(fx.exact_matmul(near, np.ones((2, 1), np.int64))[0, 0]) == (1 << 24) + 2
