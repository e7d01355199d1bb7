"""The reference simulator's compiled kernels equal the numpy rules they compile, value for value.

The LIF kernel runs ``lif_step`` itself under numba, so a difference can only come from numba's binding of the
arithmetic (:mod:`snncc.kernels`); the draws reach the corners where the rules branch: the current's wrap (inputs
near +-2**17 shifted by 6), the voltage's saturation, every reset mode, the floor, firing at the threshold, a bias
into the current. The synapse kernel is checked against int64 numpy on every route DenseProduct takes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc import fixedpoint as fx
from snncc.families.lif.integer import lif_step
from snncc.families.lif.kernel import compiled_lif_step
from snncc.ir.nodes import RESET_MODES
from snncc.kernels import EVENT_MAX_DENSITY, DenseProduct, count_at_limit

STATE = 1 << 23


def _states(rng: np.random.Generator, shape: tuple[int, int], scale: int) -> np.ndarray:
    """int64 values of every magnitude up to ``scale``, with exact corner values mixed in."""
    x = (rng.integers(-scale, scale + 1, shape) >> rng.integers(0, 24, shape)).astype(np.int64)
    corners = np.array([0, 1, -1, STATE, -STATE, STATE - 1, -(STATE - 1), STATE + 1], np.int64)
    mask = rng.random(shape) < 0.1
    x[mask] = rng.choice(corners, int(mask.sum()))
    return x


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), reset=st.sampled_from(RESET_MODES), du=st.integers(0, 4095),
       dv=st.integers(0, 4096), vth=st.integers(0, (1 << 17) - 1), floor=st.sampled_from([None, 0, -5000]),
       at_threshold=st.booleans(), with_current_bias=st.booleans())
def test_compiled_lif_step_equals_numpy_lif_step(seed, reset, du, dv, vth, floor, at_threshold, with_current_bias):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 40)))
    u, v = _states(rng, shape, STATE), _states(rng, shape, STATE)
    a = _states(rng, shape, 1 << 18)  # a << 6 reaches past the current's 24 bits: the wrap is exercised
    bias = _states(rng, shape[1:], 1 << 20)
    current_bias = _states(rng, shape[1:], 1 << 10) if with_current_bias else np.zeros(shape[1], np.int64)
    u_np, v_np, s_np = lif_step(u, v, a + current_bias, du, dv, vth, bias, reset, v_min=floor,
                                fire_at_threshold=at_threshold)
    u_c, v_c = u.copy(), v.copy()
    s_c = compiled_lif_step(u_c, v_c, a, bias, current_bias, du, dv, vth, reset, floor, at_threshold,
                            fx.DEFAULT_FORMAT)
    np.testing.assert_array_equal(u_c, u_np)
    np.testing.assert_array_equal(v_c, v_np)
    np.testing.assert_array_equal(s_c, s_np.astype(np.int8))


def test_compiled_lif_step_reaches_the_corners():
    """The draws above are not vacuous: wrap and saturation happen, and every reset mode spikes."""
    rng = np.random.default_rng(0)
    shape = (4, 64)
    u, v, a = _states(rng, shape, STATE), _states(rng, shape, STATE), _states(rng, shape, 1 << 18)
    zeros = np.zeros(64, np.int64)
    unwrapped = fx.trunc_decay(u, 1) + (a << 6)
    assert np.any(np.abs(unwrapped) > STATE)
    for reset in RESET_MODES:
        uc, vc = u.copy(), v.copy()
        s = compiled_lif_step(uc, vc, a, zeros, zeros, 0, 0, 100, reset, None, False, fx.DEFAULT_FORMAT)
        assert s.any() and not s.all()
        assert np.any(np.abs(vc) == STATE - 1) or reset == "zero"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.sampled_from([1, 3, 8, 33]), density=st.sampled_from([0.02, 0.2, 0.9]),
       scale=st.sampled_from([127, 1 << 20, 1 << 40]), graded=st.booleans())
def test_dense_product_equals_the_int64_product(seed, rows, density, scale, graded):
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 70)), int(rng.integers(1, 50))
    w = rng.integers(-scale, scale + 1, (n_out, n_in), dtype=np.int64)
    s = np.where(rng.random((rows, n_in)) < density, rng.integers(-9, 10, (rows, n_in)), 0).astype(np.int64)
    binary = not graded
    expected = ((s != 0).astype(np.int64) if binary else s) @ w.T
    np.testing.assert_array_equal(DenseProduct(w)(s, binary), expected)


def test_dense_product_routes():
    """Sparse binary input takes the event kernel (int32 when the columns allow it, int64 when not); dense or graded
    input the exact BLAS product; each equals the int64 product, including sums that pass 2**31."""
    rng = np.random.default_rng(1)
    small = rng.integers(-128, 128, (30, 200), dtype=np.int64)
    big = np.full((3, 200), 1 << 30, np.int64)  # column sums of 200 * 2**30: beyond int32
    assert DenseProduct(small).event_weight.dtype == np.int32
    assert DenseProduct(big).event_weight.dtype == np.int64
    sparse = (rng.random((16, 200)) < EVENT_MAX_DENSITY / 2).astype(np.int8)
    dense = (rng.random((16, 200)) < 0.9).astype(np.int8)
    for w in (small, big):
        for s in (sparse, dense, sparse[:, ::-1]):  # a non-contiguous view too
            np.testing.assert_array_equal(DenseProduct(w)(s, True), (s != 0).astype(np.int64) @ w.T)
    assert np.abs(DenseProduct(big)(dense, True)).max() > 1 << 31


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_count_at_limit(dtype):
    v = np.array([[STATE - 1, -(STATE - 1), 5], [0, STATE, -STATE - 3]], dtype)
    assert count_at_limit(v, STATE - 1) == 4
    assert count_at_limit(v[:, ::2], STATE - 1) == 2
