"""What would happen if a dataset were loaded now, without downloading or decoding it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.data import download as dl
from engine.data.errors import DatasetError
from engine.data.idx import idx_shape
from engine.data.load import not_found
from engine.data.locations import describe_dir, explicit_dir, find_files, local_dirs, offline
from engine.data.specs import SPECS, SUBSET, spec_of
from engine.data.subset import NPM_PACKAGE, NPM_SOURCE, NPM_TEST, NPM_TRAIN, npm_dir

#: The dataset every interface trains on when none is named, if it is here or can be fetched.
DEFAULT = "mnist"

#: status "state": here / downloaded on first use / not here and not fetchable / a named dir is bad
AVAILABLE, DOWNLOAD, MISSING, BROKEN = "available", "download", "missing", "broken"


def dataset_status(name: str, *, download: bool = True) -> dict[str, Any]:
    """Where a dataset would be loaded from, or what would happen instead; nothing is fetched.

    ``download`` says whether the caller would download a missing dataset. ``source`` may be a
    path on this machine; ``origin`` says the same without one (for clients of a server).
    """
    spec = spec_of(name)
    status: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "state": MISSING,
        "available": False,
        "downloadable": False,
        "source": None,
        "origin": None,
        "sizes": None,
        "subset": name == SUBSET,
        "env_var": spec.env_var,
        "alternative": spec.fallback,
        "message": None,
    }
    if name == SUBSET:
        if npm_dir() is None:
            status["message"] = f"the npm package {NPM_PACKAGE} is not installed (npm ci)"
        else:
            sizes = {"train": NPM_TRAIN, "test": NPM_TEST}
            status.update(state=AVAILABLE, available=True, source=NPM_SOURCE, sizes=sizes)
            status["origin"] = f"the npm package {NPM_PACKAGE}"
        return status
    explicit = explicit_dir(spec, None)
    if explicit is not None:
        dirs, origins = [explicit[0]], [explicit[1]]
    else:
        dirs = local_dirs(spec)
        origins = ["the user cache"] + ["the system directory"] * len(spec.system_dirs)
    for directory, origin in zip(dirs, origins, strict=True):
        files, missing = find_files(directory)
        if missing:
            if explicit:
                status.update(state=BROKEN, origin=origin, problem=describe_dir(directory))
                status["message"] = f"{directory} (from {origin}) {describe_dir(directory)}"
                return status
            continue
        try:
            sizes = {
                "train": idx_shape(files["train-images-idx3-ubyte"])[0],
                "test": idx_shape(files["t10k-images-idx3-ubyte"])[0],
            }
        except (DatasetError, OSError) as e:
            status.update(state=BROKEN, origin=origin, problem="holds a damaged file")
            status["message"] = str(e)
            return status
        status.update(state=AVAILABLE, available=True, source=str(directory), sizes=sizes)
        status["origin"] = origin
        return status
    if download and spec.mirrors and not offline() and dl.reachable(spec):
        status.update(state=DOWNLOAD, downloadable=True)
        status["message"] = (
            f"not on this machine yet; downloaded from its public mirrors into {dirs[0]} "
            "(and verified) on first use"
        )
    else:
        status["message"] = str(not_found(spec, download=download))
    return status


def usable(status: dict[str, Any]) -> bool:
    """Whether loading would work: the dataset is here, or would be downloaded."""
    return status["state"] in (AVAILABLE, DOWNLOAD)


def best_dataset(
    *, download: bool = True, status: Callable[[str], dict[str, Any]] | None = None
) -> str:
    """The default dataset if it is here or would be downloaded, else its offline fallback.

    ``status`` replaces :func:`dataset_status` (a caller with its own cache of statuses).
    """

    def look(name: str) -> dict[str, Any]:
        return status(name) if status else dataset_status(name, download=download)

    if usable(look(DEFAULT)):
        return DEFAULT
    fallback = SPECS[DEFAULT].fallback
    if fallback and usable(look(fallback)):
        return fallback
    return DEFAULT
