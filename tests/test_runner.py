"""The runner: stages stored once, re-runs skip them, a run killed with SIGKILL resumes with nothing lost or
duplicated, and the local and Dask executors agree bit for bit."""

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.harness.executors import make_executor
from benchmark.harness.plan import plan_suite
from benchmark.harness.runner import run_suite
from benchmark.harness.stages import StageEnv
from benchmark.harness.suites import load_suite
from benchmark.store.db import ResultStore
from benchmark.store.frame import load_results
from benchmark.threads import threads_per_worker

SUITES = Path(__file__).parent / "suites"


def _run(suite, store, fixture_root, executor="inline", workers=1):
    env = StageEnv(store, suite.name, str(fixture_root), threads_per_worker(workers))
    return run_suite(suite, env, make_executor(executor, workers), progress=False)


def test_a_rerun_skips_every_stored_stage(tmp_path, fixture_root):
    suite = load_suite(str(SUITES / "resume.toml"))
    first = _run(suite, tmp_path / "store", fixture_root)
    assert first.ran == first.planned == len(plan_suite(suite)) and not first.failures
    created = {row["hash"]: row["created"] for row in ResultStore(tmp_path / "store").rows()}
    second = _run(suite, tmp_path / "store", fixture_root)
    assert (second.ran, second.stored) == (0, first.planned)
    assert {row["hash"]: row["created"] for row in ResultStore(tmp_path / "store").rows()} == created


def test_a_run_killed_with_sigkill_resumes_with_nothing_lost_or_duplicated(tmp_path, fixture_root):
    store = tmp_path / "store"
    command = [sys.executable, "-m", "benchmark", "run", str(SUITES / "resume.toml"), "--executor", "inline",
               "--data-dir", str(fixture_root), "--store", str(store), "--out", str(tmp_path / "report")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if (store / "results.sqlite").exists() and len(ResultStore(store).hashes()) >= 6:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {row["hash"]: row["created"] for row in ResultStore(store).rows()}
    planned = len(plan_suite(load_suite(str(SUITES / "resume.toml"))))
    assert 6 <= len(before) < planned
    resumed = _run(load_suite(str(SUITES / "resume.toml")), store, fixture_root)
    rows = ResultStore(store).rows()
    assert not resumed.failures and resumed.ran == planned - len(before)
    assert len(rows) == len({row["hash"] for row in rows}) == planned
    assert all(row["status"] == "ok" for row in rows)
    assert {h: c for h, c in ((r["hash"], r["created"]) for r in rows) if h in before} == before
    assert not [p for p in (store / "artifacts").rglob(".*")]  # no temporary files left behind


def test_dask_and_local_executors_give_the_same_results_table(tmp_path, fixture_root):
    """The smoke suite's shape on the fixture slices, on two local workers and on a two-worker Dask cluster."""
    suite = load_suite(str(SUITES / "tiny.toml"))
    local = _run(suite, tmp_path / "local", fixture_root, "local", 2)
    dask = _run(suite, tmp_path / "dask", fixture_root, "dask", 2)
    assert not local.failures and not dask.failures and local.ran == dask.ran == len(plan_suite(suite))
    columns = ["hash", "stage", "method", "point", "pruned_accuracy", "finetuned_accuracy", "retrained_accuracy",
               "transfer_accuracy", "test_accuracy", "neurons_removed", "params_removed", "mask_sha"]
    frames = [load_results(root, "tiny").reindex(columns=columns).sort_values("hash").reset_index(drop=True)
              for root in (tmp_path / "local", tmp_path / "dask")]
    assert frames[0].equals(frames[1])


def test_a_worker_that_dies_fails_its_stage_and_the_pool_starts_afresh():
    executor = make_executor("local", 1)
    try:
        crashed = executor.submit(os.abort)
        with pytest.raises(concurrent.futures.process.BrokenProcessPool):
            crashed.result(timeout=120)
        assert executor.submit(sum, [1, 2]).result(timeout=120) == 3
    finally:
        executor.close()
