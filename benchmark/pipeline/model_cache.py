"""Trained models stored under the hash of their config; a second request loads instead of training.

Layout: ``<cache>/models/<hash>/{config.json, init.pt, trained.pt, metrics.json, digests.json}``, plus
``heads.pt`` (the auxiliary heads, CPU tensors) for a DGL-trained model (``training = "dgl"``).
``digests.json`` holds the sha256 of every other file, and every load checks them: a damaged, truncated or
unreadable file is named in one line and the model retrained, never used (an entry written before digests were
kept is loaded unchecked, and retrained only if it cannot be read). An entry is built under
an inter-process lock (``<cache>/models/.locks/<hash>.lease``): a second process asking for the same config
waits for the first and then loads its result. The lock is a lease (filelock's ``SoftFileLease``), a marker
file created exclusively and renewed by its holder, so it works on shared file systems (NFS, Lustre) where
``flock`` locks are unreliable or missing; a holder that died is taken over at once on its own host and after
:data:`LEASE_SECONDS` from any other. Within one run the plan gives each config hash one train stage, before
every stage that needs the model, so the lock only matters between concurrent runs (or workers sharing a
cache); should a lease ever be taken from a live holder, both train and the first complete entry stays. The
directory is written under a temporary name and renamed into place, so a crash or a full disk never leaves half
an entry behind. The cache directory is checked for writability before any training, so an unwritable cache costs
no training time; a full disk while saving is one line (:class:`~benchmark.store.WriteError`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import SoftFileLease
from torch import nn

from benchmark.core.config import TrainConfig
from benchmark.nn.dgl import dgl_heads, fit_dgl
from benchmark.nn.training import State, fit, fresh_model
from benchmark.store.artifacts import UNREADABLE
from benchmark.store.files import ensure_writable, sha256, write_error
from datasets import DataSplits, cache_dir
from datasets.errors import describe

log = logging.getLogger(__name__)

ENTRY_FILES = ("config.json", "init.pt", "trained.pt", "metrics.json")
HEADS_FILE = "heads.pt"  # the auxiliary heads of a DGL-trained model (``training = "dgl"``)
DIGESTS_FILE = "digests.json"  # the sha256 of every other file of the entry
LEASE_SECONDS = 60.0  # an entry lock whose holder stopped renewing it this long is taken over
CACHE_HINT = "point TICKETBENCH_CACHE at a writable directory"


class DamagedEntry(Exception):
    """A file of a cache entry is damaged or cannot be read; the message names it."""


@dataclass
class TrainedModel:
    """A dense trained model, its theta_0 and its metrics, as stored in the cache."""

    config: TrainConfig
    model: nn.Module
    init_state: State
    metrics: dict
    path: Path
    from_cache: bool
    heads: nn.ModuleList | None = None  # DGL's trained auxiliary heads, one per conv block but the last


def model_dir(config: TrainConfig, root: Path | None = None) -> Path:
    """Cache directory of the model trained with ``config``."""
    return (root or cache_dir()) / "models" / config.hash


def check_cache_writable(root: Path | None = None) -> Path:
    """The models folder of the cache, created if needed; a one-line :class:`~benchmark.store.WriteError` if it
    cannot be written."""
    return ensure_writable((root or cache_dir()) / "models", "the model cache", CACHE_HINT)


@contextmanager
def entry_lock(target: Path) -> Iterator[None]:
    """Hold the inter-process lock of the cache entry ``target`` (checking first that the cache is writable); the
    ``.lease`` suffix keeps it apart from the empty ``.lock`` files older versions left, which would block it."""
    locks = ensure_writable(target.parent / ".locks", "the model cache", CACHE_HINT)
    with SoftFileLease(locks / f"{target.name}.lease", lease_duration=LEASE_SECONDS):
        yield


def atomic_directory(target: Path, write) -> None:
    """Call ``write(tmp_dir)`` and rename the result to ``target``; if ``target`` appeared meanwhile, keep it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def entry_files(config: TrainConfig) -> tuple[str, ...]:
    """The files a complete entry of ``config`` holds: :data:`ENTRY_FILES`, and the heads of a DGL model."""
    return ENTRY_FILES + ((HEADS_FILE,) if config.training == "dgl" else ())


def is_complete(path: Path, config: TrainConfig | None = None) -> bool:
    """True when the model entry at ``path`` holds every file (:func:`entry_files` of ``config`` when given)."""
    return all((path / name).is_file() for name in (entry_files(config) if config else ENTRY_FILES))


def get_trained(config: TrainConfig, splits: DataSplits, root: Path | None = None,
                progress: bool = False, device: str = "cpu") -> TrainedModel:
    """Load the model for ``config`` from the cache, training and storing it first (on ``device``) if it is missing
    or damaged (named in one line on stderr).

    The device is not part of the cache key: a model trained on a GPU is found by a CPU run, and loads on the CPU.
    Concurrent callers with the same config train once: the others wait on the entry's lock, then load.
    """
    path = model_dir(config, root)
    if is_complete(path, config):
        with suppress(DamagedEntry):
            return load_entry(config, splits, path)
    with entry_lock(path):
        if is_complete(path, config):
            try:  # another process may have retrained it meanwhile
                return load_entry(config, splits, path)
            except DamagedEntry as damage:
                log.warning("%s; retraining", damage)
        shutil.rmtree(path, ignore_errors=True)  # a damaged entry, or one with files deleted by hand
        return _train_and_store(config, splits, path, progress, device)


def load_entry(config: TrainConfig, splits: DataSplits, path: Path) -> TrainedModel:
    """The complete cache entry at ``path``, each file checked against ``digests.json`` when the entry has one; a
    file that differs or cannot be read is a :class:`DamagedEntry` naming it."""
    listed = path / DIGESTS_FILE
    digests = _decode(listed, _read(listed), json.loads) if listed.is_file() else {}
    data = {name: _read(path / name, digests.get(name)) for name in entry_files(config)}
    model = fresh_model(config, splits)
    _decode(path / "trained.pt", data["trained.pt"], lambda raw: model.load_state_dict(_tensors(raw)))
    model.eval()
    init_state = _decode(path / "init.pt", data["init.pt"], _tensors)
    metrics = _decode(path / "metrics.json", data["metrics.json"], json.loads)
    heads = None
    if config.training == "dgl":
        heads = dgl_heads(config, model, splits.train.input_shape, splits.train.num_classes)
        _decode(path / HEADS_FILE, data[HEADS_FILE], lambda raw: heads.load_state_dict(_tensors(raw)))
        heads.eval()
    return TrainedModel(config, model, init_state, metrics, path, from_cache=True, heads=heads)


def _tensors(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def _read(path: Path, digest: str | None = None) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DamagedEntry(f"the cached model file {path} cannot be read ({describe(error)})") from None
    if digest is not None and sha256(data) != digest:
        raise DamagedEntry(f"the cached model file {path} is damaged (its sha256 differs from {DIGESTS_FILE})")
    return data


def _decode(path: Path, data: bytes, decode: Callable[[bytes], object]):
    try:
        return decode(data)
    except UNREADABLE as error:
        raise DamagedEntry(f"the cached model file {path} cannot be read ({describe(error)})") from None


def _serialised(name: str, value) -> bytes:
    if name.endswith(".json"):
        return json.dumps(value, indent=2).encode()
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _train_and_store(config: TrainConfig, splits: DataSplits, path: Path, progress: bool,
                     device: str) -> TrainedModel:
    train = fit_dgl if config.training == "dgl" else fit
    result = train(config, splits, progress=progress, device=device)
    metrics = {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy, "history": result.history}
    files = {"config.json": dataclasses.asdict(config), "init.pt": result.init_state,
             "trained.pt": result.model.state_dict(), "metrics.json": metrics}
    if result.heads is not None:
        files[HEADS_FILE] = result.heads.state_dict()
    data = {name: _serialised(name, value) for name, value in files.items()}
    data[DIGESTS_FILE] = _serialised(DIGESTS_FILE, {name: sha256(raw) for name, raw in data.items()})

    def write(tmp: Path) -> None:
        for name, raw in data.items():
            (tmp / name).write_bytes(raw)

    try:
        atomic_directory(path, write)
    except OSError as error:
        raise write_error("the model cache entry", path, error, CACHE_HINT) from None
    return TrainedModel(config, result.model, result.init_state, metrics, path, from_cache=False,
                        heads=result.heads)
