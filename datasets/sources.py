"""Reading raw dataset files from a data root without ever writing into it.

Three on-disk forms are understood, tried in this order:

* the torchvision layout (``MNIST/raw/*-ubyte.gz``, ``cifar-10-batches-py/``), verified against the
  md5 sums torchvision itself ships;
* a compressed-numpy mirror ``<name>.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test``;
* nothing at all, in which case torchvision's own class downloads the files (only into a writable root).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.errors import DatasetError


@dataclass(frozen=True)
class RawArrays:
    """Decoded uint8 images (N,H,W) or (N,H,W,3) and integer labels for both official splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def md5sum(path: Path) -> str:
    """md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Decode an IDX file (gzip-compressed when its name ends in .gz) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetError(f"{path} is corrupt or truncated ({exc.__class__.__name__}: {exc})") from None
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetError(f"{path} is truncated: {len(data)} bytes, expected {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(dims))


def read_npz_mirror(path: Path) -> RawArrays:
    """Load a ``<name>.npz`` mirror, checking its keys, dtypes and lengths (zip CRCs catch corruption)."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DatasetError(f"{path} lacks the arrays {', '.join(missing)}")
            arrays = {k: archive[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"{path} is corrupt or truncated ({exc.__class__.__name__}: {exc})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or len(x) != len(y):
            raise DatasetError(f"{path}: x_{split} must be uint8 (N,H,W[,3]) with one label per image")
    return RawArrays(**{k: (v.astype(np.int64) if k.startswith("y") else v) for k, v in arrays.items()})


def read_mnist_like(folder: Path, resources: list[tuple[str, str]]) -> RawArrays:
    """Read the four IDX files of an MNIST-style dataset from ``folder``, verifying each .gz md5."""
    arrays = []
    for filename, md5 in resources:
        gz_path = folder / filename
        plain_path = folder / filename.removesuffix(".gz")
        if gz_path.exists():
            if md5sum(gz_path) != md5:
                raise DatasetError(f"{gz_path} fails its md5 check (expected {md5}); the file is corrupt or truncated")
            arrays.append(read_idx(gz_path))
        else:
            arrays.append(read_idx(plain_path))
    x_train, y_train, x_test, y_test = arrays
    return RawArrays(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


def has_files(folder: Path, resources: list[tuple[str, str]]) -> bool:
    """True when every resource is present in ``folder``, compressed or already extracted."""
    return all(
        (folder / name).exists() or (folder / name.removesuffix(".gz")).exists() for name, _ in resources
    )


def read_torchvision_cifar(root: Path, cls) -> RawArrays:
    """Read CIFAR from torchvision's pickled batches; torchvision verifies their md5 sums itself."""
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError as exc:
        raise DatasetError(f"{root / cls.base_folder}: {exc}") from None
    return RawArrays(train.data, np.asarray(train.targets), test.data, np.asarray(test.targets))


def download(root: Path, download_fn: Callable[[str], object], expected: str) -> None:
    """Let torchvision download into ``root``; any failure becomes a one-line error naming the files."""
    if root.exists() and not os.access(root, os.W_OK):
        raise DatasetError(f"{expected} not found under the read-only mirror {root}")
    try:
        root.mkdir(parents=True, exist_ok=True)
        download_fn(str(root))
    except Exception as exc:  # torchvision raises many types (URLError, RuntimeError, OSError...)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DatasetError(
            f"{expected} not found under {root} and the download failed ({first_line}); "
            f"copy the files there or point TICKETBENCH_DATA / --data-dir at a mirror"
        ) from None
