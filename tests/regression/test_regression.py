"""The CI regression: rerun the configurations of results/baselines/ on the full datasets, solve the solver-work
cases on their committed fixture networks, and compare.

Which checks apply depends on the platform (see benchmark/regression/compare.py and results/baselines/README.md):
on the records' machine kind, units kept, masks and solver work exactly; on another kind, within the measured
cross-platform tolerances of platforms.json. Records made with another torch, Python, PySCIPOpt or SCIP give one
"re-baseline needed" line. A failure prints the diff table: config, metric, reference, now, tolerance.
Re-baseline with ``ticketbench baseline update --yes``.
"""

import json
from pathlib import Path

import pytest

from benchmark.regression.compare import accuracy_report, solver_report
from benchmark.regression.configs import load_suites, select
from benchmark.regression.fixtures import CASES, fixture_path, load_fixture
from benchmark.regression.records import (
    SOLVER_DIR,
    SPREAD_FILE,
    read_platform_tolerances,
    read_records,
    read_tolerances,
)
from benchmark.regression.update import current_records, current_solver_records
from benchmark.store.manifest import PLATFORM_KEYS, manifest

BASELINES = Path(__file__).parents[2] / "results" / "baselines"  # the checkout's records
RECORD_KEYS = {"name", "config_hash", "config", "seed", "accuracy", "accuracy_metric", "accuracy_tolerance",
               "kept", "mask_sha", "mask", "manifest"}
SOLVER_RECORD_KEYS = {"name", "fixture", "fixture_sha256", "options", "n_samples", "threshold", "solver", "mask_sha",
                      "instance_sha", "kept", "mask", "manifest"}
MANIFEST_KEYS = {"git_sha", "torch", "scip", "pyscipopt", "python", "lock", "environment", "platform", "host"}


@pytest.fixture(scope="module")
def reference():
    records = read_records(BASELINES)
    assert records, f"no records under {BASELINES}: run ticketbench baseline update --yes"
    return records


@pytest.fixture(scope="module")
def solver_reference():
    records = read_records(BASELINES / SOLVER_DIR)
    assert records, f"no solver records under {BASELINES / SOLVER_DIR}: run ticketbench baseline update --yes"
    return records


@pytest.fixture(scope="module")
def current(real_data_root, tmp_path_factory):
    """The configurations rerun now on the full datasets (about a minute on 2 cores)."""
    return current_records(real_data_root, tmp_path_factory.mktemp("regression-store"))


def test_the_records_cover_every_configuration_with_its_measured_tolerances(reference, solver_reference):
    names = {item.name for suite in load_suites() for item in select(suite)}
    assert set(reference) == names
    tolerances = read_tolerances(BASELINES)
    spread = json.loads((BASELINES / SPREAD_FILE).read_text())
    assert len(spread["seeds"]) >= 5
    for name, record in reference.items():
        assert RECORD_KEYS <= set(record), f"{name}: missing {RECORD_KEYS - set(record)}"
        assert record["accuracy_tolerance"] == tolerances[name] > 0
        assert MANIFEST_KEYS <= set(record["manifest"]) and set(PLATFORM_KEYS) <= set(record["manifest"]["platform"])
        assert {k: v.count("1") for k, v in record["mask"].items()} == record["kept"]
    assert set(solver_reference) == {case.name for case in CASES}
    for name, record in solver_reference.items():
        assert SOLVER_RECORD_KEYS <= set(record), f"{name}: missing {SOLVER_RECORD_KEYS - set(record)}"
        assert record["fixture_sha256"] == load_fixture(record["fixture"]).sha256
        assert fixture_path(record["fixture"]).stat().st_size < 1_000_000
    platform = read_platform_tolerances(BASELINES)
    assert 0 < platform["mask_agreement"] <= 1 and platform["kept_units"]["floor"] >= 1
    assert set(platform["solver"]) == {"nodes", "lp_iterations"}


def test_accuracy_kept_units_and_masks_match_the_records(reference, current):
    report = accuracy_report(reference, current, manifest(device="cpu", seed=None),
                             read_platform_tolerances(BASELINES))
    if report:
        pytest.fail(report, pytrace=False)


def test_mip_solver_work_on_the_fixture_networks_matches_the_records(solver_reference):
    report = solver_report(solver_reference, current_solver_records(), manifest(device="cpu", seed=None),
                           read_platform_tolerances(BASELINES))
    if report:
        pytest.fail(report, pytrace=False)
