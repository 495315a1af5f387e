"""Loading a set of four IDX files: checked against the spec's hashes and against each other."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.data import idx, npycache
from engine.data.errors import FIX, DatasetError
from engine.data.specs import ROLES, Dataset, DatasetSpec


def verify(spec: DatasetSpec, stem: str, path: str | Path, raw: bytes) -> None:
    """Check a decompressed payload against the spec's SHA-256 (if it has one)."""
    expected = spec.sha256.get(stem)
    if expected is None:
        return
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise DatasetError(
            f"{path} does not hold the {spec.title} {stem}: SHA-256 of its decompressed payload is "
            f"{got}, expected {expected}; {FIX}"
        )


def _check_pair(path_x: Path, x: NDArray[Any], path_t: Path, t: NDArray[Any], n_cls: int) -> None:
    for p, a, want in ((path_x, x, 3), (path_t, t, 1)):
        if a.dtype != np.uint8:
            raise DatasetError(f"{p} holds {a.dtype} elements; expected uint8 (type code 0x08)")
        if a.ndim != want:
            raise DatasetError(f"{p} has {a.ndim} dimensions {a.shape}; expected {want}")
    if x.shape[1:] != (28, 28):
        raise DatasetError(f"{path_x} holds {x.shape[1]}x{x.shape[2]} images; expected 28x28")
    if len(x) != len(t):
        raise DatasetError(f"{path_x} holds {len(x)} images but {path_t} holds {len(t)} labels")
    if t.size and int(t.max()) >= n_cls:
        raise DatasetError(f"{path_t} holds label {int(t.max())}; expected 0..{n_cls - 1}")


def _decode(spec: DatasetSpec, files: Mapping[str, Path]) -> dict[str, NDArray[np.uint8]]:
    arrays: dict[str, NDArray[Any]] = {}
    for f, stem, what in ROLES:
        raw = idx.read_bytes(files[stem])
        arr = idx.parse_idx(raw, files[stem], what=what)
        verify(spec, stem, files[stem], raw)
        del raw
        arrays[f] = arr
    stems = {f: stem for f, stem, _ in ROLES}
    for xf, tf in (("x_train", "t_train"), ("x_test", "t_test")):
        _check_pair(files[stems[xf]], arrays[xf], files[stems[tf]], arrays[tf], len(spec.classes))
        arrays[xf] = arrays[xf].reshape(len(arrays[xf]), -1)
    return arrays


def load_idx_dir(spec: DatasetSpec, directory: Path, files: Mapping[str, Path]) -> Dataset:
    """Load and verify the four files, through the .npy cache when it is current."""
    key = npycache.key_dir(spec, [files[stem] for _, stem, _ in ROLES])
    arrays = npycache.load(key) if key is not None else None
    if arrays is None:
        arrays = _decode(spec, files)
        if key is not None:
            npycache.save(spec.name, key, arrays)
    return Dataset(
        name=spec.name,
        x_train=arrays["x_train"],
        t_train=arrays["t_train"],
        x_test=arrays["x_test"],
        t_test=arrays["t_test"],
        source=os.path.abspath(directory),
        note=f"{spec.title} from {directory}",
        classes=spec.classes,
    )
