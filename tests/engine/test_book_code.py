"""The book's chapter-5 classes the code panel shows: they run, agree with the engine's layers
where the book's apply, and differ where the panel says the engine adds something."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine import layers
from engine.book_code import BOOK_LAYERS, book_code
from engine.functions import cross_entropy_error, softmax
from engine.graph.code import op_code
from engine.graph.ops import OPS


def book_class(op: str) -> Any:
    """The book's class for ``op``, defined from the text the panel shows."""
    namespace: dict[str, Any] = {
        "np": np,
        "softmax": softmax,
        "cross_entropy_error": cross_entropy_error,
    }
    exec(BOOK_LAYERS[op], namespace)  # our own constant text
    code = book_code(op)
    assert code is not None
    return namespace[code["class"]]


@pytest.mark.parametrize("op", sorted(BOOK_LAYERS))
def test_the_lines_name_the_methods(op: str) -> None:
    code = book_code(op)
    assert code is not None
    lines = code["code"].split("\n")
    for method in ("forward", "backward"):
        first, last = code[method]
        assert lines[first - 1].lstrip().startswith(f"def {method}(")
        assert lines[last - 1].lstrip().startswith("return")
    # The backward the chapter is about: a handful of lines.
    first, last = code["backward"]
    assert last - first <= 4
    served = op_code(OPS[op])
    assert served is not None and served["book"] == code


def test_only_the_chapter_five_layers_have_one() -> None:
    assert set(BOOK_LAYERS) == {"mul", "add", "relu", "affine", "softmax_with_loss"}
    for name, op in OPS.items():
        if name == "input":
            continue
        served = op_code(op)
        assert served is not None
        assert (served["book"] is not None) == (name in BOOK_LAYERS), name
    # A broken layer shows the book's too (the correct one, to compare).
    mul = op_code(OPS["mul"].with_variant("no_swap"))
    assert mul is not None and mul["book"]["class"] == "MulLayer"


def test_the_book_and_the_engine_agree_on_the_apples() -> None:
    book, engine = book_class("mul")(), layers.MulLayer()
    assert book.forward(100.0, 2.0) == engine.forward(100.0, 2.0) == 200.0
    assert tuple(book.backward(1.1)) == tuple(engine.backward(1.1)) == pytest.approx((2.2, 110.0))
    book_add, engine_add = book_class("add")(), layers.AddLayer()
    assert book_add.forward(200.0, 150.0) == engine_add.forward(200.0, 150.0) == 350.0
    assert tuple(book_add.backward(1.1)) == tuple(engine_add.backward(1.1)) == (1.1, 1.1)


def test_mul_the_engine_adds_unbroadcast() -> None:
    """A number times a vector: the book's dx has the vector's shape, the engine's the number's."""
    x, y, dout = 3.0, np.array([1.0, 2.0, 4.0]), np.ones(3)
    book, engine = book_class("mul")(), layers.MulLayer()
    book.forward(x, y)
    engine.forward(x, y)
    book_dx, book_dy = book.backward(dout)
    dx, dy = engine.backward(dout)
    assert np.shape(book_dx) == (3,) and np.shape(dx) == ()
    assert float(dx) == pytest.approx(float(np.sum(book_dx))) == 7.0
    np.testing.assert_allclose(dy, book_dy)


def test_relu_the_books_backward_writes_into_dout_the_engines_does_not() -> None:
    x = np.array([[1.0, -2.0], [-3.0, 4.0]])
    book, engine = book_class("relu")(), layers.Relu()
    np.testing.assert_array_equal(book.forward(x.copy()), engine.forward(x))
    dout = np.array([[5.0, 6.0], [7.0, 8.0]])
    mine = dout.copy()
    np.testing.assert_array_equal(engine.backward(mine), [[5.0, 0.0], [0.0, 8.0]])
    np.testing.assert_array_equal(mine, dout)  # untouched
    theirs = dout.copy()
    np.testing.assert_array_equal(book.backward(theirs), [[5.0, 0.0], [0.0, 8.0]])
    np.testing.assert_array_equal(theirs, [[5.0, 0.0], [0.0, 8.0]])  # changed in place


def test_affine_agrees_on_a_batch_and_the_engine_takes_images() -> None:
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    x, dout = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    book, engine = book_class("affine")(W, b), layers.Affine(W, b)
    np.testing.assert_allclose(book.forward(x), engine.forward(x))
    np.testing.assert_allclose(book.backward(dout), engine.backward(dout))
    np.testing.assert_allclose(book.dW, engine.dW)
    np.testing.assert_allclose(book.db, engine.db)
    images = rng.normal(size=(2, 1, 2, 2))  # (N, 1, 2, 2): 4 inputs each
    assert engine.forward(images).shape == (2, 3)
    assert engine.backward(dout).shape == images.shape
    with pytest.raises(ValueError):
        book_class("affine")(W, b).forward(images)


def test_softmax_with_loss_agrees_for_one_hot_and_the_engine_uses_dout() -> None:
    x = np.array([[0.3, 2.9, 4.0], [1.0, -1.0, 0.5]])
    t = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    book, engine = book_class("softmax_with_loss")(), layers.SoftmaxWithLoss()
    assert book.forward(x, t) == pytest.approx(engine.forward(x, t), rel=1e-6)
    np.testing.assert_allclose(book.backward(), engine.backward(), rtol=1e-9)
    # dout = 2: the engine doubles the gradient; the book's ignores dout.
    np.testing.assert_allclose(engine.backward(2.0), 2 * book.backward(2.0), rtol=1e-9)
    # Class numbers instead of one-hot rows: the same loss and gradient in the engine.
    labels = layers.SoftmaxWithLoss()
    assert labels.forward(x, np.array([2, 0])) == pytest.approx(engine.forward(x, t))
    np.testing.assert_allclose(labels.backward(), engine.backward())
