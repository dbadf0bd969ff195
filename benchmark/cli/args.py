"""Turn frozen dataclass configs into argparse options and back (OpenLTH's hparams pattern).

Flag types come from the fields' type hints (``float | None`` parses as a float), help texts from
``metadata["help"]`` and choices from ``metadata["choices"]``.
"""

from __future__ import annotations

import argparse
import dataclasses

from benchmark.core.options import field_types


def add_config_arguments(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = (),
                         title: str | None = None) -> None:
    """Add one ``--field-name`` option per dataclass field; every default is None (meaning: not given)."""
    group = parser.add_argument_group(title or cls.__name__)
    kinds = field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        text = f"{f.metadata.get('help', '')} (default: {f.default!r})".strip()
        if kinds[f.name] is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            choices = f.metadata.get("choices")
            group.add_argument(flag, dest=f.name, type=kinds[f.name], default=None, help=text, choices=choices,
                               metavar=None if choices else kinds[f.name].__name__.upper())


def given_fields(args: argparse.Namespace, cls) -> dict:
    """The dataclass fields the user actually set on the command line."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}
