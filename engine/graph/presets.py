"""The chapter's example computation graphs, ready to evaluate (``GET /graphs/presets``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    """A titled example graph in the API's JSON form."""

    id: str
    title: str
    description: str
    graph: dict[str, Any]

    def public(self) -> dict[str, Any]:
        """The JSON form served by the API (a fresh copy each time)."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "graph": copy.deepcopy(self.graph),
        }


def _inp(node_id: str, value: Any) -> dict[str, Any]:
    return {"id": node_id, "op": "input", "value": value}


def _op(node_id: str, op: str, *inputs: str) -> dict[str, Any]:
    return {"id": node_id, "op": op, "inputs": list(inputs)}


SOFTMAX_SCORES = [0.3, 2.9, 4.0]
ONE_HOT = [0.0, 0.0, 1.0]

TWO_LAYER = {
    "x": [[1.0, 0.5, -0.5], [0.2, -1.0, 0.8]],
    "W1": [[0.1, -0.2, 0.3, 0.5], [0.4, 0.2, -0.6, 0.1], [-0.3, 0.8, 0.2, -0.4]],
    "b1": [0.1, 0.0, -0.1, 0.05],
    "W2": [[0.3, -0.1, 0.2], [0.5, 0.4, -0.3], [-0.2, 0.6, 0.1], [0.7, -0.5, 0.2]],
    "b2": [0.0, 0.1, -0.1],
    "t": [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
}

PRESETS: tuple[Preset, ...] = (
    Preset(
        "apples",
        "Buying apples",
        "Two apples at 100 each with 10% tax cost 220; backward, the price reacts to the apple "
        "price by 2.2, to the number of apples by 110 and to the tax by 200.",
        {
            "nodes": [
                _inp("apple", 100),
                _inp("apple_num", 2),
                _inp("tax", 1.1),
                _op("apple_price", "mul", "apple", "apple_num"),
                _op("price", "mul", "apple_price", "tax"),
            ],
            "output": "price",
        },
    ),
    Preset(
        "apples_oranges",
        "Buying apples and oranges",
        "Two apples at 100 and three oranges at 150, plus 10% tax, cost 715; the add node passes "
        "its gradient 1.1 unchanged to both branches, giving 110, 2.2, 3.3, 165 and 650.",
        {
            "nodes": [
                _inp("apple", 100),
                _inp("apple_num", 2),
                _inp("orange", 150),
                _inp("orange_num", 3),
                _inp("tax", 1.1),
                _op("apple_price", "mul", "apple", "apple_num"),
                _op("orange_price", "mul", "orange", "orange_num"),
                _op("all_price", "add", "apple_price", "orange_price"),
                _op("price", "mul", "all_price", "tax"),
            ],
            "output": "price",
        },
    ),
    Preset(
        "chain_rule",
        "The chain rule",
        "z = (x + y) · w with x = 3, y = 2 and w = 4 is 20; backward, each gradient is the one "
        "arriving times the local one: dz/dt = w = 4, then dz/dx = dz/dy = 4 · 1 = 4, and "
        "dz/dw = t = 5.",
        {
            "nodes": [
                _inp("x", 3),
                _inp("y", 2),
                _inp("w", 4),
                _op("t", "add", "x", "y"),
                _op("z", "mul", "t", "w"),
            ],
            "output": "z",
        },
    ),
    Preset(
        "relu_mask",
        "ReLU and its mask",
        "ReLU passes positive inputs and zeroes the rest; backward, the same mask lets the "
        "gradient through where x > 0 and blocks it elsewhere.",
        {
            "nodes": [_inp("x", [[1.0, -0.5], [-2.0, 3.0]]), _op("out", "relu", "x")],
            "output": "out",
            "dout": [[1.0, 2.0], [3.0, 4.0]],
        },
    ),
    Preset(
        "sigmoid_primitives",
        "Sigmoid from primitive nodes",
        'The chapter builds sigmoid from ×(−1), exp, +1 and "/" nodes; chaining their local '
        "gradients gives y(1 − y), the same as the single sigmoid node.",
        {
            "nodes": [
                _inp("x", 1.0),
                _inp("minus_one", -1.0),
                _inp("one", 1.0),
                _op("neg_x", "mul", "x", "minus_one"),
                _op("exp_neg_x", "exp", "neg_x"),
                _op("denominator", "add", "exp_neg_x", "one"),
                _op("y", "reciprocal", "denominator"),
            ],
            "output": "y",
        },
    ),
    Preset(
        "sigmoid_node",
        "The sigmoid node",
        "One sigmoid node on the same input: the backward pass needs only its output, "
        "dx = dout · y(1 − y), and matches the primitive-node graph.",
        {"nodes": [_inp("x", 1.0), _op("y", "sigmoid", "x")], "output": "y"},
    ),
    Preset(
        "affine_single",
        "Affine on one input",
        "Y = X · W + B for a single input X of shape (2,) and W of shape (2, 3): "
        "dX = dY · Wᵀ, dW = Xᵀ · dY (an outer product) and dB = dY.",
        {
            "nodes": [
                _inp("X", [1.0, 0.5]),
                _inp("W", [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
                _inp("B", [0.1, 0.2, 0.3]),
                _op("Y", "affine", "X", "W", "B"),
            ],
            "output": "Y",
        },
    ),
    Preset(
        "affine_batch",
        "Batch Affine and the bias gradient",
        "With a batch of two rows, X · W is [[0, 0, 0], [10, 10, 10]] and the bias B = [1, 2, 3] "
        "is added to each row; backward, dY = [[1, 2, 3], [4, 5, 6]] gives dB = [5, 7, 9], the "
        "sum over the batch.",
        {
            "nodes": [
                _inp("X", [[0.0, 0.0], [10.0, 10.0]]),
                _inp("W", [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]),
                _inp("B", [1.0, 2.0, 3.0]),
                _op("Y", "affine", "X", "W", "B"),
            ],
            "output": "Y",
            "dout": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        },
    ),
    Preset(
        "softmax_with_loss",
        "Softmax-with-Loss on 3 classes",
        "Scores [0.3, 2.9, 4.0] against the label [0, 0, 1]: the loss is the cross-entropy of "
        "their softmax, and the gradient on the scores is simply y − t.",
        {
            "nodes": [
                _inp("x", SOFTMAX_SCORES),
                _inp("t", ONE_HOT),
                _op("loss", "softmax_with_loss", "x", "t"),
            ],
            "output": "loss",
        },
    ),
    Preset(
        "softmax_with_loss_primitives",
        "Softmax-with-Loss from primitive nodes",
        'The same loss built as in the chapter\'s appendix from exp, sum, "/", ×, log and '
        "×(−1) nodes: the gradient arriving at the scores is again y − t.",
        {
            "nodes": [
                _inp("x", SOFTMAX_SCORES),
                {**_inp("t", ONE_HOT), "label": True},
                _inp("minus_one", -1.0),
                _op("exp_x", "exp", "x"),
                _op("S", "sum", "exp_x"),
                _op("inv_S", "reciprocal", "S"),
                _op("y", "mul", "exp_x", "inv_S"),
                _op("log_y", "log", "y"),
                _op("t_log_y", "mul", "t", "log_y"),
                _op("sum_t_log_y", "sum", "t_log_y"),
                _op("loss", "mul", "sum_t_log_y", "minus_one"),
            ],
            "output": "loss",
        },
    ),
    Preset(
        "two_layer_net",
        "A small two-layer network",
        "The book's TwoLayerNet in miniature (3 inputs, 4 hidden units, 3 classes, a batch of "
        "two): Affine, ReLU, Affine, then Softmax-with-Loss, with every weight's gradient.",
        {
            "nodes": [
                _inp("x", TWO_LAYER["x"]),
                _inp("W1", TWO_LAYER["W1"]),
                _inp("b1", TWO_LAYER["b1"]),
                _op("Affine1", "affine", "x", "W1", "b1"),
                _op("Relu1", "relu", "Affine1"),
                _inp("W2", TWO_LAYER["W2"]),
                _inp("b2", TWO_LAYER["b2"]),
                _op("Affine2", "affine", "Relu1", "W2", "b2"),
                _inp("t", TWO_LAYER["t"]),
                _op("loss", "softmax_with_loss", "Affine2", "t"),
            ],
            "output": "loss",
        },
    ),
)
"""Every example of the chapter, in the order the chapter meets them."""

PRESETS_BY_ID: dict[str, Preset] = {p.id: p for p in PRESETS}
