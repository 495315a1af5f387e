"""``python -m engine`` as a user runs it: exact numbers, messages and exit statuses.

The CLI's logic is tested in-process (``engine.cli.main`` with its own environment, its
output captured); one test runs the real entry point in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from tests.conftest import Digits

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ran:
    """What one call of the CLI left: its exit status and its output."""

    returncode: int
    stdout: str
    stderr: str


#: Dataset directories of the environment the CLI never sees unless a test gives them.
DATA_DIRS = ("MNIST_DIR", "FASHION_MNIST_DIR")


def own_env(cache: Path) -> dict[str, str]:
    """What every CLI call here runs with: offline, with a cache dir of its own."""
    return {"BACKPROP_LAB_CACHE_DIR": str(cache), "BACKPROP_LAB_OFFLINE": "1"}


def cli_env(cache: Path) -> dict[str, str]:
    """The environment of a CLI subprocess: this one's, without DATA_DIRS, with own_env's."""
    kept = {k: v for k, v in os.environ.items() if k not in DATA_DIRS}
    return {**kept, **own_env(cache)}


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache dir of the test's own."""
    return tmp_path / "cache"


@pytest.fixture
def run(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Ran]]:
    """Call ``python -m engine ARGS`` in this process, as cli_env, capturing what it prints."""

    def call(*args: str, env: dict[str, str] | None = None) -> Ran:
        with monkeypatch.context() as m:
            for key in DATA_DIRS:
                m.delenv(key, raising=False)
            for key, value in {**own_env(cache), **(env or {})}.items():
                m.setenv(key, value)
            capsys.readouterr()
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse: --help and usage errors
                code = e.code if isinstance(e.code, int) else int(e.code is not None)
            out, err = capsys.readouterr()
        return Ran(code, out, err)

    yield call


def test_the_entry_point_runs_as_a_process(cache: Path) -> None:
    """``python -m engine`` itself (engine/__main__.py): the status is main()'s."""
    done = subprocess.run(
        [sys.executable, "-m", "engine", "demo", "apple"],
        cwd=ROOT,
        env=cli_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "price: 220",
        "dApple: 2.2",
        "dApple_num: 110",
        "dTax: 200",
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "engine", "demo", "pear"], cwd=ROOT, env=cli_env(cache),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stdout == "" and "error:" in bad.stderr


def test_demo_apple(run: Callable[..., Ran]) -> None:
    out = run("demo", "apple")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1:] == ["price: 220", "dApple: 2.2", "dApple_num: 110", "dTax: 200"]


def test_demo_apple_orange(run: Callable[..., Ran]) -> None:
    out = run("demo", "apple-orange")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [
        "price: 715",
        "dApple: 2.2",
        "dApple_num: 110",
        "dOrange: 3.3",
        "dOrange_num: 165",
        "dTax: 650",
    ]


@pytest.mark.parametrize(
    "args", [[], ["demo"], ["gradcheck"], ["train"], ["datasets"]], ids=lambda a: " ".join(a)
)
def test_help(args: list[str], run: Callable[..., Ran]) -> None:
    out = run(*args, "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: python -m engine")
    assert out.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["demo"],
        ["demo", "pear"],
        ["frobnicate"],
        ["gradcheck", "--batch-size", "x"],
        ["gradcheck", "--batch-size", "0"],
        ["gradcheck", "--mode", "slow"],
        ["train", "--optimizer", "lbfgs"],
        ["train", "--iterations", "0"],
        ["train", "--lr", "-1"],
        ["train", "--dataset", "cifar"],
        ["train", "--data-dir", "/nonexistent/mnist"],
        ["gradcheck", "--dataset", "mnist"],  # offline, no MNIST_DIR, empty cache: not found
        ["gradcheck", "--seed", "-1"],  # was a NumPy traceback
        ["gradcheck", "--hidden-size", "0"],  # was a meaningless PASS on empty W1
        ["gradcheck", "--eps", "0"],  # was a FAIL full of NaN
        ["gradcheck", "--atol=-1"],
        ["train", "--seed", "-1"],  # was "expected non-negative integer", naming nothing
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
def test_bad_arguments_one_line_exit_2(args: list[str], run: Callable[..., Ran]) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("python -m engine") and "error:" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["gradcheck", "--seed", "-1"], "--seed"),
        (["gradcheck", "--hidden-size", "0"], "--hidden-size"),
        (["gradcheck", "--eps", "0"], "--eps"),
        (["gradcheck", "--rtol=-1"], "--rtol"),
        (["train", "--seed", "-1"], "--seed"),
    ],
)
def test_bad_value_names_the_option(args: list[str], option: str, run: Callable[..., Ran]) -> None:
    out = run(*args)
    assert out.returncode == 2 and f"error: {option} must be" in out.stderr, out.stderr


def test_zero_accuracy_is_printed_not_dropped() -> None:
    # Regression: `if a` dropped an accuracy of exactly 0.0 from the summary line.
    from engine.cli import accuracies_text

    assert accuracies_text({"train_acc": 0.5, "test_acc": 0.0}) == (
        "train acc 0.5000, test acc 0.0000"
    )
    assert accuracies_text({"train_acc": None, "test_acc": None}) == "not evaluated"


def test_missing_dir_message_names_it(run: Callable[..., Ran]) -> None:
    out = run("train", "--data-dir", "/nonexistent/mnist")
    assert "/nonexistent/mnist (from the data_dir argument) does not exist" in out.stderr


def test_nothing_found_lists_places_and_says_what_to_do_in_flags(
    cache: Path, run: Callable[..., Ran]
) -> None:
    out = run("gradcheck", "--dataset", "mnist")
    assert "$MNIST_DIR (not set)" in out.stderr and str(cache / "mnist") in out.stderr
    assert "--dataset mnist-10k" in out.stderr and "--data-dir DIR" in out.stderr


def test_defaults_fall_back_to_the_subset_and_say_so(run: Callable[..., Ran]) -> None:
    """Offline with no MNIST here, `gradcheck` and `train` work on mnist-10k, labelled."""
    out = run("gradcheck", "--mode", "fast")
    assert out.returncode == 0, out.stderr
    assert "mnist-10k images" in out.stdout and "subset, not the full MNIST" in out.stderr
    out = run("train", "--iterations", "20", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "on mnist-10k (8,000 train" in out.stdout and "subset" in out.stderr


def test_datasets(digits: Digits, run: Callable[..., Ran]) -> None:
    out = run("datasets", env=digits.env)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert set(lines) == {"mnist", "fashion-mnist", "mnist-10k", "default:"}
    if digits.full:
        assert str(digits.full_dir) in lines["mnist"] and "60,000 train" in lines["mnist"]
    else:
        assert "not available" in lines["mnist"] and "--dataset mnist-10k" in lines["mnist"]
    assert lines["default:"] == f"default: {digits.name}"
    assert "not the full MNIST" in lines["mnist-10k"]
    as_json = json.loads(run("datasets", "--json").stdout)
    assert [s["name"] for s in as_json] == ["mnist", "fashion-mnist", "mnist-10k"]


def test_gradcheck_full(digits: Digits, run: Callable[..., Ran]) -> None:
    out = run("gradcheck", env=digits.env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for key in ("W1", "b1", "W2", "b2"):
        (line,) = [x for x in lines if x.startswith(f"{key}:")]
        assert float(line.split(":")[1]) < 1e-9
        (row,) = [x for x in lines if x.split()[:1] == [key]]
        assert row.endswith("pass")
    assert f"3 {digits.name} images" in lines[0] and "result: PASS" in lines
    assert any(x.startswith("tolerances:") and "atol 1e-07" in x for x in lines)
    assert any(x.startswith("time:") for x in lines)


def test_gradcheck_fast_json(digits: Digits, run: Callable[..., Ran]) -> None:
    data_dir = ["--data-dir", str(digits.full_dir)] if digits.full_dir else []
    out = run(
        "gradcheck", "--mode", "fast", "--json", "--seed", "5", "--dataset", digits.name,
        *data_dir,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["passed"] and report["mode"] == "fast"
    assert set(report["params"]) == {"W1", "b1", "W2", "b2"}


def test_train_mnist_10k_and_save(tmp_path: Path, run: Callable[..., Ran]) -> None:
    weights = tmp_path / "w.npz"
    out = run(
        "train", "--dataset", "mnist-10k", "--iterations", "200", "--seed", "1",
        "--save", str(weights),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "subset, not the full MNIST" in out.stderr
    lines = out.stdout.splitlines()
    epochs = [x for x in lines if x.startswith("epoch")]
    assert len(epochs) == 3  # 80 iterations per epoch: 1, 2 and after the last (2.5)
    assert "train acc, test acc |" in epochs[0]
    final = [x for x in lines if x.startswith("completed:")]
    assert final and "after 200 iterations" in final[0]
    test_acc = float(final[0].split("test acc ")[1].split()[0])
    assert test_acc > 0.7
    with np.load(weights) as z:
        assert z["W1"].shape == (784, 50) and z["b2"].shape == (10,)
        meta = json.loads(str(z["meta"]))
    assert meta["config"]["iterations"] == 200 and meta["status"] == "completed"


def test_train_full_mnist_short(digits: Digits, run: Callable[..., Ran]) -> None:
    out = run(
        "train", "--iterations", "100", "--optimizer", "adam", "--lr", "0.001",
        "--sampling", "shuffle", "--dtype", "float64", "--no-progress",
        env=digits.env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"{digits.train_size:,} train" in out.stdout and "completed:" in out.stdout
    assert out.stderr == "" if digits.full else "subset, not the full MNIST" in out.stderr


def test_train_step_layers_matches_the_fused_step(tmp_path: Path, run: Callable[..., Ran]) -> None:
    weights = {}
    for step in ("fused", "layers"):
        weights[step] = tmp_path / f"{step}.npz"
        out = run(
            "train", "--dataset", "mnist-10k", "--iterations", "60", "--seed", "2",
            "--dtype", "float64", "--step", step, "--no-progress",
            "--save", str(weights[step]),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert f"{step} step" in out.stdout
    with np.load(weights["fused"]) as fused, np.load(weights["layers"]) as layers:
        for key in ("W1", "b1", "W2", "b2"):
            np.testing.assert_allclose(fused[key], layers[key], rtol=1e-7, atol=1e-12)


def test_train_a_deep_net_with_the_chapter6_options(
    tmp_path: Path, run: Callable[..., Ran]
) -> None:
    weights = tmp_path / "deep.npz"
    out = run(
        "train", "--dataset", "mnist-10k", "--iterations", "30", "--layers", "40", "30",
        "--activation", "tanh", "--init", "xavier", "--batch-norm", "--dropout", "0.2",
        "--weight-decay", "0.01", "--train-size", "1000", "--no-progress",
        "--save", str(weights),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "training 784-40-30-10, tanh, init xavier, batch norm, dropout 0.2" in out.stdout
    assert "(1,000 train" in out.stdout and "completed:" in out.stdout
    with np.load(weights) as z:
        assert z["W2"].shape == (40, 30) and z["gamma2"].shape == (30,)
    bad = run("train", "--dataset", "mnist-10k", "--dropout", "0.95")
    assert bad.returncode == 2 and "--dropout must be a number from 0 to 0.9" in bad.stderr
