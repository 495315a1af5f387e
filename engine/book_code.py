"""The book's own layer classes (chapter 5 of "Deep Learning from Scratch"), for the code panel.

The engine's layers do what the book's do and more (broadcasting, a batch of images, class
labels, a stable log-softmax, checks); the step-through shows the book's short class beside the
engine's, so a learner sees the three lines the chapter is about. Each class is written here as
the chapter prints it; ``softmax`` and ``cross_entropy_error`` are the chapter's functions of the
same names (``engine.functions``).
"""

from __future__ import annotations

import ast
from typing import Any

_MUL = """class MulLayer:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        out = x * y
        return out

    def backward(self, dout):
        dx = dout * self.y  # swapped
        dy = dout * self.x
        return dx, dy
"""

_ADD = """class AddLayer:
    def __init__(self):
        pass

    def forward(self, x, y):
        out = x + y
        return out

    def backward(self, dout):
        dx = dout * 1
        dy = dout * 1
        return dx, dy
"""

_RELU = """class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx
"""

_AFFINE = """class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        out = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx
"""

_SOFTMAX_WITH_LOSS = """class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = (self.y - self.t) / batch_size
        return dx
"""

#: The book's class for each op whose engine layer does more than it (Sigmoid is the book's,
#: line for line, so it has none here).
BOOK_LAYERS: dict[str, str] = {
    "mul": _MUL,
    "add": _ADD,
    "relu": _RELU,
    "affine": _AFFINE,
    "softmax_with_loss": _SOFTMAX_WITH_LOSS,
}


def method_lines(code: str) -> dict[str, list[int]]:
    """First and last line (1-based) of forward and backward (a later class's override wins)."""
    out: dict[str, list[int]] = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in ("forward", "backward"):
                    out[item.name] = [item.lineno, item.end_lineno or item.lineno]
    return out


def book_code(op: str) -> dict[str, Any] | None:
    """The book's class for ``op`` with the lines of its methods, or None (not in chapter 5,
    or the engine's is the book's)."""
    code = BOOK_LAYERS.get(op)
    if code is None:
        return None
    cls = ast.parse(code).body[0]
    assert isinstance(cls, ast.ClassDef)
    lines = method_lines(code)
    return {
        "class": cls.name,
        "code": code,
        "forward": lines.get("forward"),
        "backward": lines.get("backward"),
    }
