"""SQLite table of stage results, safe for many writer threads and processes at once.

The database runs in WAL mode, so readers never block the writer. Every write is one ``BEGIN IMMEDIATE``
transaction on a fresh connection; a writer waits for the lock (busy timeout) and, should SQLite still report
the database busy, retries with a growing random back-off. A crash therefore never leaves half a result, and a
full disk rolls the transaction back. Each row carries the sha256 of every artifact its stage stored (table
``artifacts``; rows stored before digests were kept have none, and are read unchecked). Table ``claims`` holds
the stages that live runs are computing (:mod:`benchmark.store.claims`); a store from before either table gets it
at its first write, and reading never writes. A full disk or a read-only store is a
:class:`~benchmark.store.WriteError`, a damaged file a :class:`~benchmark.store.DamagedStore` naming the command
that repairs it, each one line.
"""

from __future__ import annotations

import errno
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

from benchmark.store import DamagedStore, StoreError, check_hash
from benchmark.store.files import write_error

RESERVED_KEYS = ("hash", "stage", "status", "wall_seconds", "created")
SCHEMA = {
    "results": "CREATE TABLE IF NOT EXISTS results (hash TEXT PRIMARY KEY, stage TEXT NOT NULL, "
               "created REAL NOT NULL, wall_seconds REAL, status TEXT NOT NULL, record TEXT NOT NULL)",
    "suite_members": "CREATE TABLE IF NOT EXISTS suite_members (suite TEXT NOT NULL, hash TEXT NOT NULL, "
                     "PRIMARY KEY (suite, hash))",
    "artifacts": "CREATE TABLE IF NOT EXISTS artifacts (owner TEXT NOT NULL, name TEXT NOT NULL, "
                 "sha256 TEXT NOT NULL, stage TEXT NOT NULL, PRIMARY KEY (owner, name))",
    "claims": "CREATE TABLE IF NOT EXISTS claims (hash TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, "
              "pid INTEGER NOT NULL, heartbeat REAL NOT NULL)",
}
TABLES = ("results", "suite_members", "artifacts")  # what a repair salvages; claims are only a live run's
STORE_HINT = "give --store a writable directory"
DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)  # SQLite's codes for a damaged file
T = TypeVar("T")
Digests = dict[tuple[str, str], str]  # artifact sha256 by (owner hash, name)


def to_json(record: dict) -> str:
    """Serialise ``record``; numpy and torch scalars and arrays become plain numbers and lists."""

    def plain(value):
        if hasattr(value, "tolist"):
            return value.tolist()
        if isinstance(value, Path):
            return str(value)
        raise StoreError(f"record value {value!r} of type {type(value).__name__} is not JSON-serialisable")

    return json.dumps(record, sort_keys=True, default=plain)


def code(error: sqlite3.Error) -> int:
    """SQLite's primary result code of ``error`` (0 for an error raised by Python's sqlite3 module itself)."""
    return (error.sqlite_errorcode or 0) & 0xFF


def check_suite(name: str) -> str:
    """Return ``name`` if it can name a suite (a non-empty string), else raise :class:`StoreError`."""
    if not isinstance(name, str) or not name:
        raise StoreError(f"a suite name is a non-empty string, got {name!r}")
    return name


class ResultStore:
    """The table of stage results under ``root/results.sqlite`` (created on first use)."""

    def __init__(self, root: Path, busy_timeout: float = 60.0, attempts: int = 8):
        self.root = Path(root)
        self.path = self.root / "results.sqlite"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise write_error("the results store", self.root, error, STORE_HINT) from None
        self.busy_timeout = busy_timeout
        self.attempts = attempts
        self.tables = {row["name"] for row in self._read("SELECT name FROM sqlite_master WHERE type = 'table'", (),
                                                         False)}
        if "results" not in self.tables:  # a new store; one from before digests gets its table at its next write
            self.write(lambda conn: None)

    def put(self, hash: str, stage: str, record: dict, wall_seconds: float, status: str = "ok",
            suites: Iterable[str] = (), digests: Digests | None = None) -> None:
        """Store one stage result, its suite memberships and the digests of the artifacts it stored (by owner
        hash and name) in one transaction.

        Putting a hash again replaces its row (the latest result wins, so a retried failure is overwritten)
        and adds any new suites; it never duplicates a row.
        """
        check_hash(hash)
        clash = sorted(set(record) & set(RESERVED_KEYS))
        if clash:
            raise StoreError(f"record keys {', '.join(clash)} are reserved for the store's own columns")
        row = (hash, stage, time.time(), wall_seconds, status, to_json(record))
        members = [(check_suite(suite), hash) for suite in suites]
        owned = [(check_hash(owner), name, digest, hash) for (owner, name), digest in (digests or {}).items()]

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)", row)
            conn.executemany("INSERT OR IGNORE INTO suite_members VALUES (?, ?)", members)
            conn.executemany("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?)", owned)

        self.write(insert)

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

    def digests(self, owners: Iterable[str] | None = None) -> dict[tuple[str, str], dict]:
        """Every recorded artifact (or those of ``owners``), by (owner hash, name): ``{sha256, stage}``, the stage
        being the result that stored it."""
        if "artifacts" not in self.tables:  # a store from before digests, not written since
            rows = []
        elif owners is None:
            rows = self._read("SELECT * FROM artifacts", (), False)
        else:
            wanted = list(dict.fromkeys(owners))
            rows = self._read(f"SELECT * FROM artifacts WHERE owner IN ({','.join('?' * len(wanted))})", wanted, False)
        return {(row["owner"], row["name"]): {"sha256": row["sha256"], "stage": row["stage"]} for row in rows}

    def drop(self, hashes: Iterable[str]) -> None:
        """Delete the rows ``hashes`` and the digests of the artifacts they stored, so that they are recomputed;
        their suite memberships stay, and apply again once they are."""
        doomed = [(check_hash(h),) for h in hashes]

        def delete(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM results WHERE hash = ?", doomed)
            conn.executemany("DELETE FROM artifacts WHERE stage = ?", doomed)

        self.write(delete)

    def restore(self, tables: dict[str, list[tuple]]) -> None:
        """Insert rows as they were, by table (:data:`TABLES`), in one transaction: a repair's salvage."""

        def insert(conn: sqlite3.Connection) -> None:
            for table, rows in tables.items():
                if rows:
                    conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows)

        self.write(insert)

    def integrity(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: what is wrong with the file, one message each (none if sound)."""
        messages = [row["integrity_check"] for row in self._read("PRAGMA integrity_check", (), False)]
        return [] if messages == ["ok"] else messages

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

        self.write(insert)

    def hashes(self, suite: str | None = None) -> list[str]:
        """Sorted hashes of every stored result, or of those in ``suite``."""
        return sorted(row["hash"] for row in self._select("hash", suite, parse=False))

    def rows(self, suite: str | None = None, parse: bool = True) -> list[dict]:
        """Every stored row (as :meth:`get` returns it), or those in ``suite``, oldest first; with ``parse``
        False, each record is left as its JSON text."""
        return self._select("*", suite, parse=parse)

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
                try:
                    row["record"] = json.loads(row["record"])
                except (TypeError, ValueError):
                    raise self._damaged(f"the record of row {row['hash']} is not JSON") from None
            return rows

        return self._retry(query)

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``change(connection)`` in one ``BEGIN IMMEDIATE`` transaction (creating any table a store from an
        older version lacks), retried while SQLite reports the database busy; returns what ``change`` returns."""

        def transaction() -> T:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for table, statement in SCHEMA.items():
                        if table not in self.tables:
                            conn.execute(statement)
                    result = change(conn)
                    conn.execute("COMMIT")
                    self.tables |= set(SCHEMA)
                except BaseException:
                    if conn.in_transaction:  # SQLite has already rolled back after a full disk
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
                busy = code(error) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or attempt >= self.attempts:
                    raise self._error(error) from None
                time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
            except sqlite3.DatabaseError as error:  # a constraint's IntegrityError is the caller's to handle
                if code(error) not in DAMAGED:
                    raise
                raise self._error(error) from None

    def _error(self, error: sqlite3.DatabaseError) -> StoreError:
        """A one-line error for what SQLite reported: a full disk or an unwritable store, a damaged file, or
        SQLite's own message."""
        if code(error) == sqlite3.SQLITE_FULL:
            return write_error("the results store", self.path, OSError(errno.ENOSPC, "full"), STORE_HINT)
        if code(error) in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            return write_error("the results store", self.path, str(error), STORE_HINT)
        if code(error) in DAMAGED:
            return self._damaged(str(error))
        return StoreError(f"results database {self.path}: {error}")

    def _damaged(self, reason: str) -> DamagedStore:
        return DamagedStore(f"the results store {self.path} is damaged ({reason}); repair it with: "
                            f"ticketbench store repair --store {self.root}")
