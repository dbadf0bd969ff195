"""What every stage function works in and with: its environment (:class:`StageEnv`), what the driver read of the
store for it (:class:`StageInputs`), and the data and dense models it loads, kept in memory between the stages a
worker runs. :mod:`~benchmark.pipeline.stages` builds on this module, and a method's own stages (the decoupled
MIP's, :mod:`benchmark.mip.stages`) get its :class:`StageEnv` and :class:`StageInputs` without importing it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.config import TrainConfig
from benchmark.pipeline import experiment
from benchmark.pipeline.model_cache import get_trained
from benchmark.store.artifacts import MemoryArtifacts


@dataclass(frozen=True)
class StageEnv:
    """Where the driver keeps the store (workers never touch it), where a worker finds data, which suite it runs
    for, its torch threads (its share of the cores, :func:`benchmark.nn.threads.threads_per_worker`; 0: the worker's
    share of its own host's cores, :func:`benchmark.pipeline.executors.host_slots`) and the device it trains on
    (``auto``, ``cpu`` or ``cuda``; resolved in the worker)."""

    store_root: Path
    suite: str
    data_dir: str | None = None
    threads: int = 1
    device: str = "cpu"

    def data(self, config: TrainConfig):
        """The data splits of ``config``'s dataset (:func:`load_data`)."""
        return load_data(config, self.data_dir)

    def trained(self, config: TrainConfig):
        """The dense model of ``config`` on this stage's device (:func:`load_trained`)."""
        return load_trained(config, self.data_dir, self.device)


@dataclass
class StageInputs:
    """What a stage reads of the store, gathered by the driver: the stored records of the stages it needs, by
    hash, and a view of their artifacts (and of a prune's shared scores) that also collects what it saves."""

    records: dict[str, dict] = field(default_factory=dict)
    artifacts: MemoryArtifacts = field(default_factory=MemoryArtifacts)


@functools.lru_cache(maxsize=4)
def load_data(config: TrainConfig, data_dir: str | None):
    """The data splits of ``config``'s dataset (kept for the next stages of this worker)."""
    return experiment.load_data(config, data_dir)


@functools.lru_cache(maxsize=2)
def load_trained(config: TrainConfig, data_dir: str | None, device: str = "cpu"):
    """The dense model from the cache, trained on ``device`` if missing (the device is not part of its key)."""
    return get_trained(config, load_data(config, data_dir), device=device)


@functools.lru_cache(maxsize=2)
def load_experiment(config: TrainConfig, data_dir: str | None, batch_size: int, device: str) -> experiment.Experiment:
    """The trained model, its data and its MIP batch of ``batch_size`` images (picked one per class)."""
    return experiment.with_batch(config, load_data(config, data_dir), load_trained(config, data_dir, device),
                                 batch_size)


def clear_caches() -> None:
    """Forget the data and models kept in memory, so that the next stage loads them as a fresh worker would."""
    for cached in (load_data, load_trained, load_experiment):
        cached.cache_clear()
