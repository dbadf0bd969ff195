"""``ticketbench run`` and ``ticketbench report``, and what every command that computes checks first."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path

import pandas as pd

from benchmark.cli.commands.common import store_root
from benchmark.nn.device import configure_device, resolve_device
from benchmark.nn.threads import threads_per_worker
from benchmark.pipeline.estimate import describe_plan
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.model_cache import check_cache_writable
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stage_context import StageEnv
from benchmark.pipeline.suites import check_stored_name, load_suite
from benchmark.report import ReportError
from benchmark.report.html import write_report
from benchmark.report.tables import main_table
from benchmark.store.db import STORE_HINT, ResultStore
from benchmark.store.export import markdown_table
from benchmark.store.files import ensure_writable, write_error
from benchmark.store.frame import load_results
from datasets import cache_dir

REPORT_HINT = "give --out a writable directory"
REPORT_MANIFEST = ".report-files"


def report_dir(args: argparse.Namespace, suite: str) -> Path:
    """Where a suite's report goes: ``--out DIR/<suite>``, else ``<cache>/reports/<suite>`` (never the checkout's
    ``results/`` unless asked for with ``--out results``)."""
    return (Path(args.out) if args.out else cache_dir() / "reports") / suite


def check_writable(args: argparse.Namespace, report: Path | None = None) -> None:
    """Refuse in one line, before any work, a store, a model cache or a report folder that cannot be written."""
    ensure_writable(store_root(args), "the results store", STORE_HINT)
    check_cache_writable()
    if report is not None:
        ensure_writable(report.parent, "the report folder", REPORT_HINT)


def device(args: argparse.Namespace, default: str = "cpu") -> str:
    """The device of a command: ``--device``, else ``default`` (a suite's), resolved (``cpu`` or ``cuda``; one
    line when CUDA is asked for without a GPU) and configured for deterministic work in this process."""
    resolved = resolve_device(getattr(args, "device", None) or default)
    configure_device(resolved)
    return resolved


def foreign_files(folder: Path) -> list[Path]:
    """The entries of a report folder that no report wrote (a README placed beside the tables), by the earlier
    report's manifest; a folder without one (or no folder) has none."""
    manifest = folder / REPORT_MANIFEST
    if not manifest.is_file():
        return []
    written = set(manifest.read_text(encoding="utf-8").splitlines()) | {REPORT_MANIFEST}
    return sorted(path for path in folder.iterdir() if path.name not in written)


def carry_over(entries: list[Path], fresh: Path, written: list[str]) -> None:
    """Copy ``entries`` (what no report wrote in the earlier folder) into the new report's ``fresh`` folder, links as
    links; one line, before anything is replaced, for one the new report would overwrite or one that cannot be
    copied."""
    for path in entries:
        if path.name in written:
            raise ReportError(f"{path} was written by no report, but the new report writes {path.name!r}: move it "
                              "away and report again")
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.copytree(path, fresh / path.name, symlinks=True)
            else:
                shutil.copy2(path, fresh / path.name, follow_symlinks=False)
        except OSError as error:
            raise ReportError(f"cannot carry {path} over into the new report ({error}): move it away and report "
                              "again") from None


def publish_report(frame: pd.DataFrame, suite: str, target: Path) -> Path:
    """Write the report of ``frame`` into a fresh folder beside ``target`` and put it in the place of ``target``
    as a whole, so that no file of an earlier report stays beside the new one; what no report wrote (listed by
    the manifest ``.report-files``; a folder without one is replaced whole) is carried over. A frame without a
    successful row writes nothing. Returns the page's path."""
    if not (frame["status"] == "ok").any():
        raise ReportError(f"no stored results of suite {suite!r}: the report is not written")
    fresh, old = (target.with_name(f".{target.name}.{kind}-{uuid.uuid4().hex}") for kind in ("new", "old"))
    try:
        fresh.mkdir(parents=True)
        page = write_report(frame, suite, fresh)
        written = sorted(path.name for path in fresh.iterdir())
        (fresh / REPORT_MANIFEST).write_text("".join(f"{name}\n" for name in written), encoding="utf-8")
        carry_over(foreign_files(target), fresh, written)
        if target.exists():
            os.replace(target, old)
        os.replace(fresh, target)
    except OSError as error:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise write_error("the report", target, error, REPORT_HINT) from None
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target / page.name


def report(args: argparse.Namespace) -> None:
    """``ticketbench report SUITE``: tables, plots, claims and report.html under ``<cache>/reports/<suite>/`` (or
    ``--out DIR/<suite>/``)."""
    suite = load_suite(args.suite)
    target = report_dir(args, suite.name)
    ensure_writable(target.parent, "the report folder", REPORT_HINT)
    frame = load_results(store_root(args), suite.name)
    if frame.empty:
        raise ReportError(f"no results of suite {suite.name!r} in {store_root(args)}: run it first")
    print(f"report: {publish_report(frame, suite.name, target)}")


def dry_run(suite, workers: int) -> int:
    """The stages of ``suite``, one per line, and the estimate of their time on ``workers`` workers."""
    jobs = plan_suite(suite)
    for job in jobs:
        print(f"{job.hash}  {job.kind:9s} {job.method:10s} {job.point:16s} "
              f"{job.spec.train.model if hasattr(job.spec, 'train') else ''}")
    print(describe_plan(jobs, workers))
    return 0


def run(args: argparse.Namespace) -> int:
    """``ticketbench run SUITE``: every missing stage, then the main table and the report's path."""
    suite = load_suite(args.suite)
    if args.dry_run:
        return dry_run(suite, args.workers)
    workers = 1 if args.executor == "inline" else args.workers
    threads = {"inline": args.torch_threads, "dask": 0}.get(args.executor, threads_per_worker(workers))
    target = report_dir(args, suite.name)
    check_writable(args, target)
    env = StageEnv(store_root(args), suite.name, args.data_dir, threads, device(args, suite.device))
    stored = ResultStore(env.store_root).hashes(suite.name)  # a damaged store is one line before any work
    check_stored_name(suite, [job.hash for job in plan_suite(suite)], stored)
    outcome = run_suite(suite, env, make_executor(args.executor, workers, args.scheduler),
                        data_check=args.scheduler is None)
    print(f"{suite.name}: {outcome.ran} stages run, {outcome.stored} already stored, {outcome.skipped} skipped, "
          f"{len(outcome.failures)} failed, in {outcome.seconds:.1f} s")
    for failure in outcome.failures:
        print(f"ticketbench: failed: {failure}", file=sys.stderr)
    frame = load_results(env.store_root, suite.name)
    if not (frame["status"] == "ok").any():
        print(f"ticketbench: error: no stage of suite {suite.name!r} succeeded: the report is not written",
              file=sys.stderr)
        return 1
    print(markdown_table(main_table(frame)))
    print(f"report: {publish_report(frame, suite.name, target)}")
    return 1 if outcome.failures else 0
