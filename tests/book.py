"""The book's settings, spelled out by the tests on their own (not read from the app's defaults)."""

from __future__ import annotations

from typing import Any

#: Figure 6-8's optimizer race: its start, step count and each optimizer's learning rate.
BOOK_RACE: dict[str, Any] = {
    "start": [-7, 2],
    "steps": 30,
    "optimizers": {
        "sgd": {"lr": 0.95},
        "momentum": {"lr": 0.1},
        "adagrad": {"lr": 1.5},
        "adam": {"lr": 0.3},
    },
}
