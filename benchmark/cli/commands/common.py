"""What several commands read from their arguments: the results store and ``KEY=VALUE`` pairs."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.core.errors import ConfigError
from benchmark.store import default_root


def store_root(args: argparse.Namespace) -> Path:
    """The results store: ``--store``, else ``<cache>/store``."""
    return Path(args.store) if getattr(args, "store", None) else default_root()


def parse_pairs(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings to a dict of strings (the options' types parse them)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"option {pair!r} is not KEY=VALUE")
        out[key] = value
    return out
