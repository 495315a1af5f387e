"""Finding and loading a dataset by name, and the book's ``load_mnist``.

Sources, in order: an explicit directory (argument, or ``MNIST_DIR`` / ``FASHION_MNIST_DIR``),
the user cache directory, a system directory, then a download from the public mirrors into the
cache (SHA-256 of the decompressed payload checked). ``mnist-10k`` is the offline subset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from engine.data import download as dl
from engine.data.errors import DatasetError
from engine.data.idxset import load_idx_dir
from engine.data.locations import (
    OFFLINE_ENV,
    cache_root,
    describe_dir,
    explicit_dir,
    find_files,
    local_dirs,
    offline,
    ways_to_provide,
)
from engine.data.specs import ROLES, SUBSET, Dataset, DatasetSpec, spec_of, to_float
from engine.data.subset import load_subset


def not_found(spec: DatasetSpec, *, download: bool) -> DatasetError:
    """The error for a dataset that is nowhere here and will not be downloaded: where and how."""
    looked = [f"${spec.env_var} (not set)"] if spec.env_var else []
    looked += [f"{d} ({describe_dir(d)})" for d in local_dirs(spec)]
    if offline():
        why = f"downloads are off ({OFFLINE_ENV}=1)"
    elif not download:
        why = "downloads were not allowed"
    else:
        why = "its mirrors cannot be reached"
    ways = ways_to_provide(spec)
    if offline() and spec.mirrors:
        ways.append(f"unset {OFFLINE_ENV} on a machine that can reach the mirrors")
    return DatasetError(
        f"{spec.title} not found and {why}; looked in: {', '.join(looked)}; "
        f"to provide it: {'; or '.join(ways)}",
        alternative=spec.fallback,
    )


def load_dataset(
    name: str = "mnist",
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
    report: dl.Progress | None = None,
) -> Dataset:
    """Find, read and verify a dataset by name (see the module docstring for the order).

    ``progress`` shows a terminal progress bar while downloading; ``report`` is called with
    (file, bytes so far, total) as well, for a progress display of the caller's own.
    """
    spec = spec_of(name)
    if name == SUBSET:
        return load_subset(data_dir)
    explicit = explicit_dir(spec, data_dir)
    if explicit is not None:
        directory, origin = explicit
        files, missing = find_files(directory)
        if missing:
            undo = f"unset {spec.env_var}" if origin.startswith("$") else "pass no data_dir"
            raise DatasetError(
                f"{directory} (from {origin}) {describe_dir(directory)}; it must hold the four "
                f"{spec.title} files {', '.join(s + '[.gz]' for _, s, _ in ROLES)}; put them "
                f"there, or {undo} to use the cache, the system directory or a download"
            )
        return load_idx_dir(spec, directory, files)
    for directory in local_dirs(spec):
        files, missing = find_files(directory)
        if not missing:
            return load_idx_dir(spec, directory, files)
    # NOTE: no probe first: a real attempt fails as fast, and says more when it does.
    if not (download and not offline() and spec.mirrors):
        raise not_found(spec, download=download)
    cache = cache_root() / spec.name
    _, missing = find_files(cache)
    dl.download(spec, missing, cache, progress, report)
    files, _ = find_files(cache)
    return load_idx_dir(spec, cache, files)


def _one_hot(t: NDArray[Any], n: int, dtype: DTypeLike) -> NDArray[Any]:
    out = np.zeros((len(t), n), dtype=dtype)
    out[np.arange(len(t)), t] = 1
    return out


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    download: bool = True,
    dtype: DTypeLike = np.float32,
) -> tuple[tuple[NDArray[Any], NDArray[Any]], tuple[NDArray[Any], NDArray[Any]]]:
    """The book's ``load_mnist``: ((x_train, t_train), (x_test, t_test))."""
    data = load_dataset(dataset, data_dir=data_dir, download=download)
    n_cls = len(data.classes)

    def images(x: NDArray[np.uint8]) -> NDArray[Any]:
        out: NDArray[Any] = to_float(x, dtype) if normalize else x
        return out if flatten else out.reshape(-1, 1, 28, 28)

    def labels(t: NDArray[np.uint8]) -> NDArray[Any]:
        return _one_hot(t, n_cls, dtype) if one_hot_label else t

    return (
        (images(data.x_train), labels(data.t_train)),
        (images(data.x_test), labels(data.t_test)),
    )
