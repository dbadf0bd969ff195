"""The CI regression: rerun the configurations of results/baselines/ on the full datasets and compare.

Accuracy: config hash, seed, units kept per layer and mask hash exactly, accuracy within the record's tolerance
(3 std of the measured seed spread). Solver work: nodes, LP iterations, binaries and objective of the MIP records,
on the SCIP version the records name (another version gives one "re-baseline needed" line). A failure prints the
diff table: config, metric, reference, now, tolerance. Re-baseline with ``ticketbench baseline update --yes``.
"""

import json

import pytest

from benchmark.regression.compare import accuracy_report, solver_report
from benchmark.regression.configs import load_suites, select
from benchmark.regression.records import BASELINES, SPREAD_FILE, read_records, read_tolerances
from benchmark.regression.update import current_records
from benchmark.store.manifest import manifest, scip_version

RECORD_KEYS = {"name", "config_hash", "config", "seed", "accuracy", "accuracy_metric", "accuracy_tolerance",
               "kept", "mask_sha", "manifest"}


@pytest.fixture(scope="module")
def reference():
    records = read_records(BASELINES)
    assert records, f"no records under {BASELINES}: run ticketbench baseline update --yes"
    return records


@pytest.fixture(scope="module")
def current(real_data_root, tmp_path_factory):
    """The configurations rerun now on the full datasets (about a minute on 2 cores)."""
    return current_records(real_data_root, tmp_path_factory.mktemp("regression-store"))


def test_the_records_cover_every_configuration_with_its_measured_tolerance(reference):
    names = {item.name for suite in load_suites() for item in select(suite)}
    assert set(reference) == names
    tolerances = read_tolerances(BASELINES)
    spread = json.loads((BASELINES / SPREAD_FILE).read_text())
    assert len(spread["seeds"]) >= 5
    for name, record in reference.items():
        assert RECORD_KEYS <= set(record), f"{name}: missing {RECORD_KEYS - set(record)}"
        assert record["accuracy_tolerance"] == tolerances[name] > 0
        assert set(record["manifest"]) >= {"git_sha", "torch", "scip", "pyscipopt", "host"}
    mip = [r for r in reference.values() if "solver" in r]
    assert {r["name"] for r in mip} == {"fc3-mnist-mip", "lenet5-mnist-mip"}


def test_accuracy_kept_units_and_masks_match_the_records(reference, current):
    report = accuracy_report(reference, current, manifest(device="cpu", seed=None))
    if report:
        pytest.fail(report, pytrace=False)


def test_mip_solver_work_matches_the_records(reference, current):
    report = solver_report(reference, current, scip_version())
    if report:
        pytest.fail(report, pytrace=False)
