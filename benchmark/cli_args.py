"""Turn frozen dataclass configs into argparse options and back (OpenLTH's hparams pattern)."""

from __future__ import annotations

import argparse
import dataclasses


def add_config_arguments(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--field-name`` option per dataclass field; every default is None (meaning: not given)."""
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            group.add_argument(flag, dest=f.name, type=kind, default=None, help=f"default: {f.default!r}")


def given_fields(args: argparse.Namespace, cls) -> dict:
    """The dataclass fields the user actually set on the command line."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}
