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
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.errors import DatasetError, describe


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
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({describe(exc)})") from None
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Decode an IDX file (gzip-compressed when its name ends in .gz) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} cannot be read ({describe(exc)})") from None
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or len(data) < 4 + 4 * data[3]:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetError(f"{path} is truncated: {len(data)} bytes, expected {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(dims))


def read_npz_mirror(path: Path) -> RawArrays:
    """Load a ``<name>.npz`` mirror, checking its keys, dtypes and shapes (zip CRCs catch corruption)."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with open(path, "rb") as handle:
            is_zip = handle.read(2) == b"PK"
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({describe(exc)})") from None
    if not is_zip:
        raise DatasetError(f"{path} is not a valid .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DatasetError(f"{path} lacks the arrays {', '.join(missing)}")
            arrays = {k: archive[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"{path} is not a valid .npz file: corrupt or truncated ({describe(exc)})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or not (x.ndim == 3 or x.ndim == 4 and x.shape[-1] == 3) or y.shape != x.shape[:1]:
            raise DatasetError(f"{path}: x_{split} must be uint8 (N,H,W) or (N,H,W,3) with one label per image")
        if not np.issubdtype(y.dtype, np.integer):
            raise DatasetError(f"{path}: y_{split} must hold integer labels, not {y.dtype}")
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
    for split, x, y in (("train", x_train, y_train), ("t10k", x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(f"{folder}: the {split} images and labels files must hold N images (N,H,W) and "
                               f"N labels, not {x.shape} and {y.shape}")
    return RawArrays(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


def has_files(folder: Path, resources: list[tuple[str, str]]) -> bool:
    """True when every resource is present in ``folder``, compressed or already extracted."""
    return all(
        (folder / name).exists() or (folder / name.removesuffix(".gz")).exists() for name, _ in resources
    )


def has_cifar_batches(folder: Path, cls) -> bool:
    """True when every pickled batch and the meta file of torchvision's CIFAR layout is in ``folder``."""
    names = [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    return all((folder / name).is_file() for name in names)


def read_torchvision_cifar(root: Path, cls) -> RawArrays:
    """Read CIFAR from torchvision's pickled batches; torchvision verifies their md5 sums itself."""
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except (RuntimeError, OSError) as exc:  # torchvision's md5 check fails, or a batch cannot be opened
        raise DatasetError(f"{root / cls.base_folder} cannot be read ({describe(exc)})") from None
    return RawArrays(train.data, np.asarray(train.targets), test.data, np.asarray(test.targets))


def download(root: Path, download_fn: Callable[[str], object], expected: str) -> None:
    """Let torchvision download into ``root``; any failure becomes a one-line error naming the files and the
    reason, and leaves behind no empty folder that the attempt created."""
    if root.exists() and not os.access(root, os.W_OK):
        raise DatasetError(f"{expected} not found under the read-only mirror {root}")
    missing = [folder for folder in (root, *root.parents) if not folder.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{expected} not found and the data directory {root} cannot be created "
                           f"({describe(exc)}); point TICKETBENCH_DATA / --data-dir at the files") from None
    before = {Path(folder) for folder, _, _ in os.walk(root)}
    try:
        download_fn(str(root))
    except Exception as exc:  # torchvision raises many types (URLError, RuntimeError, OSError...)
        _remove_new_empty_folders(root, before, missing)
        raise DatasetError(
            f"{expected} not found under {root} and the download failed ({describe(exc)}); "
            f"copy the files there or point TICKETBENCH_DATA / --data-dir at a mirror"
        ) from None


def _remove_new_empty_folders(root: Path, before: set[Path], missing: list[Path]) -> None:
    """Remove the empty folders under ``root`` not in ``before``, then the empty ``missing`` ones (deepest first)."""
    new = [Path(folder) for folder, _, _ in os.walk(root, topdown=False) if Path(folder) not in before]
    for folder in new + missing:
        with suppress(OSError):  # not empty: what it holds is kept
            folder.rmdir()
