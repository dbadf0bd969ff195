"""Where stages run: in this process, in a local process pool, or on a Dask cluster, behind one small interface.

Workers set their own torch thread count (each gets an equal share of the cores, see
:mod:`benchmark.nn.threads`), so several workers never oversubscribe a machine: a pool's workers take the share the
driver computed, a Dask worker its share of its own host (:func:`host_slots`). A Dask cluster is a
``LocalCluster`` started here, or any scheduler given by address, e.g. one that ``dask-jobqueue`` started on a
SLURM cluster (README: *Running on a cluster*); workers there need ticketbench installed and the data, but not
the store: only the driver reads and writes it, and passes each stage its inputs (``pip install
'ticketbench[dask]'`` installs Dask). A pool's workers die with the driver, even one killed outright
(:func:`~benchmark.pipeline.lifetime.die_with_parent`); :meth:`PoolExecutor.stop` ends them and their stages at
once, where :meth:`PoolExecutor.close` lets the stages in flight finish.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable

from benchmark.core.errors import ConfigError
from benchmark.core.log import PACKAGES
from benchmark.pipeline.lifetime import die_with_parent

EXECUTORS = ("inline", "local", "dask")
CONNECT_TIMEOUT = 10.0  # seconds to reach a --scheduler before giving up


class PoolExecutor:
    """Stages in this process (``workers=0``) or in a spawned process pool of ``workers`` processes."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self.pool = None if workers == 0 else self._start()

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                      initializer=die_with_parent, initargs=(os.getpid(),))

    def submit(self, fn: Callable, *args) -> concurrent.futures.Future:
        """Start ``fn(*args)``; inline, it runs now and the returned future is already done.

        A worker that dies (a native crash, say) breaks the pool: Python stops its other workers too, so every
        stage in flight fails with ``BrokenProcessPool`` (stored as failed; a re-run retries them), and the next
        submission starts a fresh pool, so the rest of the suite still runs."""
        if self.pool is not None:
            try:
                return self.pool.submit(fn, *args)
            except concurrent.futures.process.BrokenProcessPool:
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._start()
                return self.pool.submit(fn, *args)
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # handed to the runner like a worker's failure
            future.set_exception(exc)
        return future

    def wait_any(self, futures, timeout: float | None = None) -> tuple[set, set]:
        """Block until at least one of ``futures`` is done, or ``timeout`` seconds; returns (done, not done)."""
        done, pending = concurrent.futures.wait(futures, timeout, return_when=concurrent.futures.FIRST_COMPLETED)
        return set(done), set(pending)

    def close(self) -> None:
        """Stop the pool, cancelling what has not started."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """Stop the pool now: kill its workers, ending the stages they run, and cancel what has not started."""
        if self.pool is not None:
            for process in list((self.pool._processes or {}).values()):  # no public way before Python 3.14
                process.kill()
            self.close()


class DaskExecutor:
    """Stages as tasks on a ``dask.distributed`` cluster: a local one of ``workers`` single-threaded worker
    processes, or the scheduler at ``address``."""

    def __init__(self, workers: int, address: str | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("the dask executor needs Dask: pip install 'ticketbench[dask]'") from None
        self.cluster = None if address else LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                                         processes=True, dashboard_address=None)
        try:
            self.client = Client(address or self.cluster, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot connect to the Dask scheduler at {address}: "
                              + " ".join(str(error).split())) from None
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})) or workers)
        for package in PACKAGES:  # the workers' warnings reach this process's log (their info stays there)
            self.client.forward_logging(package)

    def submit(self, fn: Callable, *args):
        """Start ``fn(*args)`` on a worker (never deduplicated: every stage is its own task). The arguments travel
        as scattered data, not in the task graph, since a stage's inputs can be large."""
        return self.client.submit(fn, *(self.client.scatter(list(args), hash=False) if args else ()), pure=False)

    def wait_any(self, futures, timeout: float | None = None) -> tuple[set, set]:
        """Block until at least one of ``futures`` is done, or ``timeout`` seconds; returns (done, not done)."""
        from dask.distributed import wait

        try:
            wait(list(futures), timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass
        done = {future for future in futures if future.done()}
        return done, set(futures) - done

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this executor started it (ending its workers' tasks)."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    stop = close


def host_slots() -> int:
    """The thread slots of the Dask workers on this Dask worker's host, as the scheduler knows them (1 outside a
    Dask worker): each worker takes an equal share of its own host's cores, wherever the driver runs."""
    try:
        from distributed import get_client, get_worker
        from distributed.comm import get_address_host

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask worker
        return 1
    host = get_address_host(worker.address)
    workers = get_client().scheduler_info()["workers"]
    return max(1, sum(info["nthreads"] for address, info in workers.items() if get_address_host(address) == host))


def make_executor(kind: str, workers: int, scheduler: str | None = None):
    """The executor named ``kind``: ``inline`` (this process), ``local`` (a process pool) or ``dask``."""
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTORS)}")
    if scheduler and kind != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    return PoolExecutor(0 if kind == "inline" else workers)
