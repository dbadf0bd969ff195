"""Typed, frozen configs with stable content hashes (OpenLTH style).

A config's hash covers every field that changes the result and nothing else; a new field must default to a
value that keeps old hashes valid (``tests/test_config.py`` pins a few hashes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from benchmark.errors import ConfigError

PAPER_OPTIMISERS = {
    # RMSprop lr 1e-3 for the grayscale digit sets, SGD + Nesterov for CIFAR-10 (paper-notes 3.3).
    "mnist": dict(optimizer="rmsprop", lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False),
    "fashion-mnist": dict(optimizer="rmsprop", lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False),
    "kmnist": dict(optimizer="rmsprop", lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False),
    "cifar10": dict(optimizer="sgd", lr=1e-2, momentum=0.9, weight_decay=5e-4, nesterov=True),
}
OPTIMISERS = ("rmsprop", "sgd", "adam")


def config_hash(config) -> str:
    """Stable 16-hex-digit hash of a dataclass config, including its class name."""
    payload = json.dumps({"kind": type(config).__name__, **dataclasses.asdict(config)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a dense training run. Build it with :meth:`paper` for paper defaults."""

    model: str = "lenet5"
    dataset: str = "mnist"
    preprocessing: str = "paper"
    epochs: int = 2
    batch_size: int = 128
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    val_fraction: float = 0.2
    seed: int = 0
    train_limit: int = 0  # 0 means the whole training set; otherwise a small real slice
    width_divisor: int = 1  # VGG only: shrink channel counts (reduced VGG for tests)

    def __post_init__(self):
        if self.optimizer not in OPTIMISERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of: {', '.join(OPTIMISERS)}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("epochs must be >= 0, batch_size >= 1 and lr > 0")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")

    @classmethod
    def paper(cls, model: str, dataset: str, **overrides) -> TrainConfig:
        """The paper's optimiser for ``dataset`` (RMSprop or SGD-Nesterov), then ``overrides``."""
        return cls(model=model, dataset=dataset, **{**PAPER_OPTIMISERS.get(dataset, {}), **overrides})

    @property
    def hash(self) -> str:
        """Content hash naming this run's cache directory."""
        return config_hash(self)
