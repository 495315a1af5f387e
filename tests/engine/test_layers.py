"""The chapter's layers: the book's numbers exactly; every backward vs central differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    AddLayer,
    Affine,
    MulLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    numerical_gradient,
    softmax,
)


def shown(v: float) -> float:
    """The value to a double's 15 guaranteed digits (220.00000000000003 -> 220)."""
    return float(f"{float(v):.15g}")


def test_buy_apple_gives_the_books_numbers() -> None:
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    dapple_price, dtax = mul_tax_layer.backward(1)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert shown(price) == 220
    assert (shown(dapple), shown(dapple_num), shown(dtax)) == (2.2, 110, 200)
    assert price == pytest.approx(220, rel=1e-15)


def test_buy_apple_orange_gives_the_books_numbers() -> None:
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    all_price = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, tax)
    dall_price, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add_fruit.backward(dall_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert shown(price) == 715
    got = [shown(v) for v in (dapple_num, dapple, dorange, dorange_num, dtax)]
    assert got == [110, 2.2, 3.3, 165, 650]


def test_relu_mask_example_and_no_write_into_dout() -> None:
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    relu = Relu()
    assert np.array_equal(relu.forward(x), [[1.0, 0.0], [0.0, 3.0]])
    assert np.array_equal(relu.mask, [[False, True], [True, False]])
    dout = np.ones_like(x)
    dx = relu.backward(dout)
    assert np.array_equal(dx, [[1.0, 0.0], [0.0, 1.0]])
    assert np.array_equal(dout, np.ones_like(x)), "backward must not write into dout"


def test_batch_affine_bias_gradient_is_summed_over_the_batch() -> None:
    dY = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    layer = Affine(np.zeros((2, 3)), np.zeros(3))
    layer.forward(np.ones((2, 2)))
    layer.backward(dY)
    assert np.array_equal(layer.db, [5.0, 7.0, 9.0])


def test_affine_on_a_single_vector() -> None:
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal(2), rng.standard_normal((2, 3)), rng.standard_normal(3)
    layer = Affine(W, b)
    assert np.allclose(layer.forward(x), x @ W + b)
    dx = layer.backward(np.ones(3))
    assert dx.shape == (2,) and layer.dW.shape == (2, 3) and layer.db.shape == (3,)
    assert np.allclose(layer.dW, np.outer(x, np.ones(3)))


def test_sigmoid_and_softmax_are_stable_at_plus_minus_1000() -> None:
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = Sigmoid().forward(x)
        p = softmax(np.array([[1000.0, -1000.0, 0.0]]))
        loss = SoftmaxWithLoss().forward(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert np.all(np.isfinite(y)) and y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    assert np.allclose(p, [[1.0, 0.0, 0.0]])
    assert loss == pytest.approx(2000.0)  # exact log-softmax: no 1e-7 floor at -log(1e-7)=16.1


def test_softmax_with_loss_backward_is_y_minus_t_over_n() -> None:
    x = np.array([[0.3, 2.9, 4.0], [1.0, 0.0, -1.0]])
    t = np.array([[0, 0, 1], [1, 0, 0]])
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    assert np.allclose(layer.backward(), (softmax(x) - t) / 2)
    layer_idx = SoftmaxWithLoss()
    assert layer_idx.forward(x, np.array([2, 0])) == pytest.approx(layer.loss, rel=1e-15)
    assert np.allclose(layer_idx.backward(), layer.backward())


def test_softmax_with_loss_single_sample_book_example() -> None:
    # The book's chapter 4 example: t = 2, y peaks at class 2.
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    logits = np.log(np.maximum(y, 1e-300))
    loss = SoftmaxWithLoss().forward(logits, np.eye(10)[2])
    assert loss == pytest.approx(-np.log(0.6), rel=1e-12)


# --- central differences at random shapes --------------------------------------------------------

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


def arrays(draw: st.DrawFn, shape: tuple[int, ...], lo: float = -3, hi: float = 3) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def check(
    f: Callable[..., np.ndarray],
    backward: Callable[[np.ndarray], tuple[np.ndarray, ...]],
    inputs: list[np.ndarray],
    dout: np.ndarray,
) -> None:
    """Each input's gradient equals d sum(f(inputs) * dout) / d input by central differences."""
    grads = backward(dout.copy())
    for k, x in enumerate(inputs):
        num = numerical_gradient(lambda _: float(np.sum(f(*inputs) * dout)), x, eps=1e-6)
        assert np.shape(grads[k]) == np.shape(x), f"input {k}: gradient shape"
        assert np.allclose(grads[k], num, rtol=1e-5, atol=1e-7), f"input {k}"


@st.composite
def broadcast_pair(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    # y's shape: a suffix of x's shape with some axes set to 1 (NumPy broadcasting)
    cut = draw(st.integers(0, len(shape)))
    yshape = tuple(1 if draw(st.booleans()) else n for n in shape[cut:])
    x, y = arrays(draw, shape), arrays(draw, yshape)
    return (x, y) if draw(st.booleans()) else (y, x)


@settings(max_examples=40, deadline=None)
@given(broadcast_pair(), st.data())
def test_mul_and_add_backward_with_broadcasting(
    pair: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    x, y = pair
    out_shape = np.broadcast_shapes(x.shape, y.shape)
    dout = arrays(data.draw, out_shape)
    for layer in (MulLayer(), AddLayer()):
        layer.forward(x, y)
        check(lambda a, b, lay=layer: type(lay)().forward(a, b), layer.backward, [x, y], dout)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_relu_and_sigmoid_backward(data: st.DataObject) -> None:
    shape = data.draw(shapes)
    x = arrays(data.draw, shape)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # keep away from the ReLU kink
    dout = arrays(data.draw, shape)
    for cls in (Relu, Sigmoid):
        layer = cls()
        layer.forward(x)
        check(lambda a, c=cls: c().forward(a), lambda d, lay=layer: (lay.backward(d),), [x], dout)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_affine_backward_in_x_W_and_b(data: st.DataObject) -> None:
    n, d, m = (data.draw(st.integers(1, 5)) for _ in range(3))
    single = data.draw(st.booleans())
    x = arrays(data.draw, (d,) if single else (n, d))
    W, b = arrays(data.draw, (d, m)), arrays(data.draw, (m,))
    dout = arrays(data.draw, (m,) if single else (n, m))
    layer = Affine(W, b)
    layer.forward(x)

    def backward(g: np.ndarray) -> tuple[np.ndarray, ...]:
        dx = layer.backward(g)
        return dx, layer.dW, layer.db

    check(lambda x_, W_, b_: Affine(W_, b_).forward(x_), backward, [x, W, b], dout)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.booleans())
def test_softmax_with_loss_backward_both_label_forms(data: st.DataObject, one_hot: bool) -> None:
    n, c = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 6))
    x = arrays(data.draw, (n, c), -10, 10)
    labels = np.random.default_rng(data.draw(st.integers(0, 1000))).integers(0, c, n)
    t = np.eye(c)[labels] if one_hot else labels
    dout = data.draw(st.floats(0.1, 3))
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    grad = layer.backward(dout)
    num = numerical_gradient(lambda _: SoftmaxWithLoss().forward(x, t) * dout, x, eps=1e-6)
    assert np.allclose(grad, num, rtol=1e-5, atol=1e-8)


def test_backward_never_writes_into_dout() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for layer, args in [
        (MulLayer(), (x, y)),
        (AddLayer(), (x, y)),
        (Relu(), (x,)),
        (Sigmoid(), (x,)),
        (Affine(rng.standard_normal((4, 2)), np.zeros(2)), (x,)),
    ]:
        out = layer.forward(*args)
        dout = rng.standard_normal(np.shape(out))
        before = dout.copy()
        layer.backward(dout)
        assert np.array_equal(dout, before), type(layer).__name__
    add = AddLayer()
    add.forward(x, y)
    dout = np.ones((3, 4))
    dx, dy = add.backward(dout)
    dx += 5
    assert np.array_equal(dy, np.ones((3, 4))) and np.array_equal(dout, np.ones((3, 4)))
