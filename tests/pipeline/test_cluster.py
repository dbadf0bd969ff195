"""Running on a cluster: a Dask scheduler and two workers as separate processes of another user, who can neither
read nor write the store, run a suite that the driver alone stores, with the local executor's results; and a
model-cache lock whose holder stopped renewing it (a worker dead on another host) is taken over."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import benchmark.pipeline.model_cache
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stages import StageEnv
from benchmark.pipeline.suites import load_suite
from benchmark.store.db import ResultStore
from tests.pipeline.test_runner import SUITES, _run, results_table

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@dataclass
class Cluster:
    """A running scheduler's address and each worker's own directory and model cache."""

    address: str
    homes: list[Path]
    caches: list[Path]


def _worker_env(home: Path) -> dict:
    return {**os.environ, "HOME": str(home), "TICKETBENCH_CACHE": str(home / "cache"), "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT), "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*"}  # git names the code version for another user's checkout too


def _start(command: list[str], cwd: Path, log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _address(scheduler_file: Path, scheduler: subprocess.Popen, log: Path) -> str:
    deadline = time.time() + 60
    while time.time() < deadline and scheduler.poll() is None:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):  # not written yet, or not whole yet
            time.sleep(0.1)
    raise RuntimeError(f"the Dask scheduler did not start: {log.read_text()[-2000:]}")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def cluster(fixture_root):
    """``dask scheduler`` on 127.0.0.1 and two ``dask worker`` processes (one thread each) run as user nobody,
    each in its own directory with its own cache; every process is ended afterwards."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("running the workers as another user needs root and setpriv")
    base = Path(tempfile.mkdtemp(prefix="ticketbench-cluster-"))
    base.chmod(0o755)
    homes = [base / f"worker{i}" for i in range(2)]
    for home in homes:
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
    processes = []
    try:
        probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import sys, benchmark, distributed; "
                                f"open({str(next(fixture_root.glob('*.npz')))!r}, 'rb')"],
                               cwd=homes[0], env=_worker_env(homes[0]), capture_output=True, text=True)
        if probe.returncode:
            pytest.skip(f"user nobody cannot import the repository or read the fixtures: "
                        f"{(probe.stderr.strip().splitlines() or ['?'])[-1]}")
        scheduler_file = base / "scheduler.json"
        processes.append(_start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                 "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                base, base / "scheduler.log"))
        address = _address(scheduler_file, processes[0], base / "scheduler.log")
        for home in homes:
            processes.append(_start([*AS_NOBODY, sys.executable, "-m", "distributed.cli.dask_worker", address,
                                     "--nworkers", "1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                     "--host", "127.0.0.1", "--local-directory", str(home / "dask")],
                                    home, base / f"{home.name}.log", _worker_env(home)))
        yield Cluster(address, homes, [home / "cache" for home in homes])
    finally:
        _stop(processes)
        shutil.rmtree(base, ignore_errors=True)


def test_workers_of_another_user_run_a_suite_that_the_driver_alone_stores(cluster, tmp_path, fixture_root):
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    store.chmod(0o700)  # root's, and closed to the workers' user
    suite = load_suite(str(SUITES / "tiny.toml"))
    executor = make_executor("dask", 2, cluster.address)
    executor.client.wait_for_workers(2, timeout=120)
    report = run_suite(suite, StageEnv(store, suite.name, str(fixture_root), 0), executor, progress=False)
    assert not report.failures and report.ran == report.planned == len(plan_suite(suite))
    rows = ResultStore(store).rows()
    assert len(rows) == report.planned and all(row["status"] == "ok" for row in rows)
    assert all(path.stat().st_uid == 0 for path in store.rglob("*"))
    for cache in cluster.caches:  # each worker trained or loaded models in its own cache, outside the store
        assert not cache.resolve().is_relative_to(store.resolve()) and any((cache / "models").iterdir())
    local = _run(suite, tmp_path / "local", fixture_root, "local", 2)
    assert not local.failures and results_table(store, "tiny").equals(results_table(tmp_path / "local", "tiny"))


HOLD_LOCK = """
import sys, time
from pathlib import Path
import benchmark.pipeline.model_cache
benchmark.pipeline.model_cache.LEASE_SECONDS = 1.0
with benchmark.pipeline.model_cache.entry_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_cache_lock_whose_holder_stopped_renewing_it_is_taken_over(tmp_path, monkeypatch):
    """A stopped holder is alive on this host but renews nothing, like a worker dead on another host: after the
    lease the entry is built again rather than waited for forever. An empty lock file of an older version does
    not block either."""
    monkeypatch.setattr(benchmark.pipeline.model_cache, "LEASE_SECONDS", 1.0)
    target = tmp_path / "models" / "0123456789abcdef"
    (target.parent / ".locks").mkdir(parents=True)
    (target.parent / ".locks" / f"{target.name}.lock").touch()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(target)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert select.select([holder.stdout], [], [], 60)[0], "the holder never got the lock"
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGSTOP)
        acquired = threading.Event()

        def take() -> None:
            with benchmark.pipeline.model_cache.entry_lock(target):
                acquired.set()

        start = time.monotonic()
        threading.Thread(target=take, daemon=True).start()
        assert acquired.wait(timeout=30), "the stopped holder's lock was never taken over"
        assert time.monotonic() - start >= 0.9  # not before the lease ran out
    finally:
        holder.kill()
        holder.wait()


def warn_from_a_stage() -> int:
    import logging

    logging.getLogger("benchmark.pipeline.stages").warning("a worker's warning")
    return 1


def test_a_dask_workers_warnings_reach_the_drivers_log(caplog):
    """On a cluster a stage's output stays on its worker: its log records are forwarded to the driver's log."""
    executor = make_executor("dask", 1)
    try:
        with caplog.at_level("WARNING", logger="benchmark"):
            assert executor.submit(warn_from_a_stage).result() == 1
            deadline = time.monotonic() + 30
            while "a worker's warning" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        executor.close()
    assert "a worker's warning" in caplog.text
