"""A run's processes end with it: ``kill -9`` of ``ticketbench run`` takes its pool workers along and leaves a claim
the next run takes over; SIGTERM stops it as Ctrl-C does, in one line, and a rerun computes only what was left."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stages import StageEnv
from benchmark.pipeline.suites import load_suite
from benchmark.store.claims import Claims
from benchmark.store.db import ResultStore

SUITE = """
name = "signals"
description = "FC-3 trained, pruned by magnitude and retrained: the retraining takes a few seconds"
models = ["fc3"]
datasets = ["mnist"]
seeds = [0]

[train]
epochs = 2

[budget]
finetune_epochs = 0
retrain_epochs = 20

[methods.magnitude]
sparsities = [0.5]
granularity = "weight"
"""
INTERRUPTED = "ticketbench: interrupted; finished stages are stored"


@pytest.fixture
def process(tmp_path, fixture_root):
    """``ticketbench run`` of the suite above on two pool workers, in the background (killed after the test)."""
    (tmp_path / "signals.toml").write_text(SUITE)
    with subprocess.Popen(
            [sys.executable, "-m", "benchmark", "run", str(tmp_path / "signals.toml"), "--workers", "2", "--data-dir",
             str(fixture_root), "--store", str(tmp_path / "store"), "--out", str(tmp_path / "report")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"}) as process:
        yield process
        process.kill()


def query(store, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the store's database, none while it or the table does not exist yet."""
    try:
        with sqlite3.connect(store / "results.sqlite") as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def is_worker(child: psutil.Process) -> bool:
    """Whether ``child`` is a pool worker (not, say, a short-lived child that is already gone)."""
    try:
        return "spawn_main" in " ".join(child.cmdline())
    except psutil.Error:
        return False


def children_once(process: subprocess.Popen, condition) -> list[psutil.Process]:
    """The children of ``process`` (its pool workers and their resource tracker) once it has a pool worker and
    ``condition()`` holds."""
    deadline = time.time() + 240
    while time.time() < deadline:
        assert process.poll() is None, "the run ended before it could be signalled"
        children = psutil.Process(process.pid).children(recursive=True)
        if any(is_worker(child) for child in children) and condition():
            return children
        time.sleep(0.05)
    raise AssertionError("the run did not start a pool worker")


def survivors(children: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``children`` still alive after a generous wait for them to end (then killed, so none leak)."""
    deadline = time.time() + 60
    alive = children
    while alive and time.time() < deadline:
        time.sleep(0.1)
        alive = [child for child in alive if running(child)]
    for child in alive:
        child.kill()
    return alive


def running(child: psutil.Process) -> bool:
    """Whether ``child`` still runs (a zombie does not: it only waits to be reaped)."""
    try:
        return child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kill_9_of_a_run_takes_its_workers_along_and_leaves_a_claim_the_next_run_takes_over(process, tmp_path):
    store = tmp_path / "store"
    children = children_once(process, lambda: query(store, "SELECT hash FROM claims"))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert survivors(children) == []
    ((held, pid),) = query(store, "SELECT hash, pid FROM claims")
    assert pid == process.pid
    assert Claims(ResultStore(store), "signals", time.time()).take(held) == ("claimed", None)


def test_sigterm_stops_a_run_in_one_line_with_its_workers_and_a_rerun_computes_only_what_was_left(process, tmp_path,
                                                                                                fixture_root):
    store = tmp_path / "store"
    suite = load_suite(str(tmp_path / "signals.toml"))
    (retrain,) = [job.hash for job in plan_suite(suite) if job.kind == "retrain"]
    children = children_once(process, lambda: (retrain,) in query(store, "SELECT hash FROM claims"))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    assert survivors(children) == []
    stderr = process.stderr.read()  # at its end once no child holds it open
    assert process.returncode == 130 and "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("ticketbench")] == [INTERRUPTED]
    before = dict(query(store, "SELECT hash, created FROM results"))
    assert retrain not in before and query(store, "SELECT * FROM claims") == []  # stopped mid-stage, released
    rerun = run_suite(suite, StageEnv(store, suite.name, str(fixture_root), 1), make_executor("inline", 1),
                      progress=False)
    assert not rerun.failures and (rerun.stored, rerun.ran) == (len(before), len(plan_suite(suite)) - len(before))
    assert {h: c for h, c in query(store, "SELECT hash, created FROM results") if h in before} == before
