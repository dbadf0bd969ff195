"""``ticketbench list``: the registered models, datasets, methods or preset suites, one per line. Each kind loads
only its own registry; methods are read from their entry points without loading a plug-in."""

from __future__ import annotations

import argparse


def list_models() -> None:
    """Every model: name, parameter count and the first line of its builder's docstring."""
    from benchmark.nn.models import MODELS, count_parameters

    for name, builder in MODELS.items():
        print(f"{name:10s} {count_parameters(builder()):>10,d} params  {builder.__doc__.splitlines()[0]}")


def list_datasets() -> None:
    """Every dataset: name, class count and its torchvision class."""
    from datasets import DATASETS

    for name, spec in DATASETS.items():
        print(f"{name:14s} {spec.num_classes} classes  (torchvision {spec.torchvision_class.__name__})")


def list_methods() -> None:
    """Every method plug-in: name and description, read from its source (nothing is imported)."""
    from benchmark.core.plugins import method_entry_points, static_description

    for name, ep in method_entry_points().items():
        print(f"{name:10s} {static_description(ep)}")


def list_suites() -> None:
    """Every preset suite: name and description."""
    from benchmark.pipeline.suites import available_suites, load_suite

    suites = available_suites()
    width = max(map(len, suites), default=0)
    for name, path in suites.items():
        print(f"{name:{width}s} {load_suite(str(path)).description}")


LISTS = {"models": list_models, "datasets": list_datasets, "methods": list_methods, "suites": list_suites}


def list_things(args: argparse.Namespace) -> None:
    """``ticketbench list WHAT``."""
    LISTS[args.what]()
