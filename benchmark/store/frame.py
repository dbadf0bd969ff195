"""The whole store as one pandas DataFrame, the single input of every table and plot (ShrinkBench's idea)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.store import StoreError, default_root
from benchmark.store.db import RESERVED_KEYS, ResultStore


def load_results(root: Path | None = None, suite: str | None = None) -> pd.DataFrame:
    """One row per stored result (oldest first), or per result of ``suite``, of the store at ``root`` (default:
    the one ``ticketbench run`` writes to, :func:`~benchmark.store.default_root`).

    Columns: ``hash``, ``stage``, ``status``, ``wall_seconds``, ``created`` (seconds since the epoch), then the
    record flattened by ``pandas.json_normalize`` with nested keys joined by ``.`` (``manifest.git_sha``).
    A key missing from some records is NaN in their rows. A root without a store is a :class:`StoreError`.
    """
    root = default_root() if root is None else Path(root)
    if not (root / "results.sqlite").is_file():
        raise StoreError(f"no results store at {root} (expected {root / 'results.sqlite'})")
    rows = ResultStore(root).rows(suite)
    records = pd.json_normalize([row["record"] for row in rows], sep=".")
    store_columns = pd.DataFrame([{key: row[key] for key in RESERVED_KEYS} for row in rows],
                                 columns=list(RESERVED_KEYS))
    return pd.concat([store_columns, records], axis=1)
