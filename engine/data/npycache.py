"""Decoded arrays kept as .npy in the user cache: the next load skips decompressing and parsing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.data.locations import cache_root
from engine.data.specs import ROLES, DatasetSpec


def key_dir(spec: DatasetSpec, files: Sequence[Path]) -> Path | None:
    """The cache directory of these source files (by path, size, mtime); None if one is gone."""
    parts: list[Any] = [spec.name, sorted(spec.sha256.items())]
    try:
        for p in files:
            st = p.stat()
            parts.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    except OSError:
        return None
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]
    return cache_root() / "decoded" / f"{spec.name}-{key}"


def load(key: Path) -> dict[str, NDArray[np.uint8]] | None:
    """The arrays of a previous decode, or None if absent or unreadable."""
    try:
        arrays = {f: np.load(key / f"{f}.npy", allow_pickle=False) for f, _, _ in ROLES}
    except (OSError, ValueError):
        return None
    ok = all(a.dtype == np.uint8 for a in arrays.values())
    ok = ok and arrays["x_train"].ndim == 2 and len(arrays["x_train"]) == len(arrays["t_train"])
    ok = ok and arrays["x_test"].ndim == 2 and len(arrays["x_test"]) == len(arrays["t_test"])
    return arrays if ok else None


def save(name: str, key: Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Store decoded arrays as .npy for a fast next load; quietly skip if the cache is read-only."""
    parent = key.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key.name}-", dir=parent))
    except OSError:
        return
    try:
        for f, arr in arrays.items():
            np.save(tmp / f"{f}.npy", arr, allow_pickle=False)
        # NOTE: renaming a complete directory is atomic, so a reader never sees half a cache;
        # if another process got there first the rename fails and its copy is kept.
        os.replace(tmp, key)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for old in parent.iterdir():
        stale = old.name.rsplit("-", 1)[0] == name and old != key
        if stale and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
