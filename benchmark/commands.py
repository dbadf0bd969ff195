"""What each CLI sub-command does, on parsed arguments."""

from __future__ import annotations

import argparse

from benchmark.cache import get_trained
from benchmark.cli_args import given_fields
from benchmark.config import TrainConfig
from benchmark.models import MODELS, count_parameters
from datasets import DATASETS, load_splits


def load_for(config: TrainConfig, data_dir=None):
    """The data splits a training config asks for."""
    return load_splits(config.dataset, config.preprocessing, data_dir, config.val_fraction, config.seed,
                       train_limit=config.train_limit or None)


def train(args: argparse.Namespace) -> None:
    """``ticketbench train``: train or load the dense model, print its test accuracy and cache path."""
    fields = given_fields(args, TrainConfig)
    config = TrainConfig.paper(fields.pop("model", "lenet5"), fields.pop("dataset", "mnist"), **fields)
    trained = get_trained(config, load_for(config, args.data_dir), progress=True)
    source = "loaded from cache" if trained.from_cache else "trained"
    print(f"{config.model} on {config.dataset}: {source}, test accuracy {trained.metrics['test_accuracy']:.4f}")
    print(f"cache: {trained.path}")


def demo(args: argparse.Namespace) -> None:
    """``ticketbench demo``: LeNet-5 on MNIST, trained briefly, reported and cached."""
    config = TrainConfig.paper("lenet5", "mnist", epochs=args.epochs)
    splits = load_for(config, args.data_dir)
    trained = get_trained(config, splits, progress=True)
    source = "loaded from cache" if trained.from_cache else f"trained for {config.epochs} epoch(s)"
    print(f"LeNet-5 on MNIST ({len(splits.train)} train / {len(splits.val)} val / {len(splits.test)} test): {source}")
    print(f"dense test accuracy: {trained.metrics['test_accuracy']:.4f}   cache: {trained.path}")


def list_things(args: argparse.Namespace) -> None:
    """``ticketbench list``: the registered models, datasets or methods, one per line."""
    if args.what == "models":
        for name, builder in MODELS.items():
            print(f"{name:10s} {count_parameters(builder()):>10,d} params  {builder.__doc__.splitlines()[0]}")
    elif args.what == "datasets":
        for name, spec in DATASETS.items():
            print(f"{name:14s} {spec.num_classes} classes  (torchvision {spec.torchvision_class.__name__})")
