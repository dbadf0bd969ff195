"""Claims: which live run is computing which stage, so that runs sharing a store compute each stage once.

A run's driver claims a stage (a row of table ``claims``) before it submits it, in one transaction with the check
that no other run has stored it meanwhile; it releases the claim once the stage is stored or failed, and all its
claims when it stops. A claim names its run (a random token), host and pid, and carries a heartbeat the driver
refreshes while it runs (:data:`HEARTBEAT`). Another run finds such a stage held and leaves it for later: it
takes other stages meanwhile, and waits when none is left. It takes a claim over when the claim is stale: its
pid is not alive on this host (a run killed with ``kill -9``), or its heartbeat is older than :data:`STALE_AFTER`
(a dead run on another host sharing the store, or a pid since reused here). The driver beats between stages and
while it waits for them, so only a stage run inline (``--executor inline``) for longer than that can be taken
over while it runs: computed twice, never wrong. A stage that another run stored while this one ran is taken as
that run's result, failed or not.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid

from benchmark.store.db import ResultStore
from benchmark.store.files import alive

HEARTBEAT = 10.0  # seconds between a driver's refreshes of its claims' heartbeat
STALE_AFTER = 600.0  # a claim whose heartbeat is older is stale, wherever its run is


class Claims:
    """One run's claims on the stages of ``store``: rows it stores after ``since`` (its start, a ``time.time()``)
    are another run's results, and join ``suite`` when taken."""

    def __init__(self, store: ResultStore, suite: str, since: float):
        self.store, self.suite, self.since = store, suite, since
        self.token, self.host, self.pid = uuid.uuid4().hex, socket.gethostname(), os.getpid()
        self.beaten = time.time()

    def take(self, hash: str) -> tuple[str, dict | None]:
        """Claim the stage ``hash`` for this run: ``("claimed", None)``; ``("held", None)`` while another live run
        holds it; or, when another run stored it since this one started, ``(status, record)`` of its row."""

        def claim(conn: sqlite3.Connection) -> tuple[str, dict | None]:
            row = conn.execute("SELECT status, created, record FROM results WHERE hash = ?", (hash,)).fetchone()
            if row is not None and (row["status"] == "ok" or row["created"] >= self.since):
                conn.execute("INSERT OR IGNORE INTO suite_members VALUES (?, ?)", (self.suite, hash))
                return row["status"], json.loads(row["record"])
            now = time.time()
            held = conn.execute("SELECT * FROM claims WHERE hash = ?", (hash,)).fetchone()
            if held is not None and held["owner"] != self.token and not self.stale(held, now):
                return "held", None
            conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                         (hash, self.token, self.host, self.pid, now))
            return "claimed", None

        return self.store.write(claim)

    def stale(self, claim: sqlite3.Row, now: float) -> bool:
        """Whether another run's ``claim`` is past its heartbeat, or its pid is dead on this host."""
        return now - claim["heartbeat"] > STALE_AFTER or (claim["host"] == self.host and not alive(claim["pid"]))

    def beat(self) -> None:
        """Refresh the heartbeat of this run's claims, at most every :data:`HEARTBEAT` seconds."""
        now = time.time()
        if now - self.beaten >= HEARTBEAT:
            self.store.write(lambda conn: conn.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?",
                                                       (now, self.token)))
            self.beaten = now

    def release(self, hash: str | None = None) -> None:
        """Release this run's claim on ``hash`` (once stored or failed), or all its claims (when it stops)."""
        if hash is None:
            self.store.write(lambda conn: conn.execute("DELETE FROM claims WHERE owner = ?", (self.token,)))
        else:
            self.store.write(lambda conn: conn.execute("DELETE FROM claims WHERE hash = ? AND owner = ?",
                                                       (hash, self.token)))
