"""The test suite itself: it says which digits it uses, and a broken MNIST_DIR stops it loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.engine.test_datasets import fake_payloads, write_set


def pytest_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Collect (not run) tests/test_docs.py in a new pytest with this environment."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:randomly", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_broken_mnist_dir_stops_the_run(tmp_path: Path) -> None:
    out = pytest_run({"MNIST_DIR": str(tmp_path / "nothing")}, "tests/test_docs.py")
    assert out.returncode != 0
    assert "MNIST_DIR is set but unusable" in out.stderr and "does not exist" in out.stderr


def test_the_header_says_which_digits(tmp_path: Path) -> None:
    d = write_set(tmp_path / "mnist", fake_payloads())
    out = pytest_run({"MNIST_DIR": str(d)}, "tests/test_docs.py")
    assert out.returncode == 0, out.stderr
    assert f"digits: the full MNIST from $MNIST_DIR ({d})" in out.stdout
