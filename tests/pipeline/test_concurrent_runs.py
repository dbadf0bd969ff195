"""Runs sharing a store compute each stage once: a stage another live run holds is left to it (taken as done once
stored), a stale claim (a dead pid here, or an old heartbeat) is taken over, and a store from before claims works."""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time

from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.suites import load_suite
from benchmark.store import claims
from benchmark.store.claims import STALE_AFTER, Claims
from benchmark.store.db import ResultStore

SUITE = """
name = "shared"
description = "FC-3 over two seeds, pruned by magnitude and retrained"
models = ["fc3"]
datasets = ["mnist"]
seeds = [0, 1]

[train]
epochs = 2

[budget]
finetune_epochs = 0
retrain_epochs = 2

[methods.magnitude]
sparsities = [0.5]
granularity = "weight"
"""
RUN = """
import sys
from pathlib import Path
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stages import StageEnv
from benchmark.pipeline.suites import load_suite
suite = load_suite(sys.argv[1])
report = run_suite(suite, StageEnv(Path(sys.argv[2]), suite.name, sys.argv[3], 1), make_executor("inline", 1), False)
sys.exit(1 if report.failures else 0)
"""  # ``ticketbench run --executor inline`` without the report (which a weight-granularity suite cannot have)
H1, H2, H3 = "1" * 16, "2" * 16, "3" * 16
DONE = re.compile(r"^\[\d+/\d+\] done  (.+) in [\d.]+ s$", re.MULTILINE)


def dead_pid() -> int:
    """The pid of a process just killed (and reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    process.kill()
    process.wait()
    return process.pid


def held(store: ResultStore) -> list[str]:
    """The stages claimed in ``store``."""
    return store.write(lambda conn: [row["hash"] for row in conn.execute("SELECT hash FROM claims")])


def test_two_runs_on_one_store_compute_every_stage_once_and_take_over_a_dead_runs_claim(tmp_path, fixture_root):
    (tmp_path / "shared.toml").write_text(SUITE)
    store = ResultStore(tmp_path / "store")
    jobs = plan_suite(load_suite(str(tmp_path / "shared.toml")))
    store.write(lambda conn: conn.execute("INSERT INTO claims VALUES (?, 'killed', ?, ?, ?)",
                                          (jobs[0].hash, socket.gethostname(), dead_pid(), time.time())))
    runs = [subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path / "shared.toml"), str(store.root),
                              str(fixture_root)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(2)]
    try:
        outputs = [run.communicate(timeout=300)[0] for run in runs]
    finally:
        for run in runs:
            run.kill()
    assert [run.returncode for run in runs] == [0, 0]
    computed = [DONE.findall(output) for output in outputs]
    assert sorted(computed[0] + computed[1]) == sorted({*computed[0], *computed[1]})  # none computed twice
    assert len(computed[0]) + len(computed[1]) == len(jobs)
    rows = store.rows("shared")
    assert len(rows) == len(jobs) and all(row["status"] == "ok" for row in rows)
    assert held(store) == []


def test_a_claim_holds_while_its_run_lives_and_beats_and_goes_stale_after(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    mine, other = Claims(store, "s", time.time()), Claims(store, "s", time.time())
    assert mine.take(H1) == ("claimed", None) and other.take(H1) == ("held", None)
    mine.release(H1)
    assert other.take(H1) == ("claimed", None)

    def claim(pid: int, age: float, host: str = other.host) -> None:
        store.write(lambda conn: conn.execute("INSERT OR REPLACE INTO claims VALUES (?, 'x', ?, ?, ?)",
                                              (H2, host, pid, time.time() - age)))

    claim(os.getpid(), 0.0, "elsewhere")
    assert mine.take(H2) == ("held", None)  # a live run on another host
    claim(os.getpid(), STALE_AFTER + 1, "elsewhere")
    assert mine.take(H2) == ("claimed", None)  # ... whose heartbeat stopped
    claim(dead_pid(), 0.0)
    assert mine.take(H2) == ("claimed", None)  # a run killed here
    store.write(lambda conn: conn.execute("UPDATE claims SET heartbeat = 0"))
    monkeypatch.setattr(claims, "HEARTBEAT", 0.0)
    mine.beat()
    assert other.take(H2) == ("held", None)  # the beat refreshed it
    mine.release()
    assert held(store) == [H1]  # other's


def test_a_stage_another_run_stored_meanwhile_is_taken_as_its_result(tmp_path):
    store = ResultStore(tmp_path)
    store.put(H1, "train", {"error": "before"}, 0.0, status="failed")
    run = Claims(store, "s", time.time())
    assert run.take(H1) == ("claimed", None)  # failed before this run: retried
    store.put(H2, "train", {"x": 1}, 1.0, suites=["other"])
    store.put(H3, "train", {"error": "boom"}, 0.0, status="failed")
    assert run.take(H2) == ("ok", {"x": 1}) and run.take(H3) == ("failed", {"error": "boom"})
    assert store.hashes("s") == [H2, H3]


def test_a_store_from_before_claims_opens_and_takes_them(tmp_path):
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        conn.execute("CREATE TABLE results (hash TEXT PRIMARY KEY, stage TEXT NOT NULL, created REAL NOT NULL, "
                     "wall_seconds REAL, status TEXT NOT NULL, record TEXT NOT NULL)")
        conn.execute("CREATE TABLE suite_members (suite TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (suite, hash))")
        conn.execute("INSERT INTO results VALUES (?, 'train', 1.0, 2.0, 'ok', '{}')", (H1,))
    store = ResultStore(tmp_path)
    assert store.statuses() == {H1: "ok"} and Claims(store, "s", 0.0).take(H2) == ("claimed", None)
