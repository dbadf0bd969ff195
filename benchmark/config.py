"""Typed, frozen configs with stable content hashes (OpenLTH's ``desc`` style).

A config's hash covers its class name, :data:`SCHEMA_VERSION` and only the fields whose values differ from
their defaults, so adding a field with a default keeps every existing hash (and cached result) valid
(``tests/test_config_and_cache.py`` pins a few hashes). Bump :data:`SCHEMA_VERSION` only to orphan every
cached result on purpose.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from benchmark.errors import ConfigError
from benchmark.models import MODELS
from benchmark.paper import training_defaults
from datasets import AUGMENTATIONS, PREPROCESSINGS, get_spec

SCHEMA_VERSION = 1
OPTIMISERS = ("rmsprop", "sgd", "adam")
TRAINING_SCHEMES = ("end-to-end", "dgl")


def setting(default, help: str, choices: tuple | None = None):
    """A dataclass field with ``default``, the help text the CLI shows for its flag (``metadata["help"]``) and,
    for a fixed set of values, its ``choices``."""
    metadata = {"help": help, **({"choices": tuple(choices)} if choices else {})}
    return dataclasses.field(default=default, metadata=metadata)


def _is_default(f: dataclasses.Field, value) -> bool:
    if f.default is not dataclasses.MISSING:
        return value == f.default
    if f.default_factory is not dataclasses.MISSING:
        return value == f.default_factory()
    return False


def canonical(value):
    """JSON-ready form of ``value``: a dataclass becomes its class name and its non-default fields, recursively;
    tuples become lists; dicts and scalars stay (``json.dumps(..., sort_keys=True)`` orders the keys)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                  if not _is_default(f, getattr(value, f.name))}
        return {"kind": type(value).__name__, "fields": fields}
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def config_hash(config) -> str:
    """Stable 16-hex-digit hash of a dataclass config: class name, schema version and non-default fields."""
    payload = json.dumps({"schema": SCHEMA_VERSION, "config": canonical(config)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a dense training run. Build it with :meth:`paper` for paper defaults."""

    model: str = setting("lenet5", f"architecture: {', '.join(MODELS)}")
    dataset: str = setting("mnist", "dataset name (see: ticketbench list datasets)")
    preprocessing: str = setting("paper", f"input preprocessing: {', '.join(PREPROCESSINGS)}")
    epochs: int = setting(2, "training epochs (the best epoch by validation loss is kept)")
    batch_size: int = setting(128, "images per mini-batch")
    optimizer: str = setting("rmsprop", f"optimiser: {', '.join(OPTIMISERS)}")
    lr: float = setting(1e-3, "learning rate")
    momentum: float = setting(0.0, "momentum (SGD and RMSprop)")
    weight_decay: float = setting(0.0, "L2 weight decay")
    nesterov: bool = setting(False, "Nesterov momentum (SGD only)")
    val_fraction: float = setting(0.2, "fraction of the official training set held out for validation, in (0, 1)")
    seed: int = setting(0, "seed of the initialisation, the train/validation split and the batch order")
    train_limit: int = setting(0, "use only this many training images (train + validation); 0 means all")
    width_divisor: int = setting(1, "VGG-16 only: divide every channel count by this (reduced VGG for tests)")
    augment: str = setting("none", "training-set augmentation: 'none', or 'crop-flip' (RandomCrop(32, padding=4) "
                                   "and a horizontal flip, batched on the device; the paper's CIFAR-10 pipeline)",
                           AUGMENTATIONS)
    training: str = setting("end-to-end", "'end-to-end' backpropagation, or 'dgl' (decoupled greedy learning: "
                                          "every conv block trained by its own auxiliary head; the paper's VGG-16)",
                            TRAINING_SCHEMES)

    def __post_init__(self):
        if self.optimizer not in OPTIMISERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of: {', '.join(OPTIMISERS)}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("epochs must be >= 0, batch_size >= 1 and lr > 0")
        for value, allowed, name in ((self.augment, AUGMENTATIONS, "augment"),
                                     (self.training, TRAINING_SCHEMES, "training")):
            if value not in allowed:
                raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")

    @classmethod
    def paper(cls, model: str, dataset: str, **overrides) -> TrainConfig:
        """The paper's settings for ``model`` on ``dataset`` (:func:`benchmark.paper.training_defaults`: optimiser,
        augmentation, DGL for VGG-16), then ``overrides``.

        An unknown dataset, or one without paper defaults, is a one-line error."""
        get_spec(dataset)
        return cls(model=model, dataset=dataset, **{**training_defaults(model, dataset), **overrides})

    @property
    def hash(self) -> str:
        """Content hash naming this run's cache directory."""
        return config_hash(self)
