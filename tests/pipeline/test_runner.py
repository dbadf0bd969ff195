"""The runner: stages stored once, and by the driver alone (a stage returns its result), re-runs skip them, a run
killed with SIGKILL resumes with nothing lost or duplicated, a worker killed mid-stage fails only that stage,
and the local and Dask executors agree bit for bit."""

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import torch

from benchmark.core.errors import ConfigError
from benchmark.nn.threads import available_cores, threads_per_worker
from benchmark.pipeline import executors
from benchmark.pipeline.executors import host_slots, make_executor
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.runner import gather, keep, run_suite
from benchmark.pipeline.stages import StageEnv, StageInputs, execute, score_key
from benchmark.pipeline.suites import load_suite
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.db import ResultStore
from benchmark.store.frame import load_results

SUITES = Path(__file__).parents[1] / "suites"
TABLE_COLUMNS = ["hash", "stage", "method", "point", "pruned_accuracy", "finetuned_accuracy", "retrained_accuracy",
                 "transfer_accuracy", "test_accuracy", "neurons_removed", "params_removed", "mask_sha"]


def _run(suite, store, fixture_root, executor="inline", workers=1):
    threads = 0 if executor == "dask" else threads_per_worker(workers)  # as ``ticketbench run`` sets them
    env = StageEnv(store, suite.name, str(fixture_root), threads)
    return run_suite(suite, env, make_executor(executor, workers), progress=False)


def results_table(root, suite):
    """The stored results of ``suite`` that must not depend on the executor, one row per stage, by hash."""
    return load_results(root, suite).reindex(columns=TABLE_COLUMNS).sort_values("hash").reset_index(drop=True)


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
    assert results_table(tmp_path / "local", "tiny").equals(results_table(tmp_path / "dask", "tiny"))


def test_a_worker_that_dies_fails_its_stage_and_the_pool_starts_afresh():
    executor = make_executor("local", 1)
    try:
        crashed = executor.submit(os.abort)
        with pytest.raises(concurrent.futures.process.BrokenProcessPool):
            crashed.result(timeout=120)
        assert executor.submit(sum, [1, 2]).result(timeout=120) == 3
    finally:
        executor.close()


def test_a_stage_returns_its_result_and_never_touches_the_store(tmp_path, fixture_root):
    """A worker reads only the inputs the driver gathered and hands back its row and artifacts; the store it is
    told about need not exist. The driver stores them, and the next stage reads them through the driver."""
    jobs = plan_suite(load_suite(str(SUITES / "resume.toml")))
    train = next(job for job in jobs if job.kind == "train")
    prune = next(job for job in jobs if job.kind == "prune" and job.needs == (train.hash,))
    absent = tmp_path / "absent"
    env = StageEnv(absent, "resume", str(fixture_root), 1)
    store, artifacts = ResultStore(tmp_path / "store"), ArtifactDir(tmp_path / "store")
    trained = execute(train, env, StageInputs())
    assert (trained.hash, trained.artifacts) == (train.hash, {}) and trained.record["test_accuracy"] > 0.5
    keep(store, artifacts, env, train, trained)
    inputs = gather(prune, store, artifacts)
    assert inputs.records == {train.hash: trained.record} and not inputs.artifacts.files
    pruned = execute(prune, env, inputs)
    key = score_key(prune.spec)
    assert set(pruned.artifacts) == {(prune.hash, "prune.pt"), (key, "scores.pt"), (key, "stats.json")}
    assert not absent.exists() and not artifacts.root.exists()  # nothing stored until the driver keeps it
    keep(store, artifacts, env, prune, pruned)
    assert all(artifacts.get_bytes(h, name) == data for (h, name), data in pruned.artifacts.items())
    assert store.get(prune.hash)["record"] == pruned.record and store.get(prune.hash)["status"] == "ok"
    assert set(gather(prune, store, artifacts).artifacts.files) == {(key, "scores.pt"), (key, "stats.json")}


KILLED_SUITE = """
name = "killed"
description = "magnitude, then a MIP matched to it that runs into its time limit: a stage that takes seconds"
models = ["fc3"]
datasets = ["mnist"]
seeds = [0]

[train]
epochs = 2

[methods.magnitude]
sparsities = [0.5]

[methods.mip]
match = "magnitude"
options = { loss = "margin", epsilon = 0.01, time_limit = 4.0 }
"""


def _pool_workers(known: set[int]) -> list[psutil.Process]:
    return [child for child in psutil.Process().children(recursive=True)
            if child.pid not in known and "spawn_main" in " ".join(child.cmdline())]


def test_a_worker_killed_mid_stage_fails_that_stage_alone_and_a_rerun_redoes_only_it(tmp_path, fixture_root):
    """One pool worker runs train, magnitude, its evaluation and then the MIP prune (the only stage in flight);
    SIGKILL it during the MIP: the MIP is stored as failed, its evaluation skipped, nothing of it written."""
    (tmp_path / "killed.toml").write_text(KILLED_SUITE)
    suite, store = load_suite(str(tmp_path / "killed.toml")), tmp_path / "store"
    jobs = {job.kind + job.method: job for job in plan_suite(suite)}
    mip, before_ok = jobs["prunemip"], {jobs[k].hash for k in ("traindense", "prunemagnitude", "evaluatemagnitude")}
    known = {child.pid for child in psutil.Process().children(recursive=True)}
    reports = []
    driver = threading.Thread(target=lambda: reports.append(_run(suite, store, fixture_root, "local", 1)))
    driver.start()
    deadline = time.time() + 120
    while time.time() < deadline and not (store / "results.sqlite").exists():
        time.sleep(0.1)
    while time.time() < deadline and not before_ok <= set(ResultStore(store).statuses()):
        time.sleep(0.1)
    (worker,) = _pool_workers(known)
    busy = sum(worker.cpu_times()[:2]) + 1.0  # a second of CPU after the evaluation: well into the MIP stage
    while time.time() < deadline and sum(worker.cpu_times()[:2]) < busy:
        time.sleep(0.05)
    assert not ResultStore(store).has(mip.hash), "the MIP finished before it could be killed"
    worker.send_signal(signal.SIGKILL)
    driver.join(timeout=120)
    (report,) = reports
    assert (report.ran, report.skipped) == (3, 1) and len(report.failures) == 1 and mip.hash in report.failures[0]
    rows = {row["hash"]: row for row in ResultStore(store).rows()}
    assert rows[mip.hash]["status"] == "failed" and rows[mip.hash]["record"]["error"]
    assert {h for h, row in rows.items() if row["status"] == "ok"} == before_ok
    assert not (store / "artifacts" / mip.hash).exists() and not (store / "artifacts" / score_key(mip.spec)).exists()
    assert not list((store / "artifacts").rglob(".*"))  # no temporary file left
    created = {h: rows[h]["created"] for h in before_ok}
    again = _run(suite, store, fixture_root, "local", 1)
    assert not again.failures and (again.ran, again.stored) == (2, 3)  # the MIP and its evaluation
    rows = {row["hash"]: row for row in ResultStore(store).rows()}
    assert all(row["status"] == "ok" for row in rows.values()) and len(rows) == len(jobs)
    assert {h: rows[h]["created"] for h in before_ok} == created


def test_dask_workers_take_their_share_of_their_own_host(fixture_root):
    """With threads 0 (``ticketbench run --executor dask``) a stage sets its torch threads in the worker: the
    worker's cores over the thread slots of the workers on its host."""
    train = next(job for job in plan_suite(load_suite(str(SUITES / "resume.toml"))) if job.kind == "train")
    for workers in (1, 2):
        executor = make_executor("dask", workers)
        try:
            executor.client.wait_for_workers(workers, timeout=120)
            assert executor.submit(host_slots).result(timeout=120) == workers
            executor.submit(execute, train, StageEnv(Path("unused"), "t", str(fixture_root), 0),
                            StageInputs()).result(timeout=300)
            assert executor.submit(torch.get_num_threads).result(timeout=120) == max(1, available_cores() // workers)
        finally:
            executor.close()
    assert host_slots() == 1  # outside a Dask worker


def test_dask_missing_or_its_scheduler_unreachable_is_one_line(monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as bound:  # a port held but not listening: nothing answers there
        bound.bind(("127.0.0.1", 0))
        port, start = bound.getsockname()[1], time.monotonic()
        with pytest.raises(ConfigError, match=f"^cannot connect to the Dask scheduler at tcp://127.0.0.1:{port}: "
                                              "[^\n]+$"):
            make_executor("dask", 1, f"tcp://127.0.0.1:{port}")
        assert time.monotonic() - start < 10  # the connect timeout, not Dask's default 30 s
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ConfigError, match=r"^the dask executor needs Dask: pip install 'ticketbench\[dask\]'$"):
        make_executor("dask", 1)
