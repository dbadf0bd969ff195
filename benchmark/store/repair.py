"""``ticketbench store check`` and ``store repair``: what is damaged in a store, and making it whole again.

A check reads every row and checks every recorded artifact against the sha256 stored with its row. A repair
drops the rows that are damaged (a record that is not JSON, an artifact that differs from its digest or is
missing, which is deleted), so that the next run recomputes them; a SQLite file that is itself damaged is first
salvaged: every row SQLite can still read is copied into a fresh file, and the damaged one is kept beside it as a
backup, so nothing readable is lost. Stop any run on the store before repairing it.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from benchmark.store import HASH_PATTERN, DamagedArtifact, DamagedStore, StoreError
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.db import TABLES, ResultStore

SKIP_LIMIT = 100_000  # rowids looked up past a damaged part when the largest rowid cannot be read


def open_store(root: Path) -> ResultStore:
    """The store at ``root``; a :class:`StoreError` if there is none (a check never creates one)."""
    if not (Path(root) / "results.sqlite").is_file():
        raise StoreError(f"no results store at {root} (expected {Path(root) / 'results.sqlite'})")
    return ResultStore(root)


def database_damage(root: Path) -> list[str]:
    """What is wrong with the SQLite file itself, one line each (none if it is sound)."""
    try:
        store = open_store(root)
        found = [f"the results database {store.path} is damaged: {message}" for message in store.integrity()]
        store.rows(parse=False)
    except DamagedStore as error:
        return [str(error)]
    return found


def damaged_rows(store: ResultStore) -> tuple[dict[str, str], list[DamagedArtifact]]:
    """The rows whose record is not JSON or whose artifacts differ from their digests (by hash: why, in a line),
    and those artifacts."""
    rows, found, files = store.rows(parse=False), {}, []
    for row in rows:
        try:
            json.loads(row["record"])
        except ValueError:
            found[row["hash"]] = f"row {row['hash']} ({row['stage']}): its record is not JSON"
    artifacts, stages = ArtifactDir(store.root), {row["hash"]: row["stage"] for row in rows}
    for (owner, name), entry in store.digests().items():
        if entry["stage"] in stages:
            try:
                artifacts.check(owner, name, entry["sha256"])
            except DamagedArtifact as error:
                files.append(error)
                found.setdefault(entry["stage"], f"{error}: row {entry['stage']} ({stages[entry['stage']]})")
    return found, files


def check_store(root: Path) -> list[str]:
    """Everything damaged in the store at ``root``, one line each (none if nothing is)."""
    return database_damage(root) or list(damaged_rows(open_store(root))[0].values())


def repair_store(root: Path) -> list[str]:
    """Salvage a damaged SQLite file, then drop every damaged row (and delete its damaged artifacts) so that the
    next run recomputes it; returns what was done, one line each."""
    done = salvage(Path(root)) if database_damage(root) else []
    store = open_store(root)
    damaged, files = damaged_rows(store)
    for error in files:
        ArtifactDir(store.root).remove(error.owner, error.name)
    store.drop(damaged)
    return done + [f"dropped row {h}: {why}; the next run recomputes it" for h, why in damaged.items()]


def salvage(root: Path) -> list[str]:
    """Copy every readable row of the damaged ``root/results.sqlite`` into a fresh file put in its place, and keep
    the damaged file (with its WAL) as ``results.sqlite.damaged-<time>``."""
    database = root / "results.sqlite"
    backup = root / f"results.sqlite.damaged-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}"
    work = Path(tempfile.mkdtemp(prefix=".salvage-", dir=root))
    try:
        copy = work / "damaged.sqlite"
        for suffix in ("", "-wal"):  # read a copy: opening the damaged file could checkpoint into it
            if Path(f"{database}{suffix}").is_file():
                shutil.copyfile(f"{database}{suffix}", f"{copy}{suffix}")
        rows = readable(copy)
        fresh = ResultStore(work)
        fresh.restore(rows)
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{database}{suffix}").is_file():
                os.replace(f"{database}{suffix}", f"{backup}{suffix}")
        os.replace(fresh.path, database)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = ", ".join(f"{len(found)} {table}" for table, found in rows.items())
    return [f"salvaged the readable rows of the damaged {database} into a fresh one ({counts}); the damaged file "
            f"is kept as the backup {backup}"]


def readable(path: Path) -> dict[str, list[tuple]]:
    """Every row of each table of the SQLite file ``path`` that can still be read and is well formed."""
    with closing(sqlite3.connect(path)) as conn:
        try:
            present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            present = set()
        return {table: [row for row in table_rows(conn, table) if well_formed(table, row)] if table in present
                else [] for table in TABLES}


def table_rows(conn: sqlite3.Connection, table: str) -> list[tuple]:
    """The rows of ``table`` SQLite can read, in rowid order: a scan, and past each damaged part a lookup rowid by
    rowid up to the next readable row (a scan reads one row ahead, so the row before the damage is looked up
    too), up to the largest rowid or, when that cannot be read, :data:`SKIP_LIMIT` rowids past the last row."""
    try:
        top = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = None
    rows, after = [], 0
    while True:
        try:
            for rowid, *row in conn.execute(f"SELECT rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid", (after,)):
                rows.append(tuple(row))
                after = rowid
            return rows
        except sqlite3.DatabaseError:
            after = next_readable(conn, table, after, top if top is not None else after + SKIP_LIMIT, rows)
            if after is None:
                return rows


def next_readable(conn: sqlite3.Connection, table: str, after: int, last: int, rows: list) -> int | None:
    """Look rows up one rowid at a time from ``after + 1`` to ``last``; append the first readable one to ``rows``
    and return its rowid (None if there is none)."""
    for rowid in range(after + 1, last + 1):
        try:
            row = conn.execute(f"SELECT * FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            rows.append(tuple(row))
            return rowid
    return None


def well_formed(table: str, row: tuple) -> bool:
    """Whether a salvaged row has the shape its table gives it (a damaged page can yield garbage that reads)."""
    def is_hash(value) -> bool:
        return isinstance(value, str) and bool(HASH_PATTERN.fullmatch(value))

    if table == "results":
        if len(row) != 6 or not is_hash(row[0]) or not all(isinstance(v, str) for v in (row[1], row[4], row[5])):
            return False
        try:
            json.loads(row[5])
        except ValueError:
            return False
        return isinstance(row[2], float | int)
    if table == "suite_members":
        return len(row) == 2 and isinstance(row[0], str) and bool(row[0]) and is_hash(row[1])
    return len(row) == 4 and is_hash(row[0]) and isinstance(row[1], str) and is_hash(row[3]) and isinstance(
        row[2], str) and len(row[2]) == 64
