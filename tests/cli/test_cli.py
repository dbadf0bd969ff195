"""Every method runs from the CLI on LeNet-5 / MNIST at neuron and weight level (fixture data), and bad input is
one line before any work."""

import pytest
import torch

from benchmark.cli.main import main

COMMON = ["--model", "lenet5", "--dataset", "mnist", "--epochs", "3"]


@pytest.fixture
def run(fixture_root, capsys):
    def invoke(*args, common=True):
        training = common and args[0] in ("prune", "score", "train")
        argv = [*args, "--data-dir", str(fixture_root), *COMMON] if training else list(args)
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's own errors
            code = stop.code
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize("granularity", ["neuron", "weight"])
@pytest.mark.parametrize("method,extra", [
    ("magnitude", ["--sparsity", "0.5"]),
    ("snip", ["--sparsity", "0.5"]),
    ("random", ["--sparsity", "0.5"]),
    ("lottery", ["--sparsity", "0.36", "--round-epochs", "1", "--retrain-epochs", "1"]),
])
def test_every_baseline_runs_from_the_cli(run, method, extra, granularity):
    code, out, err = run("prune", method, "--granularity", granularity, *extra)
    assert code == 0, err
    assert "pruned test accuracy" in out and "parameters removed" in out
    assert ("retrained ticket" in out) == (method == "lottery")
    if granularity == "neuron":
        removed = "35.8%" if method == "lottery" else "50.0%"  # per-layer rounding of 0.36
        assert "units kept: conv1" in out and f"neurons removed: {removed}" in out


def _line(out, prefix):
    return next(line for line in out.splitlines() if line.startswith(prefix)).split(":", 1)[1].strip()


def test_mip_scores_from_the_cli_and_baselines_match_its_counts_without_solving_again(run):
    code, out, err = run("score", "--loss", "margin")
    assert code == 0, err
    mip_units = _line(out, "units kept")
    assert mip_units.count("/") == 4
    for key in ("status:", "gap:", "nodes:", "lp_iterations:", "binaries:", "solve_seconds:"):
        assert key in out
    for method in ("random", "critical"):  # critical is matched to the MIP by default
        code, out, err = run("prune", method, "--match", "mip", "--match-option", "loss=margin")
        assert code == 0, err
        assert _line(out, "units kept") == mip_units
        assert "done  prune mip" not in out  # the MIP's result is stored under its identity and reused


def test_weight_level_critical_against_the_neuron_level_mip_is_one_line(run):
    code, out, err = run("prune", "critical", "--granularity", "weight", "--match-option", "loss=margin")
    assert code == 2 and "needs a weight-level reference, not a neuron-level one" in err and "Traceback" not in err


@pytest.mark.parametrize("args,message", [
    (["prune", "grasp", "--sparsity", "0.5"], "invalid choice: 'grasp'"),
    (["prune", "mip", "--granularity", "weight"], "argument --granularity: invalid choice: 'weight'"),
    (["prune", "magnitude", "--sparsity", "1.5"], "--sparsity: must lie in [0, 1)"),
    (["prune", "magnitude"], "magnitude needs a target: give --sparsity, --threshold or --match METHOD"),
    (["prune", "random", "--match", "mip", "--sparsity", "0.3"], "--match mip fixes the sparsity"),
    (["prune", "lottery", "--sparsity", "0.3", "--norm", "l3"], "argument --norm: invalid choice: 'l3'"),
    (["prune", "lottery", "--sparsity", "0.3", "--rewind-iterations", "100"], "unrecognized arguments"),
    (["prune", "random", "--match", "mip", "--match-option", "norm=l1"], "unknown mip option 'norm'"),
    (["score", "--threshold", "2"], "--threshold: must lie in [0, 1], got 2.0"),
    (["score", "--threshold", "-0.1"], "--threshold: must lie in [0, 1], got -0.1"),
    (["score", "--time-limit", "fast"], "argument --time-limit: invalid float value: 'fast'"),
    (["run", "nope"], "no suite 'nope': not a preset"),
])
def test_bad_input_is_one_line_before_any_work(run, args, message):
    code, out, err = run(*args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert "done  train" not in out  # refused before training


def test_help_lists_each_flags_meaning(run):
    code, out, _ = run("score", "--help", common=False)
    assert code == 0
    assert "{ce,margin}" in out and "time limit in seconds" in out and "data root" in out


def test_dry_run_lists_the_stages_and_estimates(run):
    code, out, err = run("run", "paper", "--dry-run", common=False)
    assert code == 0, err
    assert "estimate on 2 CPU workers" in out and "estimate on one GPU" in out and "measured on an H100" in out


def _rows():
    from benchmark.store.db import ResultStore
    from datasets import cache_dir

    return {row["stage"]: row["record"] for row in ResultStore(cache_dir() / "store").rows("cli")}


@pytest.mark.parametrize("args", [["train"], ["prune", "magnitude", "--sparsity", "0.5"], ["run", "smoke"]])
def test_cuda_without_a_gpu_is_one_line_before_any_work(run, monkeypatch, args):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = run(*args, "--device", "cuda", common=args[0] != "run")
    assert code == 2 and "device 'cuda' asked for, but torch sees no CUDA GPU" in err and err.count("\n") == 1, err
    assert "done" not in out


def test_an_unknown_device_is_refused_by_the_parser(run):
    code, _, err = run("train", "--device", "gpu")
    assert code == 2 and "argument --device: invalid choice: 'gpu'" in err


def test_auto_without_a_gpu_runs_on_the_cpu_and_the_rows_say_so(run, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = run("prune", "magnitude", "--sparsity", "0.5", "--device", "auto")
    assert code == 0, err
    rows = _rows()
    assert {row["manifest"]["device"] for row in rows.values()} == {"cpu"}
    assert rows["train"]["trained_on"] == "cpu" and "gpu" not in rows["train"]["manifest"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_trained_on_the_gpu_found_by_a_cpu_run_and_scored_by_the_cpu_mip(run):
    code, out, err = run("train", "--device", "cuda")
    assert code == 0 and "trained, test accuracy" in out and "trained on cuda" in out, err
    code, out, err = run("train", "--device", "cpu")
    assert code == 0 and "loaded from cache" in out and "trained on cuda" in out, err
    code, out, err = run("prune", "snip", "--sparsity", "0.5", "--finetune-epochs", "1", "--device", "cuda")
    assert code == 0 and "fine-tuned accuracy" in out, err
    rows = _rows()
    assert rows["train"]["trained_on"] == "cuda" and rows["prune"]["manifest"]["device"] == "cuda"
    assert rows["evaluate"]["manifest"]["gpu"] == torch.cuda.get_device_name()
    code, out, err = run("score", "--loss", "margin", "--device", "cpu")  # the MIP on the CPU, on that model
    assert code == 0 and "units kept: conv1" in out, err
