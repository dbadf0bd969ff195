"""Trained models stored under the hash of their config; a second request loads instead of training.

Layout: ``<cache>/models/<hash>/{config.json, init.pt, trained.pt, metrics.json}``, plus ``heads.pt`` (the
auxiliary heads, CPU tensors) for a DGL-trained model (``training = "dgl"``). An entry is built under
an inter-process lock (``<cache>/models/.locks/<hash>.lease``): a second process asking for the same config
waits for the first and then loads its result. The lock is a lease (filelock's ``SoftFileLease``), a marker
file created exclusively and renewed by its holder, so it works on shared file systems (NFS, Lustre) where
``flock`` locks are unreliable or missing; a holder that died is taken over at once on its own host and after
:data:`LEASE_SECONDS` from any other. Within one run the plan gives each config hash one train stage, before
every stage that needs the model, so the lock only matters between concurrent runs (or workers sharing a
cache); should a lease ever be taken from a live holder, both train and the first complete entry stays. The
directory is written under a temporary name and renamed into place, so a crash never leaves half an entry
behind. The cache directory is checked for writability before any training, so an unwritable cache costs no
training time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import SoftFileLease
from torch import nn

from benchmark.config import TrainConfig
from benchmark.dgl import dgl_heads, fit_dgl
from benchmark.errors import TicketbenchError
from benchmark.training import State, fit, fresh_model
from datasets import DataSplits, cache_dir
from datasets.errors import describe

ENTRY_FILES = ("config.json", "init.pt", "trained.pt", "metrics.json")
HEADS_FILE = "heads.pt"  # the auxiliary heads of a DGL-trained model (``training = "dgl"``)
LEASE_SECONDS = 60.0  # an entry lock whose holder stopped renewing it this long is taken over


class CacheError(TicketbenchError):
    """The cache directory cannot be created or written."""


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


def ensure_writable(directory: Path) -> None:
    """Create ``directory`` if needed, or raise a one-line :class:`CacheError` if it cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create the cache directory {directory} ({describe(exc)}); "
                         f"point TICKETBENCH_CACHE at a writable directory") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CacheError(f"the cache directory {directory} is not writable; "
                         f"point TICKETBENCH_CACHE at a writable directory")


@contextmanager
def entry_lock(target: Path) -> Iterator[None]:
    """Hold the inter-process lock of the cache entry ``target`` (checking first that the cache is writable); the
    ``.lease`` suffix keeps it apart from the empty ``.lock`` files older versions left, which would block it."""
    locks = target.parent / ".locks"
    ensure_writable(locks)
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
    """Load the model for ``config`` from the cache, training and storing it first (on ``device``) if it is missing.

    The device is not part of the cache key: a model trained on a GPU is found by a CPU run, and loads on the CPU.
    Concurrent callers with the same config train once: the others wait on the entry's lock, then load.
    """
    path = model_dir(config, root)
    if not is_complete(path, config):
        with entry_lock(path):
            if not is_complete(path, config):
                shutil.rmtree(path, ignore_errors=True)  # a damaged entry (files deleted by hand)
                return _train_and_store(config, splits, path, progress, device)
    model = fresh_model(config, splits)
    model.load_state_dict(torch.load(path / "trained.pt", weights_only=True))
    model.eval()
    init_state = torch.load(path / "init.pt", weights_only=True)
    metrics = json.loads((path / "metrics.json").read_text())
    heads = None
    if config.training == "dgl":
        heads = dgl_heads(config, model, splits.train.input_shape, splits.train.num_classes)
        heads.load_state_dict(torch.load(path / HEADS_FILE, weights_only=True))
        heads.eval()
    return TrainedModel(config, model, init_state, metrics, path, from_cache=True, heads=heads)


def _train_and_store(config: TrainConfig, splits: DataSplits, path: Path, progress: bool,
                     device: str) -> TrainedModel:
    train = fit_dgl if config.training == "dgl" else fit
    result = train(config, splits, progress=progress, device=device)
    metrics = {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy, "history": result.history}

    def write(tmp: Path) -> None:
        (tmp / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
        torch.save(result.init_state, tmp / "init.pt")
        torch.save(result.model.state_dict(), tmp / "trained.pt")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if result.heads is not None:
            torch.save(result.heads.state_dict(), tmp / HEADS_FILE)

    atomic_directory(path, write)
    return TrainedModel(config, result.model, result.init_state, metrics, path, from_cache=False,
                        heads=result.heads)
