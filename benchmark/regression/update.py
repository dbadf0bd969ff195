"""``ticketbench baseline update [--yes]``: rerun the configurations, print the diff, write records only with yes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmark.nn.threads import configure_threads
from benchmark.pipeline.suites import Suite
from benchmark.regression.compare import (
    Check,
    accuracy_report,
    compare_accuracy,
    compare_solver,
    format_table,
    solver_report,
    version_mismatch,
)
from benchmark.regression.configs import load_suites, run, select
from benchmark.regression.fixtures import CASES, SolverCase
from benchmark.regression.records import (
    SOLVER_DIR,
    baselines_dir,
    build_records,
    read_platform_tolerances,
    read_records,
    read_tolerances,
    write_records,
)
from benchmark.regression.solver_work import solver_records
from benchmark.store.db import ResultStore
from benchmark.store.manifest import manifest


def current_records(data_dir: str | Path | None, store_root: Path | None = None, suites: list[Suite] | None = None,
                    tolerances: dict[str, float] | None = None, with_manifest: bool = False,
                    progress: bool = False) -> dict[str, dict]:
    """Run the regression ``suites`` (default: the shipped ones) into ``store_root`` (default: a temporary
    store) and return their records by name."""
    suites = load_suites() if suites is None else suites
    with tempfile.TemporaryDirectory(prefix="ticketbench-regression-") as tmp:
        root = Path(store_root or tmp)
        run(suites, root, data_dir, progress=progress)
        selected = [item for suite in suites for item in select(suite)]
        return build_records(selected, ResultStore(root).rows(), root, tolerances, with_manifest)


def current_solver_records(cases: tuple[SolverCase, ...] = CASES, with_manifest: bool = False) -> dict[str, dict]:
    """The solver-work cases solved now on their fixture networks, by name (with the manifest if asked)."""
    records = solver_records(cases)
    if with_manifest:
        run_manifest = manifest(device="cpu", seed=None)
        records = {name: {**record, "manifest": run_manifest} for name, record in records.items()}
    return records


def new_figures(current: dict[str, dict]) -> list[Check]:
    """The figures of records with nothing to compare them with (reference ``-``), for the first baseline."""
    checks = []
    for name, record in sorted(current.items()):
        figures = {"mask_sha": record["mask_sha"]} if "mask_sha" in record else {}
        if "accuracy" in record:
            figures[record["accuracy_metric"]] = record["accuracy"]
        figures.update({f"kept[{layer}]": n for layer, n in record["kept"].items()}, **record.get("solver", {}))
        checks += [Check(name, metric, None, value, "new", True) for metric, value in figures.items()]
    return checks


def describe_diff(reference: dict[str, dict], current: dict[str, dict], solver_reference: dict[str, dict],
                  solver_current: dict[str, dict]) -> str:
    """What writing ``current`` (accuracy) and ``solver_current`` (solver work) would change, as text: the
    version line and every figure that differs from the records (compared exactly, as on their platform)."""
    if not reference and not solver_reference:
        merged = {**current, **solver_current}
        return "\n".join([f"no records yet: {len(merged)} new configurations",
                          format_table(new_figures(merged), failures_only=False)])
    lines = [line for line in [version_mismatch({**reference, **solver_reference}, manifest("cpu", None))] if line]
    changed = [c for c in compare_accuracy(reference, current) + compare_solver(solver_reference, solver_current)
               if not c.ok]
    if not changed:
        return "\n".join([*lines, f"no change: all {len(current) + len(solver_current)} configurations match "
                                  "their records"])
    return "\n".join([*lines, f"{len(changed)} figures differ from the records:", format_table(changed)])


def update(yes: bool, data_dir: str | Path | None, directory: Path,
           suites: list[Suite] | None = None, out: Callable[[str], None] = print,
           cases: tuple[SolverCase, ...] = CASES) -> int:
    """Rerun the configurations and solver cases, print the diff against the records in ``directory`` (solver
    records under ``directory/solver``), and write the new records (with their manifest: git SHA, versions,
    lock, platform, host) only when ``yes``. Returns the exit status (0)."""
    directory = Path(directory)
    tolerances = read_tolerances(directory)
    current = current_records(data_dir, suites=suites, tolerances=tolerances, with_manifest=True, progress=True)
    solver = current_solver_records(cases, with_manifest=True)
    out(describe_diff(read_records(directory), current, read_records(directory / SOLVER_DIR), solver))
    if not yes:
        out(f"nothing written: rerun with --yes to write {directory}")
        return 0
    paths = write_records(current, directory) + write_records(solver, directory / SOLVER_DIR)
    first = next(iter(current.values()))["manifest"]
    out(f"wrote {len(paths)} records to {directory} (git {first['git_sha']}, torch {first['torch']}, "
        f"SCIP {first['scip']}, lock {first['lock']}, {first['platform']['cpu']} "
        f"{first['platform']['cpu_capability']}); commit them saying why the baseline changed")
    return 0


def check(directory: Path, data_dir: str | Path | None = None, out: Callable[[str], None] = print) -> int:
    """Rerun the configurations and solver cases and compare them with the records in ``directory`` as CI does
    (``tests/regression/test_regression.py``); print what is off, or that nothing is. Returns the exit status: 1 if
    anything is off."""
    directory = Path(directory)
    installed, platform = manifest(device="cpu", seed=None), read_platform_tolerances(directory)
    reports = [accuracy_report(read_records(directory), current_records(data_dir, progress=True), installed,
                               platform),
               solver_report(read_records(directory / SOLVER_DIR), current_solver_records(), installed, platform)]
    failed = [report for report in reports if report]
    out("\n".join(failed) if failed else f"no regression: every configuration matches its record in {directory}")
    return 1 if failed else 0


def check_command(args) -> int:
    """``ticketbench baseline check [--baselines DIR] [--data-dir DIR]``, on one torch thread."""
    configure_threads(cores=1)
    return check(baselines_dir(args.baselines), args.data_dir)


def update_command(args) -> int:
    """``ticketbench baseline update [--yes] [--baselines DIR] [--data-dir DIR]``, on one torch thread."""
    configure_threads(cores=1)
    return update(bool(args.yes), args.data_dir, baselines_dir(args.baselines))
