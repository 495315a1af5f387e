"""Every preset of the chapter against its known answers, and against central differences."""

from __future__ import annotations

import numpy as np
import pytest

from engine.functions import softmax
from engine.graph import Evaluation, evaluate, parse_graph
from engine.graph.presets import ONE_HOT, PRESETS, PRESETS_BY_ID, SOFTMAX_SCORES, TWO_LAYER, Preset
from engine.network import TwoLayerNet


def run(preset_id: str) -> Evaluation:
    return evaluate(parse_graph(PRESETS_BY_ID[preset_id].public()["graph"]))


def shown(v: np.ndarray) -> float:
    """A scalar as the API shows it: rounded to 15 significant digits."""
    return float(f"{float(v):.15g}")


def test_the_chapter_has_all_its_examples() -> None:
    """The issue's list of presets, each with a title and a sentence."""
    assert [p.id for p in PRESETS] == [
        "apples",
        "apples_oranges",
        "chain_rule",
        "relu_mask",
        "sigmoid_primitives",
        "sigmoid_node",
        "affine_single",
        "affine_batch",
        "softmax_with_loss",
        "softmax_with_loss_primitives",
        "two_layer_net",
    ]
    for p in PRESETS:
        assert p.title and p.description.endswith(".")


def test_apples() -> None:
    """Price 220; d apple 2.2, d apple_num 110, d tax 200."""
    ev = run("apples")
    assert shown(ev.output) == 220.0
    grads = {n: shown(ev.grads[n]) for n in ("apple", "apple_num", "tax")}
    assert grads == {"apple": 2.2, "apple_num": 110.0, "tax": 200.0}


def test_apples_and_oranges() -> None:
    """Price 715; d apple_num 110, d apple 2.2, d orange 3.3, d orange_num 165, d tax 650."""
    ev = run("apples_oranges")
    assert shown(ev.output) == 715.0
    grads = {n: shown(ev.grads[n]) for n in ("apple_num", "apple", "orange", "orange_num", "tax")}
    assert grads == {
        "apple_num": 110.0,
        "apple": 2.2,
        "orange": 3.3,
        "orange_num": 165.0,
        "tax": 650.0,
    }


def test_chain_rule() -> None:
    """z = (x + y) · w = 20; dz/dx = dz/dy = w = 4 (through t = x + y), dz/dw = x + y = 5."""
    ev = run("chain_rule")
    assert shown(ev.output) == 20.0
    assert shown(ev.grads["t"]) == 4.0
    grads = {n: shown(ev.grads[n]) for n in ("x", "y", "w")}
    assert grads == {"x": 4.0, "y": 4.0, "w": 5.0}


def test_relu_mask() -> None:
    """The mask [[F, T], [T, F]] zeroes both the values and the gradients where x <= 0."""
    ev = run("relu_mask")
    np.testing.assert_array_equal(ev.output, [[1.0, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(ev.grads["x"], [[1.0, 0.0], [0.0, 4.0]])


def test_sigmoid_primitives_and_node_agree() -> None:
    """Both sigmoid graphs give y = 1 / (1 + e^-x) and dx = y(1 - y)."""
    y = 1.0 / (1.0 + np.exp(-1.0))
    for preset_id in ("sigmoid_primitives", "sigmoid_node"):
        ev = run(preset_id)
        assert float(ev.output) == pytest.approx(y, rel=1e-15)
        assert float(ev.grads["x"]) == pytest.approx(y * (1 - y), rel=1e-14)


def test_affine_single() -> None:
    """dX = dY · Wᵀ, dW = outer(X, dY), dB = dY for one input vector."""
    ev = run("affine_single")
    x, w, b = (np.asarray(ev.values[n]) for n in ("X", "W", "B"))
    dy = np.ones(3)
    np.testing.assert_allclose(ev.output, x @ w + b, rtol=1e-15)
    np.testing.assert_allclose(ev.grads["X"], dy @ w.T, rtol=1e-15)
    np.testing.assert_allclose(ev.grads["W"], np.outer(x, dy), rtol=1e-15)
    np.testing.assert_allclose(ev.grads["B"], dy, rtol=1e-15)


def test_affine_batch_bias() -> None:
    """The chapter's bias example: dY = [[1,2,3],[4,5,6]] gives dB = [5,7,9]."""
    ev = run("affine_batch")
    np.testing.assert_array_equal(ev.values["Y"], [[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]])
    np.testing.assert_array_equal(ev.grads["B"], [5.0, 7.0, 9.0])
    np.testing.assert_array_equal(ev.grads["X"], [[3.0, 3.0], [7.5, 7.5]])
    np.testing.assert_array_equal(ev.grads["W"], [[40.0, 50.0, 60.0], [40.0, 50.0, 60.0]])


@pytest.mark.parametrize("preset_id", ["softmax_with_loss", "softmax_with_loss_primitives"])
def test_softmax_with_loss_gradient_is_y_minus_t(preset_id: str) -> None:
    """Fused or built from primitives: loss −log y_true, gradient y − t."""
    y = softmax(np.array(SOFTMAX_SCORES))
    ev = run(preset_id)
    assert float(ev.output) == pytest.approx(-np.log(y[2]), rel=1e-14)
    np.testing.assert_allclose(ev.grads["x"], y - np.array(ONE_HOT), rtol=1e-12, atol=1e-15)


def test_two_layer_net_matches_the_books_network() -> None:
    """Same loss and gradients as engine.network.TwoLayerNet with the same weights."""
    net = TwoLayerNet(3, 4, 3)
    for key in ("W1", "b1", "W2", "b2"):
        net.params[key][...] = np.array(TWO_LAYER[key])
    x, t = np.array(TWO_LAYER["x"]), np.array(TWO_LAYER["t"])
    ev = run("two_layer_net")
    assert float(ev.output) == pytest.approx(net.loss(x, t), rel=1e-14)
    for key, grad in net.gradient(x, t).items():
        np.testing.assert_allclose(ev.grads[key], grad, rtol=1e-13, atol=1e-16, err_msg=key)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_every_preset_matches_central_differences(preset: Preset) -> None:
    """Backprop equals the numerical gradient of Σ(output · dout) for every input node."""
    graph = parse_graph(preset.public()["graph"])
    ev = evaluate(graph)
    eps = 1e-6

    def objective(overrides: dict[str, np.ndarray]) -> float:
        return float(np.sum(evaluate(graph, overrides=overrides).output * graph.dout))

    for n in graph.input_ids:
        base = np.array(graph.nodes[n].params["value"])
        numeric = np.zeros_like(base)
        for k in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[k] += eps
            minus[k] -= eps
            numeric[k] = (objective({n: plus}) - objective({n: minus})) / (2 * eps)
        scale = max(1.0, float(np.abs(numeric).max()))
        np.testing.assert_allclose(ev.grads[n], numeric, atol=1e-6 * scale, err_msg=n)


def test_public_form_is_a_fresh_copy() -> None:
    """Editing a served preset cannot change the next one served."""
    body = PRESETS_BY_ID["apples"].public()
    body["graph"]["nodes"][0]["value"] = -1
    assert PRESETS_BY_ID["apples"].public()["graph"]["nodes"][0]["value"] == 100
