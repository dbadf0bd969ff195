"""``ticketbench baseline update [--yes]``: rerun the configurations, print the diff, write records only with yes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmark.harness.suites import Suite
from benchmark.regression.compare import (
    Check,
    compare_accuracy,
    compare_solver,
    format_table,
    scip_mismatch,
    version_notes,
)
from benchmark.regression.configs import load_suites, run, select
from benchmark.regression.records import BASELINES, build_records, read_records, read_tolerances, write_records
from benchmark.store.db import ResultStore
from benchmark.store.manifest import manifest, scip_version


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
        return build_records(selected, ResultStore(root).rows(), tolerances, with_manifest)


def new_figures(current: dict[str, dict]) -> list[Check]:
    """The figures of records with nothing to compare them with (reference ``-``), for the first baseline."""
    checks = []
    for name, record in sorted(current.items()):
        figures = {record["accuracy_metric"]: record["accuracy"], "mask_sha": record["mask_sha"],
                   **{f"kept[{layer}]": n for layer, n in record["kept"].items()}, **record.get("solver", {})}
        checks += [Check(name, metric, None, value, "new", True) for metric, value in figures.items()]
    return checks


def describe_diff(reference: dict[str, dict], current: dict[str, dict]) -> str:
    """What writing ``current`` would change, as text: version notes and every differing figure."""
    if not reference:
        return "\n".join([f"no records yet: {len(current)} new configurations",
                          format_table(new_figures(current), failures_only=False)])
    lines = version_notes(reference, manifest(device="cpu", seed=None))
    mismatch = scip_mismatch(reference, scip_version())
    if mismatch:
        lines.append(mismatch)
    changed = [c for c in compare_accuracy(reference, current) + compare_solver(reference, current) if not c.ok]
    if not changed:
        return "\n".join([*lines, f"no change: all {len(current)} configurations match their records"])
    return "\n".join([*lines, f"{len(changed)} figures differ from the records:", format_table(changed)])


def update(yes: bool, data_dir: str | Path | None = None, directory: Path = BASELINES,
           suites: list[Suite] | None = None, out: Callable[[str], None] = print) -> int:
    """Rerun the configurations, print the diff against the records in ``directory``, and write the new records
    (with their manifest: git SHA, versions, host) only when ``yes``. Returns the exit status (0)."""
    directory = Path(directory)
    tolerances = read_tolerances(directory)
    current = current_records(data_dir, suites=suites, tolerances=tolerances, with_manifest=True, progress=True)
    out(describe_diff(read_records(directory), current))
    if not yes:
        out(f"nothing written: rerun with --yes to write {directory}")
        return 0
    paths = write_records(current, directory)
    first = next(iter(current.values()))["manifest"]
    out(f"wrote {len(paths)} records to {directory} (git {first['git_sha']}, torch {first['torch']}, "
        f"SCIP {first['scip']}, host {first['host']}); commit them saying why the baseline changed")
    return 0


def baseline_command(args) -> int:
    """The CLI entry point: ``args.yes`` (bool) and ``args.data_dir`` (or None) of ``ticketbench baseline update``."""
    return update(bool(args.yes), getattr(args, "data_dir", None))
