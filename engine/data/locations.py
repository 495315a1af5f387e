"""Where a dataset's files may be: an explicit directory, the user cache, a system directory."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

from engine.data.specs import ROLES, DatasetSpec

OFFLINE_ENV = "BACKPROP_LAB_OFFLINE"
CACHE_ENV = "BACKPROP_LAB_CACHE_DIR"


def cache_root() -> Path:
    """The user cache directory of Backprop Lab (``BACKPROP_LAB_CACHE_DIR`` overrides it)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_cache_dir("backprop-lab"))


def offline() -> bool:
    """Whether ``BACKPROP_LAB_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _candidates(stem: str) -> list[str]:
    base, kind = stem.rsplit("-", 1)[0].rsplit("-", 1)  # e.g. "train-images", "idx3"
    dotted = f"{base}.{kind}-ubyte"
    return [f"{stem}.gz", stem, dotted, f"{dotted}.gz"]


def find_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """The four files found in ``directory`` by stem, and the stems missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for _, stem, _ in ROLES:
        for name in _candidates(stem):
            if (directory / name).is_file():
                found[stem] = directory / name
                break
        else:
            missing.append(stem)
    return found, missing


def describe_dir(directory: Path) -> str:
    """What is wrong with a directory that should hold a set, e.g. 'lacks t10k-...[.gz]'."""
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is not a directory"
    _, missing = find_files(directory)
    if len(missing) == len(ROLES):
        return "holds none of the four files"
    return "lacks " + ", ".join(f"{m}[.gz]" for m in missing)


def explicit_dir(spec: DatasetSpec, data_dir: str | Path | None) -> tuple[Path, str] | None:
    """The directory the caller named (argument, then environment variable) and its origin."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument"
    if spec.env_var and os.environ.get(spec.env_var):
        return Path(os.environ[spec.env_var]).expanduser(), f"${spec.env_var}"
    return None


def local_dirs(spec: DatasetSpec) -> list[Path]:
    """The directories searched when none is named: the user cache, then the system ones."""
    return [cache_root() / spec.name, *spec.system_dirs]


def file_names() -> str:
    """The four file names of an IDX set, for messages."""
    return ", ".join(f"{stem}.gz" for _, stem, _ in ROLES)


def ways_to_provide(spec: DatasetSpec) -> list[str]:
    """How to put a dataset on this machine, in words true for every interface."""
    ways = []
    if spec.env_var:
        ways.append(f"set {spec.env_var} to a directory holding {file_names()} (or un-gzipped)")
    ways.append(f"put the four files in {cache_root() / spec.name}")
    if spec.apt_package:
        ways.append(f"apt-get install {spec.apt_package}")
    return ways
