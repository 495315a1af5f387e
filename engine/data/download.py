"""Fetching a dataset from its public mirrors into the cache, each file verified before it is kept.

A quick reachability probe (a TCP connect with a short timeout, remembered for a minute) lets
callers say honestly whether a missing dataset will be downloaded, without a long hang offline.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from engine.data import idx
from engine.data.errors import DatasetError
from engine.data.idxset import verify
from engine.data.locations import CACHE_ENV, ways_to_provide
from engine.data.specs import DatasetSpec

#: Seconds to wait for a mirror to accept a connection (probe) or to answer (download).
PROBE_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
_PROBE_TTL = 60.0
_probes: dict[tuple[str, int], tuple[float, bool]] = {}

#: progress(file name, bytes so far, total bytes or None), called as a download goes
Progress = Callable[[str, int, int | None], None]


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _connects(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection opens within ``timeout`` (name lookup included)."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    # NOTE: a thread, because the name lookup ignores socket timeouts and can hang offline.
    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def reachable(spec: DatasetSpec, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether any mirror of the dataset accepts a connection (answers kept for a minute)."""
    now = time.monotonic()
    for mirror in spec.mirrors:
        key = _host_port(mirror)
        cached = _probes.get(key)
        if cached is None or now - cached[0] > _PROBE_TTL:
            cached = (now, _connects(*key, timeout))
            _probes[key] = cached
        if cached[1]:
            return True
    return False


def urlopen(url: str, timeout: float = READ_TIMEOUT) -> Any:
    """Open a URL (a seam for tests)."""
    return urllib.request.urlopen(url, timeout=timeout)


def _fetch(url: str, dest: Path, progress: bool, report: Progress | None) -> None:
    """Stream ``url`` into ``dest`` with a tqdm progress bar (and ``report`` if given)."""
    name = dest.name.removesuffix(".part")
    with urlopen(url) as resp, dest.open("wb") as out:
        total_text = resp.headers.get("Content-Length")
        total = int(total_text) if total_text and total_text.isdigit() else None
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=name,
            disable=not progress,
            leave=False,
        ) as bar:
            done = 0
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))
                done += len(chunk)
                if report is not None:
                    report(name, done, total)


def download(
    spec: DatasetSpec,
    missing: Sequence[str],
    target: Path,
    progress: bool,
    report: Progress | None = None,
) -> None:
    """Download the missing files into ``target``, each verified before it is kept."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(
            f"cannot create the cache directory {target} ({e.strerror or e}) to download "
            f"{spec.title}; set {CACHE_ENV} to a writable directory",
            alternative=spec.fallback,
        ) from None
    for stem in missing:
        final = target / f"{stem}.gz"
        part = target / f"{stem}.gz.part"
        failures: list[str] = []
        for mirror in spec.mirrors:
            url = mirror + f"{stem}.gz"
            try:
                _fetch(url, part, progress, report)
                raw = idx.read_bytes(part)
                idx.parse_idx(raw, url, what="data")
                verify(spec, stem, url, raw)
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
                part.unlink(missing_ok=True)
                continue
            except DatasetError as e:
                failures.append(str(e).split("; download it again")[0])
                part.unlink(missing_ok=True)
                continue
            os.replace(part, final)
            break
        else:
            raise DatasetError(
                f"could not download {spec.title} {stem}.gz: "
                + "; ".join(failures or ["no mirrors"])
                + "; or provide the files yourself: "
                + "; or ".join(ways_to_provide(spec)),
                alternative=spec.fallback,
            )
