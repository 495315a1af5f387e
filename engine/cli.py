"""``python -m engine``: the chapter's demos, a gradient check, training, and where the data is.

The dataset commands and options are in ``cli_data.py``, train's chapter-6 options in
``cli_ch6.py``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import numpy as np

from engine.cli_ch6 import add_chapter6_options
from engine.cli_data import add_data_commands, add_data_options, cli_hint
from engine.data import (
    DEFAULT,
    DatasetError,
    best_dataset,
    load_dataset,
    to_float,
)
from engine.events import DONE, EPOCH, PROGRESS
from engine.layers import AddLayer, MulLayer
from engine.optimizers import OPTIMIZERS
from engine.trainer import TrainConfig

#: The defaults of a run: the options of `train` read them here (engine/trainer.py).
_RUN = TrainConfig()


class UsageError(Exception):
    """Bad input found after parsing; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2), not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _num(v: float) -> str:
    """A float with up to 15 significant digits, so 2.2 prints as 2.2, not 2.2000000000000002."""
    return f"{v:.15g}"


def demo_apple() -> list[str]:
    """The chapter's apple example: 2 apples at 100 with 10% tax, forward and backward."""
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    return [
        "apple 100 x 2 -> (x) -> (x tax 1.1) -> price",
        f"price: {_num(price)}",
        f"dApple: {_num(dapple)}",
        f"dApple_num: {_num(dapple_num)}",
        f"dTax: {_num(dtax)}",
    ]


def demo_apple_orange() -> list[str]:
    """The chapter's apple-and-orange example: 2 apples at 100, 3 oranges at 150, 10% tax."""
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple_layer, mul_orange_layer = MulLayer(), MulLayer()
    add_apple_orange_layer, mul_tax_layer = AddLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    orange_price = mul_orange_layer.forward(orange, orange_num)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)
    price = mul_tax_layer.forward(all_price, tax)
    dprice = 1
    dall_price, dtax = mul_tax_layer.backward(dprice)
    dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    return [
        "(apple 100 x 2) + (orange 150 x 3) -> (x tax 1.1) -> price",
        f"price: {_num(price)}",
        f"dApple: {_num(dapple)}",
        f"dApple_num: {_num(dapple_num)}",
        f"dOrange: {_num(dorange)}",
        f"dOrange_num: {_num(dorange_num)}",
        f"dTax: {_num(dtax)}",
    ]


def cmd_demo(args: argparse.Namespace) -> int:
    """Print a demo's values and gradients."""
    lines = demo_apple() if args.example == "apple" else demo_apple_orange()
    print("\n".join(lines))
    return 0


def _load(args: argparse.Namespace) -> Any:
    if args.dataset is None:
        # NOTE: a named directory holds the default dataset; else the best one here.
        args.dataset = DEFAULT if args.data_dir else best_dataset(download=not args.offline)
    data = load_dataset(
        args.dataset,
        data_dir=args.data_dir,
        download=not args.offline,
        progress=not getattr(args, "no_progress", False),
    )
    if data.subset:
        print(f"note: dataset {data.name} is {data.note}", file=sys.stderr)
    return data


def _check_seed(seed: int) -> None:
    """NumPy seeds are non-negative; say so naming the option, not with a traceback."""
    if seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, not {seed}")


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """Backprop vs numerical gradients of TwoLayerNet on a few real images."""
    from engine.gradcheck import gradcheck
    from engine.network import TwoLayerNet

    for opt, value in (("--batch-size", args.batch_size), ("--hidden-size", args.hidden_size)):
        if value < 1:
            raise UsageError(f"{opt} must be at least 1, not {value}")
    _check_seed(args.seed)
    if not (np.isfinite(args.eps) and args.eps > 0):
        raise UsageError(f"--eps must be a positive number, not {args.eps:g}")
    for opt, value in (("--atol", args.atol), ("--rtol", args.rtol)):
        if not (np.isfinite(value) and value >= 0):
            raise UsageError(f"{opt} must be a non-negative number, not {value:g}")
    data = _load(args)
    if args.batch_size > len(data.t_train):
        raise UsageError(
            f"--batch-size {args.batch_size} exceeds the {len(data.t_train)} training images"
        )
    x = to_float(data.x_train[: args.batch_size], np.float64)
    t = data.t_train[: args.batch_size].astype(np.intp)
    network = TwoLayerNet(784, args.hidden_size, 10, seed=args.seed, dtype=np.float64)
    report = gradcheck(
        network, x, t, mode=args.mode, eps=args.eps, atol=args.atol, rtol=args.rtol, seed=args.seed
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.passed else 1
    print(
        f"TwoLayerNet(784, {args.hidden_size}, 10), seed {args.seed}, float64, "
        f"{args.batch_size} {data.name} images, mode {report.mode}"
    )
    print("mean |backprop - numerical| per parameter (as the book's gradient_check.py):")
    for key, p in report.params.items():
        print(f"{key}:{p.mean_abs_diff:.2g}")
    print()
    header = (
        f"{'param':<6}{'size':>8}{'checked':>9}{'kinks':>7}{'mean abs diff':>15}"
        f"{'max abs diff':>14}{'max rel err':>13}  result"
    )
    print(header)
    print("-" * len(header))
    for key, p in report.params.items():
        checked = p.checked
        print(
            f"{key:<6}{p.size:>8}{checked:>9}{p.kinks:>7}{p.mean_abs_diff:>15.3e}"
            f"{p.max_abs_diff:>14.3e}{p.max_rel_error:>13.3e}  {'pass' if p.passed else 'FAIL'}"
        )
    print()
    print(
        f"tolerances: |backprop - numerical| <= atol + rtol * |numerical|, "
        f"atol {report.atol:g}, rtol {report.rtol:g}; eps {report.eps:g}"
    )
    kinks = sum(p.kinks for p in report.params.values())
    if kinks:
        print(f"kinks: {kinks} elements not judged (a ReLU kink lies within eps of them)")
    for key, p in report.params.items():
        for element in p.unchecked:
            print(f"not checked: {key}{element['index']}: {element['reason']}")
    print(f"time: {report.elapsed_ms:.1f} ms")
    print(f"result: {'PASS' if report.passed else 'FAIL'}")
    return 0 if report.passed else 1


def _save_weights(path: Path, params: dict[str, Any], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in params.items()}
    with path.open("wb") as f:
        np.savez(f, **arrays, meta=np.array(json.dumps(meta)))


def accuracies_text(done: dict[str, Any]) -> str:
    """'train acc 0.9700, test acc 0.9680' from a done event (an accuracy of 0 is shown too)."""
    accs = [(n, done.get(f"{n}_acc")) for n in ("train", "test")]
    text = ", ".join(f"{n} acc {a:.4f}" for n, a in accs if a is not None)
    return text or "not evaluated"


def cmd_train(args: argparse.Namespace) -> int:
    """The chapter's training run with a progress bar and per-epoch accuracies."""
    from tqdm import tqdm

    from engine.trainer import TrainConfig, Trainer

    for opt, value in (
        ("--hidden-size", args.hidden_size),
        ("--batch-size", args.batch_size),
        ("--iterations", args.iterations),
    ):
        if value < 1:
            raise UsageError(f"{opt} must be at least 1, not {value}")
    if not args.lr > 0:
        raise UsageError(f"--lr must be positive, not {args.lr}")
    _check_seed(args.seed)
    config = TrainConfig(
        dataset=args.dataset,
        hidden_size=args.hidden_size,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        iterations=args.iterations,
        seed=args.seed,
        optimizer=args.optimizer,
        sampling=args.sampling,
        dtype=args.dtype,
        blas_threads=args.threads,
        step=args.step,
        weight_init_std=args.weight_init_std,
        layers=tuple(args.layers) if args.layers else None,
        activation=args.activation,
        init=args.init,
        batch_norm=args.batch_norm,
        dropout=args.dropout,
        weight_decay=args.weight_decay,
        train_size=args.train_size,
    )
    try:
        config.validate()
    except ValueError as e:  # "weight_decay must be ..." -> "--weight-decay must be ..."
        field, _, rest = str(e).partition(" ")
        raise UsageError(f"--{field.replace('_', '-')} {rest}") from None
    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, not {args.threads}")
    data = _load(args)
    if args.batch_size > len(data.t_train) and args.sampling == "shuffle":
        raise UsageError(f"--batch-size exceeds the {len(data.t_train)} training images")
    try:
        trainer = Trainer(config, data)
    except ValueError as e:
        raise UsageError(str(e)) from None
    shape = "-".join(str(n) for n in (784, *config.hidden_sizes, 10))
    extras = [f"{config.activation}, init {config.init}"] if config.multilayer else []
    extras += ["batch norm"] if config.batch_norm else []
    extras += [f"dropout {config.dropout:g}"] if config.dropout else []
    extras += [f"weight decay {config.weight_decay:g}"] if config.weight_decay else []
    print(
        f"training {shape}{''.join(', ' + e for e in extras)} on {data.name} "
        f"({trainer.train_size:,} train, "
        f"{len(data.t_test):,} test, from {data.source}); {args.optimizer} lr {args.lr:g}, "
        f"batch {args.batch_size}, {args.iterations:,} iterations "
        f"({trainer.iters_per_epoch} per epoch), {args.sampling}, {args.dtype}, seed {args.seed}, "
        f"{args.step} step"
    )
    stop = {"requested": False}

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        stop["requested"] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    done: dict[str, Any] = {}
    try:
        with tqdm(
            total=args.iterations, unit="it", disable=args.no_progress, dynamic_ncols=True
        ) as bar:
            for event in trainer.run(should_stop=lambda: stop["requested"]):
                if event.kind == PROGRESS:
                    bar.update(int(event.data["iteration"]) - bar.n)
                    bar.set_postfix(loss=f"{event.data['loss']:.4f}", refresh=False)
                elif event.kind == EPOCH:
                    d = event.data
                    bar.write(
                        f"epoch {format(d['epoch'], 'g'):>4}  iteration {d['iteration']:>6}  "
                        f"train acc, test acc | {d['train_acc']:.4f}, {d['test_acc']:.4f}"
                    )
                elif event.kind == DONE:
                    done = dict(event.data)
    finally:
        signal.signal(signal.SIGINT, previous)
    status = done.get("status", "completed")
    print(
        f"{status}: {accuracies_text(done)} after {done.get('iterations', 0):,} iterations "
        f"in {done.get('elapsed_s', 0.0):.2f} s"
    )
    if args.save:
        meta = {"config": config.to_dict(), **done}
        meta["dataset_source"] = data.source
        _save_weights(Path(args.save), trainer.network.params, meta)
        print(f"weights saved to {args.save}")
    return 0 if status == "completed" else 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m engine``."""
    parser = _Parser(
        prog="python -m engine",
        description="Backprop Lab's engine: the backpropagation chapter of Deep Learning from "
        "Scratch in NumPy.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the chapter's apple / apple-orange graphs")
    demo.add_argument(
        "example", choices=("apple", "apple-orange"), help="which computational graph to run"
    )
    demo.set_defaults(func=cmd_demo)

    gc = sub.add_parser(
        "gradcheck",
        help="backprop vs numerical gradients of TwoLayerNet on real images",
        description="Compare TwoLayerNet's backprop gradients with central differences, "
        "as the book's gradient_check.py does, and report more.",
    )
    add_data_options(gc)
    gc.add_argument(
        "--batch-size", type=int, metavar="N", default=3, help="number of images (default 3)"
    )
    gc.add_argument(
        "--hidden-size",
        type=int,
        metavar="N",
        default=_RUN.hidden_size,
        help="hidden units (default %(default)s)",
    )
    gc.add_argument(
        "--seed", type=int, metavar="N", default=0, help="weight init / direction seed (default 0)"
    )
    gc.add_argument(
        "--mode",
        choices=("full", "fast"),
        default="full",
        help="every element, or random directions (default full)",
    )
    gc.add_argument(
        "--eps", type=float, metavar="X", default=1e-4, help="central-difference step (1e-4)"
    )
    gc.add_argument(
        "--atol", type=float, metavar="X", default=1e-7, help="absolute tolerance (1e-7)"
    )
    gc.add_argument(
        "--rtol", type=float, metavar="X", default=1e-5, help="relative tolerance (1e-5)"
    )
    gc.add_argument("--json", action="store_true", help="print the report as JSON")
    gc.set_defaults(func=cmd_gradcheck)

    tr = sub.add_parser(
        "train",
        help="the chapter's training run (784-50-10, SGD, batch 100, 10,000 iterations)",
        description="Train TwoLayerNet as the chapter's train_neuralnet.py does, or (with "
        "the chapter-6 options) the book's MultiLayerNet / MultiLayerNetExtend.",
    )
    add_data_options(tr)
    tr.add_argument(
        "--hidden-size",
        type=int,
        metavar="N",
        default=_RUN.hidden_size,
        help="hidden units (default %(default)s)",
    )
    tr.add_argument(
        "--lr",
        type=float,
        metavar="X",
        default=_RUN.learning_rate,
        help="learning rate (default %(default)s)",
    )
    tr.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        default=_RUN.batch_size,
        help="batch size (default %(default)s)",
    )
    tr.add_argument(
        "--iterations",
        type=int,
        metavar="N",
        default=_RUN.iterations,
        help="iterations (default %(default)s)",
    )
    tr.add_argument(
        "--seed", type=int, metavar="N", default=_RUN.seed, help="seed (default %(default)s)"
    )
    tr.add_argument(
        "--optimizer",
        choices=tuple(OPTIMIZERS),
        default=_RUN.optimizer,
        help="update rule (default %(default)s)",
    )
    tr.add_argument(
        "--sampling",
        choices=("replacement", "shuffle"),
        default=_RUN.sampling,
        help="batches drawn with replacement as the book does, or by epoch shuffling",
    )
    tr.add_argument(
        "--threads",
        type=int,
        default=_RUN.blas_threads,
        help="BLAS threads for the training products (default %(default)s; 2 on an idle machine)",
    )
    tr.add_argument(
        "--step",
        choices=("fused", "layers"),
        default=_RUN.step,
        help="fused: the layers' gradients in one function, all-zero pixels skipped (default); "
        "layers: through the chapter's layer objects, as TwoLayerNet.gradient",
    )
    tr.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=_RUN.dtype,
        help="float type (default %(default)s)",
    )
    add_chapter6_options(tr)
    tr.add_argument("--save", metavar="FILE.npz", help="save the trained weights to this file")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_train)

    add_data_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; dataset and usage errors print one line and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except DatasetError as e:
        hint = cli_hint(getattr(args, "dataset", None), e.alternative)
        print(f"{parser.prog} {args.command}: error: {e}{hint}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
