"""SQLite table of stage results, safe for many writer threads and processes at once.

The database runs in WAL mode, so readers never block the writer. Every write is one ``BEGIN IMMEDIATE``
transaction on a fresh connection; a writer waits for the lock (busy timeout) and, should SQLite still report
the database busy, retries with a growing random back-off. A crash therefore never leaves half a result.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

from benchmark.store import StoreError, check_hash

RESERVED_KEYS = ("hash", "stage", "status", "wall_seconds", "created")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS results (hash TEXT PRIMARY KEY, stage TEXT NOT NULL, created REAL NOT NULL, "
    "wall_seconds REAL, status TEXT NOT NULL, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS suite_members (suite TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (suite, hash))",
)
T = TypeVar("T")


def to_json(record: dict) -> str:
    """Serialise ``record``; numpy and torch scalars and arrays become plain numbers and lists."""

    def plain(value):
        if hasattr(value, "tolist"):
            return value.tolist()
        if isinstance(value, Path):
            return str(value)
        raise StoreError(f"record value {value!r} of type {type(value).__name__} is not JSON-serialisable")

    return json.dumps(record, sort_keys=True, default=plain)


def check_suite(name: str) -> str:
    """Return ``name`` if it can name a suite (a non-empty string), else raise :class:`StoreError`."""
    if not isinstance(name, str) or not name:
        raise StoreError(f"a suite name is a non-empty string, got {name!r}")
    return name


class ResultStore:
    """The table of stage results under ``root/results.sqlite`` (created on first use)."""

    def __init__(self, root: Path, busy_timeout: float = 60.0, attempts: int = 8):
        self.path = Path(root) / "results.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout = busy_timeout
        self.attempts = attempts
        self._write(lambda conn: [conn.execute(statement) for statement in SCHEMA])

    def put(self, hash: str, stage: str, record: dict, wall_seconds: float, status: str = "ok",
            suites: Iterable[str] = ()) -> None:
        """Store one stage result and its suite memberships in one transaction.

        Putting a hash again replaces its row (the latest result wins, so a retried failure is overwritten)
        and adds any new suites; it never duplicates a row.
        """
        check_hash(hash)
        clash = sorted(set(record) & set(RESERVED_KEYS))
        if clash:
            raise StoreError(f"record keys {', '.join(clash)} are reserved for the store's own columns")
        row = (hash, stage, time.time(), wall_seconds, status, to_json(record))
        members = [(check_suite(suite), hash) for suite in suites]

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)", row)
            conn.executemany("INSERT OR IGNORE INTO suite_members VALUES (?, ?)", members)

        self._write(insert)

    def get(self, hash: str) -> dict | None:
        """The stored row as ``{hash, stage, created, wall_seconds, status, record}``, or None if absent."""
        rows = self._read("SELECT * FROM results WHERE hash = ?", (check_hash(hash),))
        return rows[0] if rows else None

    def has(self, hash: str) -> bool:
        """Whether a result with this hash is stored (whatever its status)."""
        return bool(self._read("SELECT hash FROM results WHERE hash = ?", (check_hash(hash),), parse=False))

    def statuses(self) -> dict[str, str]:
        """The status of every stored result, by hash."""
        return {row["hash"]: row["status"] for row in self._read("SELECT hash, status FROM results", (), False)}

    def add_to_suite(self, suite: str, hashes: Iterable[str]) -> None:
        """Add stored results to ``suite``; an unknown hash is a :class:`StoreError` and adds nothing."""
        check_suite(suite)
        wanted = sorted({check_hash(h) for h in hashes})
        if not wanted:
            return

        def insert(conn: sqlite3.Connection) -> None:
            known = {h for (h,) in conn.execute(
                f"SELECT hash FROM results WHERE hash IN ({','.join('?' * len(wanted))})", wanted)}
            missing = [h for h in wanted if h not in known]
            if missing:
                raise StoreError(f"cannot add unknown results to suite {suite!r}: {', '.join(missing)}")
            conn.executemany("INSERT OR IGNORE INTO suite_members VALUES (?, ?)", [(suite, h) for h in wanted])

        self._write(insert)

    def hashes(self, suite: str | None = None) -> list[str]:
        """Sorted hashes of every stored result, or of those in ``suite``."""
        return sorted(row["hash"] for row in self._select("hash", suite, parse=False))

    def rows(self, suite: str | None = None) -> list[dict]:
        """Every stored row (as :meth:`get` returns it), or those in ``suite``, oldest first."""
        return self._select("*", suite, parse=True)

    def _select(self, columns: str, suite: str | None, parse: bool) -> list[dict]:
        if suite is None:
            return self._read(f"SELECT {columns} FROM results ORDER BY created, hash", (), parse)
        return self._read(f"SELECT {columns} FROM results JOIN suite_members USING (hash) WHERE suite = ? "
                          "ORDER BY created, hash", (suite,), parse)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def _read(self, sql: str, params: tuple | list, parse: bool = True) -> list[dict]:
        def query() -> list[dict]:
            with closing(self._connect()) as conn:
                rows = [dict(row) for row in conn.execute(sql, params)]
            for row in rows if parse else ():
                row["record"] = json.loads(row["record"])
            return rows

        return self._retry(query)

    def _write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        def transaction() -> T:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = change(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return result

        return self._retry(transaction)

    def _retry(self, operation: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as error:
                attempt += 1
                busy = "locked" in str(error) or "busy" in str(error)
                if not busy or attempt >= self.attempts:
                    raise StoreError(f"results database {self.path}: {error}") from error
                time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
