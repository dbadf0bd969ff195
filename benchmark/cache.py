"""Trained models stored under the hash of their full config; a second request loads instead of training.

Layout: ``<cache>/models/<hash>/{config.json, init.pt, trained.pt, metrics.json}``. A directory is written
under a temporary name and renamed into place, so a crash never leaves half an entry behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from benchmark.config import TrainConfig
from benchmark.training import State, fit, fresh_model
from datasets import DataSplits, cache_dir


@dataclass
class TrainedModel:
    """A dense trained model, its theta_0 and its metrics, as stored in the cache."""

    config: TrainConfig
    model: nn.Module
    init_state: State
    metrics: dict
    path: Path
    from_cache: bool


def model_dir(config: TrainConfig, root: Path | None = None) -> Path:
    """Cache directory of the model trained with ``config``."""
    return (root or cache_dir()) / "models" / config.hash


def atomic_directory(target: Path, write) -> None:
    """Call ``write(tmp_dir)`` and rename the result to ``target`` (first writer wins)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        os.replace(tmp, target) if not target.exists() else shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def get_trained(config: TrainConfig, splits: DataSplits, root: Path | None = None,
                progress: bool = False) -> TrainedModel:
    """Load the model for ``config`` from the cache, training and storing it first if it is missing."""
    path = model_dir(config, root)
    if not (path / "trained.pt").exists():
        result = fit(config, splits, progress=progress)
        metrics = {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy, "history": result.history}

        def write(tmp: Path) -> None:
            (tmp / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
            torch.save(result.init_state, tmp / "init.pt")
            torch.save(result.model.state_dict(), tmp / "trained.pt")
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))

        atomic_directory(path, write)
        return TrainedModel(config, result.model, result.init_state, metrics, path, from_cache=False)
    model = fresh_model(config, splits)
    model.load_state_dict(torch.load(path / "trained.pt", weights_only=True))
    model.eval()
    init_state = torch.load(path / "init.pt", weights_only=True)
    metrics = json.loads((path / "metrics.json").read_text())
    return TrainedModel(config, model, init_state, metrics, path, from_cache=True)
