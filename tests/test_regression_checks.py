"""The regression checks can fail: each injected regression (a worse config, a damaged mask, presolve off, a
binary for every ReLU, another SCIP version, an accuracy drop) makes its check fail, on the fixture slices.

The reference records come from ``tests/fixtures/regression-tiny.toml`` run through the same code as the real
configurations (a few seconds each run).
"""

import copy
import dataclasses
import json
from pathlib import Path

import pytest

import benchmark.harness.stages as stages
import benchmark.mip.encode as encode
import benchmark.mip.scorer as scorer
from benchmark.methods import to_weight_mask
from benchmark.regression.compare import (
    Check,
    accuracy_report,
    compare_accuracy,
    compare_solver,
    format_table,
    scip_mismatch,
    solver_report,
)
from benchmark.regression.configs import load_suites
from benchmark.regression.records import SPREAD_FILE, read_records
from benchmark.regression.update import current_records, update

TINY = Path(__file__).parent / "fixtures" / "regression-tiny.toml"
NAMES = {"fc3-mnist-dense", "fc3-mnist-mip", "fc3-mnist-magnitude", "fc3-mnist-mip-finetuned",
         "fc3-mnist-magnitude-finetuned", "fc3-mnist-mip-to-fashion-mnist"}
TOLERANCE = 0.02


def _run(fixture_root, tmp_path, suite_path=TINY):
    return current_records(fixture_root, tmp_path / "store", load_suites([suite_path]),
                           tolerances=dict.fromkeys(NAMES, TOLERANCE))


@pytest.fixture(scope="module")
def reference(fixture_root, tmp_path_factory):
    return _run(fixture_root, tmp_path_factory.mktemp("reference"))


def _failed(checks):
    return {(c.config, c.metric) for c in checks if not c.ok}


def test_a_rerun_reproduces_every_record_exactly(reference, fixture_root, tmp_path):
    assert set(reference) == NAMES
    current = _run(fixture_root, tmp_path)
    assert current == reference  # bit for bit, accuracies and solver work included
    assert not accuracy_report(reference, current, {}) and not solver_report(reference, current, "10.0")


def test_a_lower_lambda_fails_the_accuracy_check(reference, fixture_root, tmp_path):
    worse = tmp_path / "worse.toml"
    worse.write_text(TINY.read_text().replace('loss = "margin"', 'loss = "margin", lam = 0.1'))
    failed = _failed(compare_accuracy(reference, _run(fixture_root, tmp_path, worse)))
    for name in NAMES - {"fc3-mnist-dense"}:
        assert {(name, "config_hash"), (name, "mask_sha"), (name, "kept[fc1]")} <= failed
    assert not {metric for config, metric in failed if config == "fc3-mnist-dense"}


def test_a_damaged_mask_fails_the_kept_and_mask_checks(reference, fixture_root, tmp_path, monkeypatch):
    """The MIP mask loses one kept unit per layer behind an unchanged config."""
    prune = stages.prune

    def damaged(method, model, ctx, scores=None):
        result = prune(method, model, ctx, scores)
        if method != "mip":
            return result
        mask = {name: m.clone() for name, m in result.mask.items()}
        for m in mask.values():
            m[int(m.nonzero()[0])] = False
        return dataclasses.replace(result, mask=mask, weight_mask=to_weight_mask(model, mask, "neuron"))

    monkeypatch.setattr(stages, "prune", damaged)
    checks = compare_accuracy(reference, _run(fixture_root, tmp_path))
    failed = _failed(checks)
    assert ("fc3-mnist-mip", "mask_sha") in failed and ("fc3-mnist-mip", "kept[fc1]") in failed
    assert ("fc3-mnist-mip", "config_hash") not in failed
    assert not {metric for config, metric in failed if config == "fc3-mnist-dense"}


def test_presolve_off_fails_the_solver_work_check(reference, fixture_root, tmp_path, monkeypatch):
    configure = scorer.configure

    def without_presolve(model, config):
        configure(model, config)
        model.setParam("presolving/maxrounds", 0)

    monkeypatch.setattr(scorer, "configure", without_presolve)
    current = _run(fixture_root, tmp_path)
    assert ("fc3-mnist-mip", "lp_iterations") in _failed(compare_solver(reference, current))
    assert "solver-work regression" in solver_report(reference, current, reference["fc3-mnist-mip"]["solver"][
        "scip_version"])


def test_a_binary_for_every_relu_fails_the_solver_work_check(reference, fixture_root, tmp_path, monkeypatch):
    """Bounds widened so that no ReLU is stable; SCIP is cut off after 2 s to keep the test short (the binary
    count fails whatever the solve does)."""
    bounds, configure = encode.interval_bounds, scorer.configure

    def unstable(*args, **kwargs):
        return [(lo.clamp_max(-1e-3), hi.clamp_min(1e-3)) for lo, hi in bounds(*args, **kwargs)]

    def short(model, config):
        configure(model, config)
        model.setParam("limits/time", 2.0)

    monkeypatch.setattr(encode, "interval_bounds", unstable)
    monkeypatch.setattr(scorer, "configure", short)
    current = _run(fixture_root, tmp_path)
    assert current["fc3-mnist-mip"]["solver"]["binaries_after_stable_removal"] == current["fc3-mnist-mip"][
        "solver"]["binaries_before_stable_removal"]
    assert ("fc3-mnist-mip", "binaries_after_stable_removal") in _failed(compare_solver(reference, current))


def test_another_scip_version_gives_one_rebaseline_line_instead_of_a_failure_storm(reference):
    installed = reference["fc3-mnist-mip"]["solver"]["scip_version"]
    slower = copy.deepcopy(reference)
    slower["fc3-mnist-mip"]["solver"].update(nodes=99, lp_iterations=10**6)
    old = {name: copy.deepcopy(r) for name, r in reference.items()}
    old["fc3-mnist-mip"]["solver"]["scip_version"] = "9.2"
    report = solver_report(old, slower, installed)
    assert report == scip_mismatch(old, installed)
    assert report.startswith(f"re-baseline needed (records: SCIP 9.2, installed: SCIP {installed})")
    assert "\n" not in report
    assert scip_mismatch(reference, installed) is None and solver_report(reference, slower, installed)


def test_accuracy_beyond_the_tolerance_fails_and_within_it_passes(reference):
    name = "fc3-mnist-mip-finetuned"
    for delta, fails in ((TOLERANCE / 2, False), (-TOLERANCE / 2, False), (-1.5 * TOLERANCE, True)):
        current = copy.deepcopy(reference)
        current[name]["accuracy"] += delta
        assert ((name, "finetuned_accuracy") in _failed(compare_accuracy(reference, current))) is fails


def test_the_diff_table_names_config_metric_reference_now_and_tolerance(reference):
    current = copy.deepcopy(reference)
    current["fc3-mnist-mip"]["accuracy"] = 0.1
    del current["fc3-mnist-magnitude"]
    report = accuracy_report(reference, current, {})
    lines = report.splitlines()
    assert lines[0] == f"accuracy regression: 2 of {len(compare_accuracy(reference, current))} checks failed"
    assert lines[1].split() == ["config", "metric", "reference", "now", "tolerance"]
    rows = [line.split() for line in lines[3:]]
    assert ["fc3-mnist-magnitude", "record", "present", "missing", "exact", "FAIL"] in rows
    assert ["fc3-mnist-mip", "pruned_accuracy", f"{reference['fc3-mnist-mip']['accuracy']:.6g}", "0.1",
            f"±{TOLERANCE:g}", "FAIL"] in rows
    assert "FAIL" not in format_table([Check("c", "m", 1, 1, "exact", True)], failures_only=False)


def test_update_prints_the_diff_and_writes_only_with_yes(fixture_root, tmp_path):
    directory = tmp_path / "baselines"
    directory.mkdir()
    spread = {"configs": {name: {"tolerance": TOLERANCE} for name in NAMES}}
    (directory / SPREAD_FILE).write_text(json.dumps(spread))
    suites = load_suites([TINY])
    printed = []
    assert update(False, fixture_root, directory, suites, out=printed.append) == 0
    assert printed[0].startswith("no records yet: 6 new configurations") and "nothing written" in printed[-1]
    assert ["fc3-mnist-mip", "lp_iterations", "-"] in [line.split()[:3] for line in printed[0].splitlines()]
    assert read_records(directory) == {}
    assert update(True, fixture_root, directory, suites, out=printed.append) == 0
    written = read_records(directory)
    assert set(written) == NAMES and (directory / SPREAD_FILE).is_file()
    assert {"git_sha", "torch", "scip", "host"} <= set(written["fc3-mnist-mip"]["manifest"])
    (directory / "fc3-mnist-mip.json").write_text(json.dumps({**written["fc3-mnist-mip"], "mask_sha": "0" * 16}))
    printed.clear()
    assert update(False, fixture_root, directory, suites, out=printed.append) == 0
    assert "1 figures differ from the records" in printed[0] and "mask_sha" in printed[0]
    assert read_records(directory)["fc3-mnist-mip"]["mask_sha"] == "0" * 16  # not written without yes
