"""The regression checks can fail: each injected regression (a worse config, a damaged mask, presolve off, a
binary for every ReLU, another library version, an accuracy drop) makes its check fail, on the fixture slices;
and a record made on another platform is compared by the cross-platform tolerances instead of bit for bit.

The reference accuracy records come from ``tests/fixtures/regression-tiny.toml`` run through the same code as the
real configurations (a few seconds each run); the solver records from a small case on the committed LeNet-5
fixture network.
"""

import copy
import dataclasses
import json
from pathlib import Path

import pytest

import benchmark.mip.encode as encode
import benchmark.mip.scorer as scorer
import benchmark.pipeline.stages as stages
from benchmark.cli.main import main
from benchmark.methods import to_weight_mask
from benchmark.mip.config import MIPConfig
from benchmark.regression.compare import (
    Check,
    accuracy_report,
    compare_accuracy,
    compare_solver,
    format_table,
    solver_report,
    version_mismatch,
)
from benchmark.regression.configs import load_suites
from benchmark.regression.fixtures import SolverCase
from benchmark.regression.records import BASELINES_ENV, SOLVER_DIR, SPREAD_FILE, baselines_dir, read_records
from benchmark.regression.update import current_records, current_solver_records, update
from benchmark.store.manifest import manifest, platform_fingerprint

TINY = Path(__file__).parents[1] / "fixtures" / "regression-tiny.toml"
NAMES = {"fc3-mnist-dense", "fc3-mnist-mip", "fc3-mnist-magnitude", "fc3-mnist-mip-finetuned",
         "fc3-mnist-magnitude-finetuned", "fc3-mnist-mip-to-fashion-mnist"}
TOLERANCE = 0.02
CASES = (SolverCase("lenet5-margin-n2", "lenet5-mnist", MIPConfig(loss="margin", node_limit=20000), 2, 0.2),)
PLATFORM_TOLERANCES = {"kept_units": {"fraction": 0.05, "floor": 2}, "mask_agreement": 0.9,
                       "solver": {"nodes": 0.1, "lp_iterations": 0.1}}
FOREIGN = {**platform_fingerprint(), "cpu": "Some Other CPU", "cpu_capability": "AVX512"}


def _run(fixture_root, tmp_path, suite_path=TINY):
    return current_records(fixture_root, tmp_path / "store", load_suites([suite_path]),
                           tolerances=dict.fromkeys(NAMES, TOLERANCE))


@pytest.fixture(scope="module")
def reference(fixture_root, tmp_path_factory):
    return _run(fixture_root, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def solver_reference():
    return current_solver_records(CASES, with_manifest=True)


def _made_on(records, platform):
    """``records`` as if written on ``platform``, with this environment's versions."""
    return {name: {**copy.deepcopy(r), "manifest": {**manifest("cpu", None), "platform": platform}}
            for name, r in records.items()}


def _failed(checks):
    return {(c.config, c.metric) for c in checks if not c.ok}


def test_a_rerun_reproduces_every_record_exactly(reference, fixture_root, tmp_path):
    assert set(reference) == NAMES
    current = _run(fixture_root, tmp_path)
    assert current == reference  # bit for bit, accuracies and masks included
    assert not accuracy_report(reference, current, manifest("cpu", None))
    assert current_solver_records(CASES) == {n: {k: v for k, v in r.items() if k != "manifest"}
                                             for n, r in current_solver_records(CASES, with_manifest=True).items()}


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


def test_presolve_off_fails_the_solver_work_check(solver_reference, monkeypatch):
    configure = scorer.configure

    def without_presolve(model, config):
        configure(model, config)
        model.setParam("presolving/maxrounds", 0)

    monkeypatch.setattr(scorer, "configure", without_presolve)
    current = current_solver_records(CASES)
    assert ("lenet5-margin-n2", "lp_iterations") in _failed(compare_solver(solver_reference, current))
    assert "solver-work regression" in solver_report(solver_reference, current, manifest("cpu", None))


def test_a_binary_for_every_relu_fails_the_solver_work_check(solver_reference, monkeypatch):
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
    current = current_solver_records(CASES)
    solver = current["lenet5-margin-n2"]["solver"]
    assert solver["binaries_after_stable_removal"] == solver["binaries_before_stable_removal"]
    # on another platform too: the binary counts are compared exactly everywhere
    failed = _failed(compare_solver(solver_reference, current, FOREIGN, PLATFORM_TOLERANCES))
    assert ("lenet5-margin-n2", "binaries_after_stable_removal") in failed


def test_another_library_version_gives_one_rebaseline_line_instead_of_a_failure_storm(solver_reference):
    installed = manifest("cpu", None)
    slower = copy.deepcopy(solver_reference)
    slower["lenet5-margin-n2"]["solver"].update(nodes=99, lp_iterations=10**6)
    for key, old_version in (("scip", "9.2"), ("torch", "2.0.0"), ("python", "3.10.1"), ("pyscipopt", "5.0")):
        old = copy.deepcopy(solver_reference)
        old["lenet5-margin-n2"]["manifest"][key] = old_version
        report = solver_report(old, slower, installed)
        assert report == version_mismatch(old, installed) == accuracy_report(old, slower, installed)
        assert report.startswith(f"re-baseline needed (records: {key} {old_version}; installed: {key} "
                                 f"{installed[key]})")
        assert "\n" not in report
    assert version_mismatch(solver_reference, installed) is None and solver_report(solver_reference, slower,
                                                                                   installed)


def test_a_foreign_platform_compares_masks_within_the_measured_tolerance(reference):
    """On the record's platform a mask one unit off fails; on another it passes within the kept tolerance and
    the mask agreement, and fails beyond them."""
    name, layer = "fc3-mnist-mip", "fc1"
    current = copy.deepcopy(reference)
    bits = current[name]["mask"][layer]
    flip = bits.index("1")
    current[name]["mask"][layer] = bits[:flip] + "0" + bits[flip + 1:]
    current[name]["kept"][layer] -= 1
    current[name]["mask_sha"] = "0" * 16
    home, foreign = _made_on(reference, platform_fingerprint()), _made_on(reference, FOREIGN)
    assert {(name, f"kept[{layer}]"), (name, "mask_sha")} <= _failed(
        compare_accuracy(home, current, platform_fingerprint(), PLATFORM_TOLERANCES))
    assert not _failed(compare_accuracy(foreign, current, platform_fingerprint(), PLATFORM_TOLERANCES))
    size = len(bits)
    lost = [i for i, b in enumerate(bits) if b == "1"][: 2 + int(0.05 * size) + 1]
    current[name]["mask"][layer] = "".join("0" if i in lost else b for i, b in enumerate(bits))
    current[name]["kept"][layer] = reference[name]["kept"][layer] - len(lost)
    failed = _failed(compare_accuracy(foreign, current, platform_fingerprint(), PLATFORM_TOLERANCES))
    assert (name, f"kept[{layer}]") in failed
    strict = {**PLATFORM_TOLERANCES, "mask_agreement": 1.0}
    assert (name, "mask agreement") in _failed(compare_accuracy(foreign, current, platform_fingerprint(), strict))


def test_a_foreign_platform_widens_the_accuracy_tolerance_to_the_measured_platform_spread(reference):
    name = "fc3-mnist-mip"
    own = {**PLATFORM_TOLERANCES, "configs": {name: {"kept_fraction": 0.05, "mask_agreement": 0.9,
                                                     "accuracy": 3 * TOLERANCE}}}
    home, foreign = _made_on(reference, platform_fingerprint()), _made_on(reference, FOREIGN)
    for delta, fails_abroad in ((2 * TOLERANCE, False), (4 * TOLERANCE, True)):
        current = copy.deepcopy(reference)
        current[name]["accuracy"] -= delta
        assert (name, "pruned_accuracy") in _failed(compare_accuracy(home, current, platform_fingerprint(), own))
        abroad = _failed(compare_accuracy(foreign, current, platform_fingerprint(), own))
        assert ((name, "pruned_accuracy") in abroad) is fails_abroad


def test_a_foreign_platform_compares_solver_work_within_the_measured_tolerance(solver_reference):
    name = "lenet5-margin-n2"
    home, foreign = _made_on(solver_reference, platform_fingerprint()), _made_on(solver_reference, FOREIGN)
    iterations = solver_reference[name]["solver"]["lp_iterations"]
    for factor, fails_abroad in ((1.05, False), (0.95, False), (1.5, True)):
        current = copy.deepcopy(solver_reference)
        current[name]["solver"]["lp_iterations"] = round(iterations * factor)
        current[name]["instance_sha"] = "f" * 16
        assert {(name, "lp_iterations"), (name, "instance_sha")} <= _failed(
            compare_solver(home, current, platform_fingerprint(), PLATFORM_TOLERANCES))
        abroad = _failed(compare_solver(foreign, current, platform_fingerprint(), PLATFORM_TOLERANCES))
        assert ((name, "lp_iterations") in abroad) is fails_abroad
        assert (name, "instance_sha") not in abroad


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
    assert update(False, fixture_root, directory, suites, out=printed.append, cases=CASES) == 0
    assert printed[0].startswith("no records yet: 7 new configurations") and "nothing written" in printed[-1]
    assert ["lenet5-margin-n2", "lp_iterations", "-"] in [line.split()[:3] for line in printed[0].splitlines()]
    assert read_records(directory) == {}
    assert update(True, fixture_root, directory, suites, out=printed.append, cases=CASES) == 0
    written = read_records(directory)
    assert set(written) == NAMES and (directory / SPREAD_FILE).is_file()
    assert set(read_records(directory / SOLVER_DIR)) == {"lenet5-margin-n2"}
    assert {"git_sha", "torch", "scip", "host", "lock", "platform"} <= set(written["fc3-mnist-mip"]["manifest"])
    (directory / "fc3-mnist-mip.json").write_text(json.dumps({**written["fc3-mnist-mip"], "mask_sha": "0" * 16}))
    printed.clear()
    assert update(False, fixture_root, directory, suites, out=printed.append, cases=CASES) == 0
    assert "1 figures differ from the records" in printed[0] and "mask_sha" in printed[0]
    assert read_records(directory)["fc3-mnist-mip"]["mask_sha"] == "0" * 16  # not written without yes


def test_the_records_are_found_by_flag_or_variable_and_their_absence_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no results/baselines here
    monkeypatch.delenv(BASELINES_ENV, raising=False)
    for argv in (["baseline", "check"], ["baseline", "update", "--yes"],
                 ["baseline", "check", "--baselines", str(tmp_path / "elsewhere")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("ticketbench: error: no regression records at ") and err.count("\n") == 1, err
        assert "give --baselines DIR or set TICKETBENCH_BASELINES" in err
    records = tmp_path / "records"
    records.mkdir()
    (records / SPREAD_FILE).write_text("{}")
    monkeypatch.setenv(BASELINES_ENV, str(records))
    assert baselines_dir() == records and baselines_dir(tmp_path / "other", must_exist=False) == tmp_path / "other"
