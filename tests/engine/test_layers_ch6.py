"""Chapter 6's layers (BatchNormalization, Dropout) and Tanh: backward vs central differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import BatchNormalization, Dropout, Tanh, numerical_gradient

shapes = st.tuples(st.integers(2, 6), st.integers(1, 5))
seeds = st.integers(0, 2**32 - 1)


def check_input_grad(
    forward: Callable[[Any], Any], backward: Callable[[Any], Any], x: Any, rng: Any
) -> None:
    """dL/dx by backward equals central differences of L = sum(forward(x) * w).

    The step is 1e-6, not the book's 1e-4: a batch of two close values has a tiny variance,
    where BatchNormalization curves too fast for a larger step's difference to be exact.
    """
    w = rng.standard_normal(forward(x).shape)
    forward(x)
    analytic = backward(w)
    numeric = numerical_gradient(lambda _: float(np.sum(forward(x) * w)), x, 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds)
def test_batchnorm_backward_matches_central_differences(shape: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    gamma = rng.uniform(0.5, 2, shape[1])
    beta = rng.standard_normal(shape[1])
    bn = BatchNormalization(gamma, beta)
    check_input_grad(lambda v: bn.forward(v, True), bn.backward, x, rng)
    w = rng.standard_normal(shape)
    bn.forward(x, True)
    bn.backward(w)
    assert bn.dgamma is not None and bn.dbeta is not None
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()
    loss = lambda _: float(np.sum(bn.forward(x, True) * w))  # noqa: E731
    np.testing.assert_allclose(dgamma, numerical_gradient(loss, gamma, 1e-6), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dbeta, numerical_gradient(loss, beta, 1e-6), rtol=1e-4, atol=1e-6)


def test_batchnorm_normalises_and_test_mode_uses_running_stats() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 4)) * 3 + 5
    bn = BatchNormalization(np.ones(4), np.zeros(4))
    out = bn.forward(x, True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-5)
    # the book's running averages: 0.9 * 0 + 0.1 * mean, 0.9 * 0 + 0.1 * var
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, 0.1 * x.var(axis=0))
    before = (bn.running_mean.copy(), bn.running_var.copy())
    test_out = bn.forward(x, False)
    expected = (x - before[0]) / np.sqrt(before[1] + 10e-7)
    np.testing.assert_allclose(test_out, expected)
    np.testing.assert_array_equal(bn.running_mean, before[0])  # test mode leaves them alone


def test_batchnorm_keeps_a_4d_input_shape() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 2, 2))
    bn = BatchNormalization(np.ones(8), np.zeros(8))
    assert bn.forward(x).shape == x.shape
    assert bn.backward(np.ones_like(x)).shape == x.shape


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, ratio=st.floats(0.1, 0.9))
def test_dropout_with_a_fixed_mask_matches_central_differences(
    shape: tuple[int, int], seed: int, ratio: float
) -> None:
    rng = np.random.default_rng(seed)
    d = Dropout(ratio, rng=seed)
    x = rng.standard_normal(shape)
    d.forward(x, True)
    assert d.mask is not None
    d.fixed_mask = d.mask.copy()
    check_input_grad(lambda v: d.forward(v, True), d.backward, x, rng)
    assert np.array_equal(d.forward(x, True) == 0, ~d.fixed_mask | (x == 0))


def test_dropout_masks_are_seeded_and_test_time_scales_as_the_book() -> None:
    x = np.ones((200, 50))
    a, b = Dropout(0.3, rng=7), Dropout(0.3, rng=7)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    assert a.mask is not None
    kept = a.mask.mean()
    assert 0.65 < kept < 0.75  # keep probability 1 - 0.3, over 10,000 units
    np.testing.assert_array_equal(a.forward(x, train_flg=False), x * (1.0 - 0.3))
    dout = np.full(x.shape, 2.0)
    dx = a.backward(dout)
    np.testing.assert_array_equal(dx, np.where(a.mask, 2.0, 0.0))
    assert np.all(dout == 2.0)  # dout untouched


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds)
def test_tanh_backward_matches_central_differences(shape: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    layer = Tanh()
    x = rng.standard_normal(shape) * 2
    check_input_grad(layer.forward, layer.backward, x, rng)
