"""Every method runs from the CLI on LeNet-5 / MNIST at neuron and weight level (fixture data)."""

import pytest

from benchmark.cli import main

COMMON = ["--model", "lenet5", "--dataset", "mnist", "--epochs", "3"]


@pytest.fixture
def run(fixture_root, capsys):
    def invoke(*args):
        code = main([*args, "--data-dir", str(fixture_root), *COMMON])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize("granularity", ["neuron", "weight"])
@pytest.mark.parametrize("method,extra", [
    ("magnitude", ["--sparsity", "0.5"]),
    ("snip", ["--sparsity", "0.5"]),
    ("random", ["--sparsity", "0.5"]),
    ("lottery", ["--sparsity", "0.36", "--option", "round_epochs=1", "--retrain-epochs", "1"]),
])
def test_every_baseline_runs_from_the_cli(run, method, extra, granularity):
    code, out, err = run("prune", method, "--granularity", granularity, *extra)
    assert code == 0, err
    assert "pruned test accuracy" in out and "parameters removed" in out
    assert ("retrained from theta_0" in out) == (method == "lottery")
    if granularity == "neuron":
        removed = "35.8%" if method == "lottery" else "50.0%"  # per-layer rounding of 0.36
        assert "units kept: conv1" in out and f"neurons removed: {removed}" in out


def _line(out, prefix):
    return next(line for line in out.splitlines() if line.startswith(prefix)).split(":", 1)[1].strip()


def test_mip_scores_from_the_cli_and_baselines_match_its_counts(run):
    code, out, err = run("score", "--loss", "margin")
    assert code == 0, err
    assert _line(out, "units kept").count("/") == 4
    for key in ("status:", "gap:", "nodes:", "lp_iterations:", "binaries_after_stable_removal:", "solve_seconds:"):
        assert key in out
    code, out, err = run("prune", "random", "--match", "mip")
    assert code == 0, err
    assert _line(out, "units kept") == _line(out, "matched to mip")
    code, out, err = run("prune", "critical")  # matched to the MIP by default
    assert code == 0, err
    assert _line(out, "units kept") == _line(out, "matched to mip")


def test_weight_level_critical_against_the_neuron_level_mip_is_one_line(run):
    code, out, err = run("prune", "critical", "--granularity", "weight")
    assert code == 2 and "needs a weight-level reference, not a neuron-level one" in err and "Traceback" not in err


def test_mip_at_weight_level_is_a_one_line_error(run):
    code, out, err = run("prune", "mip", "--granularity", "weight")
    assert code == 2 and "works at neuron granularity, not weight" in err and "Traceback" not in err


@pytest.mark.parametrize("args,message", [
    (["prune", "grasp", "--sparsity", "0.5"], "unknown method 'grasp'"),
    (["prune", "magnitude", "--sparsity", "1.5"], "sparsity must lie in [0, 1)"),
    (["prune", "magnitude"], "needs a target"),
    (["prune", "random", "--match", "mip", "--sparsity", "0.3"], "--match mip fixes the sparsity"),
    (["score", "--threshold", "2"], "threshold must be at most 1"),
])
def test_bad_input_is_one_line(run, args, message):
    code, out, err = run(*args)
    assert code == 2 and message in err and err.count("\n") == 1
