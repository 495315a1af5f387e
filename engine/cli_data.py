"""``python -m engine``'s dataset commands, ``fetch`` and ``datasets``, and the dataset options
every command reading images shares; a missing dataset's hint in the CLI's words."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.data import (
    DEFAULT,
    NAMES,
    SPECS,
    SUBSET,
    DatasetError,
    best_dataset,
    dataset_status,
    load_dataset,
)


def cmd_datasets(args: argparse.Namespace) -> int:
    """Where each dataset is found, or what first use will do (nothing is downloaded)."""
    statuses = [dataset_status(name, download=not args.offline) for name in NAMES]
    if args.json:
        print(json.dumps(statuses, indent=2))
        return 0
    for s in statuses:
        if s["available"]:
            sizes = s["sizes"] or {}
            counts = f"{sizes.get('train', 0):,} train, {sizes.get('test', 0):,} test"
            where = f"{s['source']} ({counts})"
            if s["subset"]:
                where += ", a subset, not the full MNIST"
        elif s["downloadable"]:
            where = f"downloaded on first use: {s['message']}"
        else:
            where = f"not available: {s['message']}{cli_hint(s['name'], s['alternative'])}"
        print(f"{s['name']:<14} {where}")
    print(f"default: {best_dataset(download=not args.offline)}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Make a dataset ready: download and verify it if it is missing and can be fetched.

    Succeeds when training can go ahead: on this dataset, or (offline) on its fallback, said so.
    """
    name = args.dataset or DEFAULT
    status = dataset_status(name, download=not args.offline)
    if status["available"]:
        print(f"{name}: here ({status['source']})")
        return 0
    failure = status["message"]
    if status["downloadable"]:
        print(f"{name}: downloading {status['title']} from its public mirrors (verified)...")
        try:
            data = load_dataset(name, progress=not args.no_progress)
        except DatasetError as e:
            failure = str(e)
        else:
            print(f"{name}: ready in {data.source} ({data.sizes['train']:,} train images)")
            return 0
    print(f"{name}: not available: {failure}", file=sys.stderr)
    alt = status["alternative"]
    if alt and dataset_status(alt)["available"]:
        print(f"{name}: training will use {alt} instead, {SPECS[alt].title}, until it is here")
        return 0
    return 2


def cli_hint(dataset: str | None, alternative: str | None) -> str:
    """What to do about a missing dataset, in this interface's words (its flags)."""
    hint = "" if dataset == SUBSET else "; or pass --data-dir DIR"
    if alternative:
        hint += f"; or use --dataset {alternative}"
    return hint


def add_data_options(p: argparse.ArgumentParser) -> None:
    """The dataset options of the commands that read images (gradcheck, train)."""
    p.add_argument(
        "--dataset",
        choices=NAMES,
        default=None,
        help="dataset (default: mnist if it is here or can be downloaded, else mnist-10k)",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory holding the four IDX files (overrides MNIST_DIR / FASHION_MNIST_DIR)",
    )
    p.add_argument(
        "--offline", action="store_true", help="never download (as BACKPROP_LAB_OFFLINE=1)"
    )


def add_data_commands(sub: Any) -> None:
    """Add ``fetch`` and ``datasets`` to the CLI's subcommands (``sub``, argparse's action)."""
    fe = sub.add_parser(
        "fetch",
        help="download a dataset if it is missing (default mnist); offline, say what is used",
    )
    fe.add_argument("--dataset", choices=NAMES, default=None, help="dataset (default mnist)")
    fe.add_argument("--offline", action="store_true", help="never download")
    fe.add_argument("--no-progress", action="store_true", help="no progress bar")
    fe.set_defaults(func=cmd_fetch)

    ds = sub.add_parser("datasets", help="where each dataset is found (downloads nothing)")
    ds.add_argument("--json", action="store_true", help="print as JSON")
    ds.add_argument(
        "--offline", action="store_true", help="as if downloads were off (--offline elsewhere)"
    )
    ds.set_defaults(func=cmd_datasets)
