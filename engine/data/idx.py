"""The IDX format: a reader that checks magic number, element type, dimensions and length."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.data.errors import FIX, DatasetError

# IDX element types: code -> (big-endian dtype, name)
IDX_TYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "uint8"),
    0x09: (">i1", "int8"),
    0x0B: (">i2", "int16"),
    0x0C: (">i4", "int32"),
    0x0D: (">f4", "float32"),
    0x0E: (">f8", "float64"),
}


def read_bytes(path: Path) -> bytes:
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
        raise DatasetError(f"{path} is truncated: its gzip stream ends early; {FIX}") from None
    except (OSError, zlib.error) as e:
        raise DatasetError(f"{path} is a corrupt gzip file ({e}); {FIX}") from None


def _parse_header(path: str | Path, raw: bytes) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    """Check an IDX header; return (dtype, shape, header length)."""
    if len(raw) < 4:
        raise DatasetError(
            f"{path} is not an IDX file: it holds only {len(raw)} bytes, "
            f"fewer than the 4-byte magic number; {FIX}"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise DatasetError(
            f"{path} is not an IDX file: it starts with 0x{raw[:4].hex()} but IDX files start "
            f"with 0x0000 (0x00000803 for images, 0x00000801 for labels); {FIX}"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {n}" for c, (_, n) in IDX_TYPES.items())
        raise DatasetError(
            f"{path} has unknown IDX element type code 0x{code:02X} (known: {known}); {FIX}"
        )
    if ndim == 0:
        raise DatasetError(f"{path} declares 0 dimensions in its IDX header; {FIX}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(
            f"{path} is truncated: its IDX header needs {header_len} bytes for {ndim} "
            f"dimensions but the file holds {len(raw)}; {FIX}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    return np.dtype(IDX_TYPES[code][0]), shape, header_len


def parse_idx(raw: bytes, path: str | Path = "<bytes>", *, what: str = "data") -> NDArray[Any]:
    """Decode IDX bytes (already decompressed), checking magic, type, dimensions and length."""
    dtype, shape, header_len = _parse_header(path, raw)
    # NOTE: Python ints, not np.prod: four dimensions of up to 2**32 - 1 overflow int64,
    # which turned a corrupt header into a negative size or a reshape traceback.
    expected = math.prod(shape) * dtype.itemsize
    held = len(raw) - header_len
    dims = " x ".join(str(d) for d in shape)
    type_name = IDX_TYPES[raw[2]][1]
    if held < expected:
        raise DatasetError(
            f"{path} is truncated: header promises {expected} bytes of {what} ({dims} {type_name}) "
            f"but the file holds {held}; {FIX}"
        )
    if held > expected:
        raise DatasetError(
            f"{path} is too long: header promises {expected} bytes of {what} ({dims} {type_name}) "
            f"but the file holds {held} ({held - expected} extra); {FIX}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    # NOTE: a copy gives a writable array in native byte order and frees `raw`.
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path, *, what: str = "data") -> NDArray[Any]:
    """Read an IDX file (gzip-compressed or raw, told apart by its first bytes) into an array."""
    path = Path(path)
    return parse_idx(read_bytes(path), path, what=what)


def idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an IDX file's header declares, reading only the header."""
    with path.open("rb") as f:
        head = f.read(2)
    opener: Any = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read(4 + 4 * 255)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path} is a corrupt gzip file ({e}); {FIX}") from None
    return _parse_header(path, raw)[1]
