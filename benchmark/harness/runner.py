"""Run a suite: plan its stages, skip those already stored, run the rest on an executor as their inputs finish.

A stage runs only when its row is missing (or failed before), so a re-run skips everything done and a run
killed at any moment resumes with nothing lost and nothing duplicated. The driver (this module) is the store's
only reader and writer: it hands each stage the records and artifact files it needs and stores what the stage
returns, its artifacts first and then its row, so workers need no access to the store (nor a file system they
could share it on). A failing stage is stored with status ``failed`` and its message and nothing else, the
stages that need it are skipped, every other stage still runs, and the run ends with one line per failure.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from benchmark.harness.plan import Job, plan_suite
from benchmark.harness.stages import StageEnv, StageInputs, StageResult, execute, score_key, source_config
from benchmark.harness.suites import Suite
from benchmark.store.artifacts import ArtifactDir, MemoryArtifacts
from benchmark.store.db import ResultStore


@dataclass
class RunReport:
    """What a run did: stages planned, found stored, run, and failed (one line each), and its wall time."""

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


def gather(job: Job, store: ResultStore, artifacts: ArtifactDir) -> StageInputs:
    """What ``job`` reads of the store: the records of the stages it needs, and their artifact files (and a prune's
    shared scores), as bytes."""
    records = {need: store.get(need)["record"] for need in job.needs}
    shared = [score_key(job.spec)] if job.kind == "prune" else []
    return StageInputs(records, MemoryArtifacts(artifacts.files([*job.needs, *shared])))


def keep(store: ResultStore, artifacts: ArtifactDir, env: StageEnv, job: Job, result: StageResult) -> None:
    """Store a finished stage: each of its artifacts atomically, then its row."""
    for (owner, name), data in result.artifacts.items():
        artifacts.put_bytes(owner, name, data)
    store.put(job.hash, job.kind, result.record, result.wall, suites=(env.suite,))


def _fail(store: ResultStore, env: StageEnv, job: Job, error: BaseException) -> str:
    message = " ".join(f"{type(error).__name__}: {error}".split())
    config = source_config(job)
    store.put(job.hash, job.kind, {"model": config.model, "dataset": config.dataset, "seed": config.seed,
                                   "method": job.method, "point": job.point, "error": message}, 0.0,
              status="failed", suites=(env.suite,))
    return f"{describe(job)} [{job.hash}]: {message}"


def run_suite(suite: Suite, env: StageEnv, executor, progress: bool | None = None) -> RunReport:
    """Run every missing stage of ``suite`` on ``executor``; returns what happened."""
    start = time.perf_counter()
    jobs = {job.hash: job for job in plan_suite(suite)}
    store, artifacts = ResultStore(env.store_root), ArtifactDir(env.store_root)
    artifacts.sweep_orphans()  # what a killed earlier run was writing
    statuses = store.statuses()
    done = {h for h in jobs if statuses.get(h) == "ok"}
    store.add_to_suite(suite.name, done)
    report = RunReport(planned=len(jobs), stored=len(done))
    waiting = {h: job for h, job in jobs.items() if h not in done}
    running, blocked = {}, set()
    interactive = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(waiting), desc=suite.name, unit="stage", disable=not interactive, dynamic_ncols=True)
    try:
        while waiting or running:
            for h, job in list(waiting.items()):
                if any(need in blocked for need in job.needs):
                    blocked.add(h)
                    report.skipped += 1
                    del waiting[h]
                elif all(need in done for need in job.needs):
                    bar.set_postfix_str(describe(job), refresh=True)
                    running[executor.submit(execute, job, env, gather(job, store, artifacts))] = job
                    del waiting[h]
            if not running:
                break
            finished, _ = executor.wait_any(running)
            for future in finished:
                job = running.pop(future)
                try:
                    result = future.result()
                    keep(store, artifacts, env, job, result)
                    done.add(job.hash)
                    report.ran += 1
                    line = f"done  {describe(job)} in {result.wall:.1f} s"
                except Exception as error:  # a stage's failure (or its storing's): stored, reported, the rest goes on
                    blocked.add(job.hash)
                    report.failures.append(_fail(store, env, job, error))
                    line = f"FAILED {report.failures[-1]}"
                bar.update(1)
                finished_count = report.ran + len(report.failures)
                if not interactive:
                    print(f"[{finished_count}/{len(jobs) - report.stored}] {line}", flush=True)
                elif line.startswith("FAILED"):
                    bar.write(line)
    finally:
        bar.close()
        executor.close()
    report.seconds = time.perf_counter() - start
    return report
