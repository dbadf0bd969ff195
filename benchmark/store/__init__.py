"""The results store: one SQLite row per stage result, plus an artifact directory, both keyed by the stage hash.

Layout under a store root::

    root/results.sqlite                 one row per stage result (``db.ResultStore``), and the sha256 of every
                                        artifact, stored with the row that made it
    root/artifacts/<hash>/<name>        tensors, MIP instances, JSON (``artifacts.ArtifactDir``)

``frame.load_results(root)`` turns the whole store into one pandas DataFrame (``load_results()``: the default
store, ``<cache>/store``), and every table and plot (``benchmark.report``) is made from that frame alone.
``export.export_results`` writes it as CSV, Parquet, JSON or Markdown. ``repair`` checks a store against its
digests and repairs it; ``files`` writes files whole or not at all.

The record stored with a result is a JSON object laid out as follows:

* config fields (``model``, ``dataset``, ``seed``, ``method``, ``point``, ...) and metrics at the top level,
  flattened, so they become plain columns (``benchmark.report`` documents the ones it reads);
* groups may nest: solver statistics under ``solver``, the run manifest (``manifest.manifest()``) under
  ``manifest``; they become dotted columns such as ``solver.nodes`` and ``manifest.git_sha``;
* the store's own column names (``hash``, ``stage``, ``status``, ``wall_seconds``, ``created``) are reserved
  and may not be record keys.

Import the modules directly (``from benchmark.store.db import ResultStore``): ``db`` needs only the standard
library, so writer processes start fast.
"""

import re
from pathlib import Path

HASH_PATTERN = re.compile(r"[0-9a-f]{16}")


class StoreError(Exception):
    """A store or export problem, reported to the user as one line."""


class WriteError(StoreError):
    """A place ticketbench writes (the store, the model cache, a report, an export) cannot be written: no space
    left, a read-only file system, no permission, or a regular file where a directory should be. One line; a run
    stops at once, since every later stage would fail alike."""


class DamagedStore(StoreError):
    """The SQLite file of a store is damaged; the message names the command that repairs it."""


class DamagedArtifact(StoreError):
    """An artifact differs from the digest stored with its row, or cannot be read; names the file, its owner
    (the result hash it is stored under) and its name."""

    def __init__(self, message: str, owner: str, name: str):
        super().__init__(message, owner, name)
        self.owner, self.name = owner, name

    def __str__(self) -> str:
        return self.args[0]


def default_root() -> Path:
    """The store ``ticketbench`` writes to unless given ``--store``: ``<cache>/store`` (``$TICKETBENCH_CACHE``
    moves the cache)."""
    from datasets.root import cache_dir  # imports torch: only when asked for

    return cache_dir() / "store"


def check_hash(value: str) -> str:
    """Return ``value`` if it is a 16-hex-digit stage hash, else raise :class:`StoreError`."""
    if not isinstance(value, str) or not HASH_PATTERN.fullmatch(value):
        raise StoreError(f"a stage hash is 16 lowercase hex digits, got {value!r}")
    return value
