"""Run a suite: plan its stages, skip those already stored, run the rest on an executor as their inputs finish.

A stage runs only when its row is missing (or failed before), so a re-run skips everything done and a run
killed at any moment resumes with nothing lost and nothing duplicated. The driver (this module) is the store's
only reader and writer: it hands each stage the records and artifact files it needs and stores what the stage
returns, its artifacts first and then its row with their digests, so workers need no access to the store (nor a
file system they could share it on). A failing stage is stored with status ``failed`` and its message and nothing
else, the stages that need it are skipped, every other stage still runs, and the run ends with one line per
failure.

Nothing damaged is used: before any stage, every artifact the stored stages made or read is checked against the
digest stored with its row, and a damaged one is named in one line, deleted, and recomputed by its stage together
with every stage that depends on it; the datasets the stages need are read once, so a damaged file stops the run
before any stage. A full disk or an unwritable store stops the run at once (:class:`~benchmark.store.WriteError`).

Runs sharing a store compute each stage once (:mod:`benchmark.store.claims`): the driver claims a stage in the
store before it submits it, and submits only as many as the executor has workers, so that what it has not started
stays free for another run; a stage another live run holds is left for later (the driver takes other stages, and
waits, looking again every :data:`POLL` seconds, when none is left), and a stage another run stored meanwhile is
taken as done (or as failed, with that run's message). A claim is released once its stage is stored or failed,
and all of a run's claims when it stops; those of a run killed outright go stale and are taken over.

A run stops cleanly on Ctrl-C and on SIGTERM alike (:func:`~benchmark.pipeline.lifetime.sigterm_interrupts`: both
raise :class:`KeyboardInterrupt`, for which the command line prints one line): its workers are killed, ending the
stages in flight, which the next run recomputes, and everything stored stays. Killed outright (``kill -9``), it
takes its pool workers with it (:func:`~benchmark.pipeline.lifetime.die_with_parent`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from benchmark.pipeline.lifetime import sigterm_interrupts
from benchmark.pipeline.plan import Job, plan_suite
from benchmark.pipeline.stages import StageEnv, StageInputs, StageResult, execute, score_key, source_config
from benchmark.pipeline.suites import Suite
from benchmark.store import DamagedArtifact, DamagedStore, StoreError, WriteError
from benchmark.store.artifacts import ArtifactDir, checked
from benchmark.store.claims import HEARTBEAT, Claims
from benchmark.store.db import ResultStore
from benchmark.store.files import sha256
from datasets import get_spec, resolve_data_root

log = logging.getLogger(__name__)

FATAL = (WriteError, DamagedStore)  # what every later stage would meet too: the run stops
POLL = 1.0  # seconds between looks at the stages another run holds


@dataclass
class RunReport:
    """What a run did: stages planned, found stored (at its start, or stored by another run before this one got to
    them), run, and failed (one line each), and its wall time."""

    planned: int = 0
    stored: int = 0
    ran: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0


def describe(job: Job) -> str:
    """``kind method point (model/dataset seed N)`` for progress lines and errors."""
    config = source_config(job)
    point = f" {job.point}" if job.point else ""
    return f"{job.kind} {job.method}{point} ({config.model}/{config.dataset} seed {config.seed})"


def reads(job: Job) -> list[str]:
    """The results whose artifacts ``job`` reads: the stages it needs, and a prune's shared scores."""
    return [*job.needs, *([score_key(job.spec)] if job.kind == "prune" else [])]


def gather(job: Job, store: ResultStore, artifacts: ArtifactDir) -> StageInputs:
    """What ``job`` reads of the store: the records of the stages it needs, and their artifact files (and a prune's
    shared scores), as bytes, each checked against its digest."""
    return StageInputs({need: store.get(need)["record"] for need in job.needs}, checked(store, artifacts, reads(job)))


def keep(store: ResultStore, artifacts: ArtifactDir, env: StageEnv, job: Job, result: StageResult) -> None:
    """Store a finished stage: each of its artifacts atomically, then its row with their digests."""
    for (owner, name), data in result.artifacts.items():
        artifacts.put_bytes(owner, name, data)
    store.put(job.hash, job.kind, result.record, result.wall, suites=(env.suite,),
              digests={key: sha256(data) for key, data in result.artifacts.items()})


def dependants(jobs: dict[str, Job], roots: set[str]) -> set[str]:
    """``roots`` and every planned stage that needs one of them, directly or not (``jobs`` in plan order)."""
    found = set(roots)
    for h, job in jobs.items():
        if any(need in found for need in job.needs):
            found.add(h)
    return found


def recompute_damaged(jobs: dict[str, Job], done: set[str], store: ResultStore, artifacts: ArtifactDir) -> set[str]:
    """Check every artifact that the stored stages of the plan made or read against its digest. Name each damaged
    one in a line and delete it, drop the row that stored it and the rows of every planned stage that read it or
    depends on one that did; return the planned stages so dropped, which the run recomputes."""
    readers: dict[str, set[str]] = {}
    for h, job in jobs.items():
        for owner in reads(job):
            readers.setdefault(owner, set()).add(h)
    damaged = []
    for (owner, name), entry in store.digests().items():
        if entry["stage"] in done or owner in readers:
            try:
                artifacts.check(owner, name, entry["sha256"])
            except DamagedArtifact as error:
                damaged.append((error, entry["stage"]))
    stale = dependants(jobs, {h for error, stage in damaged for h in {stage, *readers.get(error.owner, ())}})
    for error, stage in damaged:
        target = describe(jobs[stage]) if stage in jobs else f"stage {stage}"
        log.warning("%s; recomputing %s and what depends on it", error, target)
        artifacts.remove(error.owner, error.name)
    if damaged:
        store.drop(stale | {stage for _, stage in damaged})
    return stale


def check_data(jobs: Iterable[Job], data_dir: str | None) -> None:
    """Read every dataset ``jobs`` train or evaluate on (downloading what is missing, as a stage would), so that a
    missing or damaged file stops the run in one line before any stage."""
    names = set()
    for job in jobs:
        names.add(source_config(job).dataset)
        if job.kind == "transfer":
            names.add(job.spec.target.dataset)
    root = resolve_data_root(data_dir)
    for name in sorted(names):
        get_spec(name).read(root)


def _fail(store: ResultStore, env: StageEnv, job: Job, error: BaseException) -> str:
    message = " ".join(f"{type(error).__name__}: {error}".split())
    config = source_config(job)
    store.put(job.hash, job.kind, {"model": config.model, "dataset": config.dataset, "seed": config.seed,
                                   "method": job.method, "point": job.point, "error": message}, 0.0,
              status="failed", suites=(env.suite,))
    return f"{describe(job)} [{job.hash}]: {message}"


def run_suite(suite: Suite, env: StageEnv, executor, progress: bool | None = None,
              data_check: bool = True) -> RunReport:
    """Run every missing stage of ``suite`` on ``executor``; returns what happened. ``data_check`` False leaves
    the datasets to the workers (a remote cluster's, which the driver may not see). SIGTERM stops the run as
    Ctrl-C does, with :class:`KeyboardInterrupt`; a run that stops, for whatever reason, ends its stages in flight."""
    with sigterm_interrupts():
        try:
            report = Driver(suite, env, executor, progress, data_check).run()
        except BaseException:
            executor.stop()
            raise
        executor.close()
        return report


class Driver:
    """One run of a suite: what is done, waiting, running, held by another run and blocked, and the stores it
    writes."""

    def __init__(self, suite: Suite, env: StageEnv, executor, progress: bool | None, data_check: bool):
        self.start, since = time.perf_counter(), time.time()
        self.env, self.executor = env, executor
        self.jobs = {job.hash: job for job in plan_suite(suite)}
        self.store, self.artifacts = ResultStore(env.store_root), ArtifactDir(env.store_root)
        self.artifacts.sweep_orphans()  # what a killed earlier run was writing
        statuses = self.store.statuses()
        self.done = {h for h in self.jobs if statuses.get(h) == "ok"}
        self.done -= recompute_damaged(self.jobs, self.done, self.store, self.artifacts)
        self.waiting = {h: job for h, job in self.jobs.items() if h not in self.done}
        if data_check:
            check_data(self.waiting.values(), env.data_dir)
        self.store.add_to_suite(suite.name, self.done)
        self.claims = Claims(self.store, suite.name, since)
        self.report = RunReport(planned=len(self.jobs), stored=len(self.done))
        self.running, self.held, self.blocked, self.damaged = {}, set(), set(), []
        self.todo, self.finished = len(self.waiting), 0
        self.interactive = sys.stderr.isatty() if progress is None else progress
        self.bar = tqdm(total=len(self.waiting), desc=suite.name, unit="stage", disable=not self.interactive,
                        dynamic_ncols=True)

    def run(self) -> RunReport:
        """Submit every stage whose inputs are done, store each as it finishes, until nothing is left; look again
        every :data:`POLL` seconds at the stages another run holds."""
        try:
            while self.waiting or self.running:
                self.submit_ready()
                if not self.running and not self.held:
                    break
                self.claims.beat()
                if self.running:
                    finished, _ = self.executor.wait_any(self.running, POLL if self.held else HEARTBEAT)
                else:
                    finished = set()
                    time.sleep(POLL)
                for future in finished:
                    self.collect(future)
        finally:
            self.bar.close()
            with contextlib.suppress(StoreError):  # a claim left behind is stale once this process is gone
                self.claims.release()
        for error in self.damaged:  # unchecked artifacts found unreadable: recomputed by the next run
            self.artifacts.remove(error.owner, error.name)
            self.store.drop([error.owner, *(entry["stage"] for entry in self.store.digests([error.owner]).values())])
        self.report.seconds = time.perf_counter() - self.start
        return self.report

    def submit_ready(self) -> None:
        """Skip the waiting stages that need a failed one; while a worker is free, claim and submit those whose
        inputs are all done, leaving those another run holds for later."""
        self.held = set()
        for h, job in list(self.waiting.items()):
            if any(need in self.blocked for need in job.needs):
                self.blocked.add(h)
                self.report.skipped += 1
                del self.waiting[h]
            elif len(self.running) < self.executor.workers and all(need in self.done for need in job.needs):
                self.submit(job)

    def submit(self, job: Job) -> None:
        """Claim ``job`` and submit it; or take the result another run stored for it; or, while another run holds
        it, leave it waiting."""
        state, record = self.claims.take(job.hash)
        if state == "held":
            self.held.add(job.hash)
            return
        del self.waiting[job.hash]
        if state == "ok":
            self.done.add(job.hash)
            self.report.stored += 1
            self.finish(f"done  {describe(job)} by another run")
        elif state == "failed":
            self.blocked.add(job.hash)
            self.report.failures.append(f"{describe(job)} [{job.hash}]: {record['error']} (in another run)")
            self.finish(f"FAILED {self.report.failures[-1]}")
        else:
            self.bar.set_postfix_str(describe(job), refresh=True)
            try:
                inputs = gather(job, self.store, self.artifacts)
            except DamagedArtifact as error:  # damaged since the check at the start
                self.finish(self.fail(job, error))
                return
            self.running[self.executor.submit(execute, job, self.env, inputs)] = job

    def collect(self, future) -> None:
        """Store a finished stage, or its failure, and release its claim; a full disk or a damaged store stops the
        run."""
        job = self.running.pop(future)
        try:
            result = future.result()
            keep(self.store, self.artifacts, self.env, job, result)
        except FATAL:
            raise
        except Exception as error:  # a stage's failure (or its storing's): stored, reported, the rest goes on
            line = self.fail(job, error)
        else:
            self.claims.release(job.hash)
            self.done.add(job.hash)
            self.report.ran += 1
            line = f"done  {describe(job)} in {result.wall:.1f} s"
        self.finish(line)

    def fail(self, job: Job, error: Exception) -> str:
        """Store ``job`` as failed, release its claim and block what needs it; returns the progress line."""
        self.blocked.add(job.hash)
        if isinstance(error, DamagedArtifact):
            self.damaged.append(error)
        self.report.failures.append(_fail(self.store, self.env, job, error))
        self.claims.release(job.hash)
        return f"FAILED {self.report.failures[-1]}"

    def finish(self, line: str) -> None:
        """A stage is finished (here or by another run): count it and show ``line``; on stdout without a terminal,
        numbered, else above the bar if it is a failure."""
        self.finished += 1
        self.bar.update(1)
        if not self.interactive:
            print(f"[{self.finished}/{self.todo}] {line}", flush=True)
        elif line.startswith("FAILED"):
            self.bar.write(line)
