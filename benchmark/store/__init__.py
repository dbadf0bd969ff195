"""The results store: one SQLite row per stage result, plus an artifact directory, both keyed by the stage hash.

Layout under a store root::

    root/results.sqlite                 one row per stage result (``db.ResultStore``)
    root/artifacts/<hash>/<name>        tensors, MIP instances, JSON (``artifacts.ArtifactDir``)

``frame.load_results(root)`` turns the whole store into one pandas DataFrame, and every table and plot
(``benchmark.report``) is made from that frame alone. ``export.export_results`` writes it as CSV, Parquet,
JSON or Markdown.

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

HASH_PATTERN = re.compile(r"[0-9a-f]{16}")


class StoreError(Exception):
    """A store or export problem, reported to the user as one line."""


def check_hash(value: str) -> str:
    """Return ``value`` if it is a 16-hex-digit stage hash, else raise :class:`StoreError`."""
    if not isinstance(value, str) or not HASH_PATTERN.fullmatch(value):
        raise StoreError(f"a stage hash is 16 lowercase hex digits, got {value!r}")
    return value
