"""Where the data lives: ``--data-dir``, then ``TICKETBENCH_DATA``, then the per-user cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_ENV = "TICKETBENCH_DATA"
CACHE_ENV = "TICKETBENCH_CACHE"


def cache_dir() -> Path:
    """Per-user cache directory of ticketbench (``TICKETBENCH_CACHE`` overrides it)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("ticketbench"))


def resolve_data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the data root: the explicit directory, else ``$TICKETBENCH_DATA``, else ``<cache>/data``."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return cache_dir() / "data"
