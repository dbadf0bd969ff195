"""Typed, frozen configs with stable content hashes (OpenLTH's ``desc`` style).

A config's hash covers its class name, :data:`SCHEMA_VERSION` and only the fields whose values differ from
their defaults, so adding a field with a default keeps every existing hash (and cached result) valid
(``tests/pipeline/test_config_and_cache.py`` pins a few hashes). Bump :data:`SCHEMA_VERSION` only to orphan every
cached result on purpose.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from benchmark.core.options import FieldError, check, setting
from benchmark.core.paper import training_defaults

SCHEMA_VERSION = 1
# the names of benchmark.nn.models.MODELS, datasets.AUGMENTATIONS and datasets.PREPROCESSINGS, here so that the schema
# loads no torch (tests/pipeline/test_validation.py checks that they agree)
MODEL_NAMES = ("fc3", "fc4", "lenet5", "vgg16")
AUGMENTATIONS = ("none", "crop-flip")
PREPROCESSINGS = ("paper", "native")
OPTIMISERS = ("rmsprop", "sgd", "adam")
TRAINING_SCHEMES = ("end-to-end", "dgl")


def _is_default(f: dataclasses.Field, value) -> bool:
    if f.default is not dataclasses.MISSING:
        return value == f.default
    if f.default_factory is not dataclasses.MISSING:
        return value == f.default_factory()
    return False


def canonical(value):
    """JSON-ready form of ``value``: a dataclass becomes its class name (or the name it declares in ``HASHED_AS``,
    kept from before a rename) and its non-default fields, recursively;
    tuples become lists; dicts and scalars stay (``json.dumps(..., sort_keys=True)`` orders the keys)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                  if not _is_default(f, getattr(value, f.name))}
        return {"kind": getattr(type(value), "HASHED_AS", type(value).__name__), "fields": fields}
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

    model: str = setting("lenet5", "architecture", MODEL_NAMES)
    dataset: str = setting("mnist", "dataset name (see: ticketbench list datasets)")
    preprocessing: str = setting("paper", "input preprocessing", PREPROCESSINGS)
    epochs: int = setting(2, "training epochs (the best epoch by validation loss is kept)", minimum=1)
    batch_size: int = setting(128, "images per mini-batch", minimum=1)
    optimizer: str = setting("rmsprop", "optimiser", OPTIMISERS)
    lr: float = setting(1e-3, "learning rate", above=0)
    momentum: float = setting(0.0, "momentum (SGD and RMSprop)", minimum=0)
    weight_decay: float = setting(0.0, "L2 weight decay", minimum=0)
    nesterov: bool = setting(False, "Nesterov momentum (SGD only)")
    val_fraction: float = setting(0.2, "fraction of the official training set held out for validation, in (0, 1)",
                                  above=0, below=1)
    seed: int = setting(0, "seed of the initialisation, the train/validation split and the batch order")
    train_limit: int = setting(0, "use only this many training images (train + validation); 0 means all; both "
                                  "splits must keep an image per class", minimum=0)
    width_divisor: int = setting(1, "VGG-16 only: divide every channel count by this (reduced VGG for tests)",
                                 minimum=1)
    augment: str = setting("none", "training-set augmentation: 'none', or 'crop-flip' (RandomCrop(32, padding=4) "
                                   "and a horizontal flip, batched on the device; the paper's CIFAR-10 pipeline)",
                           AUGMENTATIONS)
    training: str = setting("end-to-end", "'end-to-end' backpropagation, or 'dgl' (decoupled greedy learning: "
                                          "every conv block trained by its own auxiliary head; the paper's VGG-16)",
                            TRAINING_SCHEMES)

    def __post_init__(self):
        from datasets import get_spec, split_sizes

        check(self)
        if self.width_divisor != 1 and self.model != "vgg16":
            raise FieldError("width_divisor", f"must be 1 for {self.model} (it divides VGG-16's channels only), "
                                              f"got {self.width_divisor}")
        classes = get_spec(self.dataset).num_classes
        n_train, n_val = split_sizes(self.train_limit, self.val_fraction)
        if self.train_limit and min(n_train, n_val) < classes:
            raise FieldError("train_limit", f"must leave an image per class ({classes}) in both the training and "
                                            f"the validation split, got {self.train_limit} ({n_train} training and "
                                            f"{n_val} validation images at val_fraction {self.val_fraction:g})")

    @property
    def split_images(self) -> tuple[int, int]:
        """(training, validation) images of this config on the dataset's official training set."""
        from datasets import get_spec, split_sizes

        return split_sizes(get_spec(self.dataset).train_images, self.val_fraction, self.train_limit)

    @classmethod
    def paper(cls, model: str, dataset: str, **overrides) -> TrainConfig:
        """The paper's settings for ``model`` on ``dataset`` (:func:`benchmark.core.paper.training_defaults`: optimiser,
        augmentation, DGL for VGG-16), then ``overrides``.

        An unknown dataset, or one without paper defaults, is a one-line error."""
        from datasets import get_spec

        get_spec(dataset)
        return cls(model=model, dataset=dataset, **{**training_defaults(model, dataset), **overrides})

    @property
    def hash(self) -> str:
        """Content hash naming this run's cache directory."""
        return config_hash(self)
