"""The ``train`` command's chapter-6 options: deeper nets, activations, inits, BN, dropout."""

from __future__ import annotations

import argparse

from engine.multilayer import ACTIVATIONS
from engine.trainer import INITS, MAX_DROPOUT, MAX_HIDDEN_LAYERS, MAX_WEIGHT_DECAY


def add_chapter6_options(tr: argparse.ArgumentParser) -> None:
    """train's options for the book's chapter-6 networks (their defaults: the TwoLayerNet)."""
    g = tr.add_argument_group(
        "chapter 6",
        "--layers, --activation, --init, --batch-norm, --dropout or --weight-decay off its "
        "default trains the book's MultiLayerNet(Extend) instead of the TwoLayerNet",
    )
    g.add_argument(
        "--layers", type=int, nargs="+", metavar="N",
        help=f"hidden layer sizes, up to {MAX_HIDDEN_LAYERS} (default: one of --hidden-size)",
    )  # fmt: skip
    g.add_argument(
        "--activation", choices=tuple(ACTIVATIONS), default="relu", help="(default relu)"
    )
    g.add_argument(
        "--init", choices=INITS, default="std",
        help="std: --weight-init-std; xavier: sqrt(1/n); he: sqrt(2/n) (default std)",
    )  # fmt: skip
    g.add_argument(
        "--weight-init-std", type=float, metavar="X", default=0.01, help="(default 0.01)"
    )
    g.add_argument("--batch-norm", action="store_true", help="BatchNormalization layers")
    g.add_argument(
        "--dropout", type=float, metavar="R", default=0.0,
        help=f"dropout ratio, 0 to {MAX_DROPOUT} (default 0: no Dropout layers)",
    )  # fmt: skip
    g.add_argument(
        "--weight-decay", type=float, metavar="L", default=0.0,
        help=f"weight decay lambda, 0 to {MAX_WEIGHT_DECAY} (default 0)",
    )  # fmt: skip
    g.add_argument(
        "--train-size", type=int, metavar="N", default=None,
        help="train on the first N training images only (chapter 6's overfitting: 300)",
    )  # fmt: skip
