"""Every method's stored ticket of a smoke-shaped suite compacts to the same function on the test set, and
``ticketbench export`` writes a ticket that a fresh process loads with torch alone and that reproduces the
logits."""

import copy
import json
import os
import subprocess
import sys

import pytest
import torch

from benchmark.cli.main import main
from benchmark.nn.compact import compact, count_macs
from benchmark.nn.masks import apply_weight_mask, neuron_to_weight_mask
from benchmark.nn.models import count_parameters
from benchmark.pipeline.experiment import load_data
from benchmark.pipeline.model_cache import get_trained
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.suites import load_suite
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.db import ResultStore

SUITE = """
name = "compact"
description = "FC-3 and LeNet-5 on the fixture MNIST slice: the MIP and every baseline at its counts"
models = ["fc3", "lenet5"]
datasets = ["mnist"]
seeds = [0]
[train]
epochs = 2
[train.lenet5]
epochs = 10
[methods.mip]
options = { loss = "margin", time_limit = 60.0 }
[methods.magnitude]
match = "mip"
[methods.snip]
match = "mip"
[methods.lottery]
match = "mip"
options = { round_epochs = 1 }
[methods.random]
match = "mip"
[methods.critical]
match = "mip"
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory, fixture_root):
    """The suite run once through the CLI, with its own cache and store."""
    root = tmp_path_factory.mktemp("compact")
    suite = root / "compact.toml"
    suite.write_text(SUITE)
    env = {**os.environ, "TICKETBENCH_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    common = ["--data-dir", str(fixture_root), "--store", str(root / "store")]
    subprocess.run([sys.executable, "-m", "benchmark", "run", str(suite), "--executor", "inline", *common,
                    "--out", str(root / "report")], check=True, env=env, capture_output=True)
    return root, suite, env, common


def _masked(model, mask):
    masked = copy.deepcopy(model)
    apply_weight_mask(masked, neuron_to_weight_mask(masked, mask))
    return masked.eval()


def test_every_methods_ticket_compacts_to_the_same_function_on_the_test_set(stored, monkeypatch):
    root, suite, env, common = stored
    monkeypatch.setenv("TICKETBENCH_CACHE", env["TICKETBENCH_CACHE"])
    prunes = [job for job in plan_suite(load_suite(str(suite))) if job.kind == "prune"]
    assert {job.method for job in prunes} >= {"mip", "magnitude", "snip", "lottery", "random", "critical"}
    rows = {row["hash"]: row["record"] for row in ResultStore(root / "store").rows()}
    for job in prunes:
        splits = load_data(job.spec.train, common[1])
        model = get_trained(job.spec.train, splits).model.eval()
        mask = ArtifactDir(root / "store").load_tensors(job.hash, "prune.pt")["mask"]
        compacted = compact(model, mask, tuple(splits.test.input_shape))
        x = splits.test.tensors()[0]
        with torch.no_grad():
            gap = float((_masked(model, mask)(x) - compacted.model(x)).abs().max())
        assert gap <= 1e-5, f"{job.spec.train.model} {job.method} {job.point}: {gap}"
        assert sum(compacted.widths.values()) <= sum(int(m.sum()) for m in mask.values())
        cost = rows[job.hash]["cost"]  # what the prune stage recorded is this ticket's compaction
        assert cost["compacted_parameters"] == count_parameters(compacted.model) < count_parameters(model)
        assert cost["macs"] == count_macs(compacted.model, tuple(splits.test.input_shape)) < cost["dense_macs"]
        assert cost["widths"] == compacted.widths and cost["latency_speedup_b1"] > 0


def test_an_exported_ticket_loads_without_ticketbench_and_reproduces_the_logits(stored, tmp_path, monkeypatch):
    root, suite, env, common = stored
    monkeypatch.setenv("TICKETBENCH_CACHE", env["TICKETBENCH_CACHE"])
    out = tmp_path / "ticket"
    assert main(["export", str(suite), "--model", "lenet5", "--out", str(out), *common]) == 0
    job = next(job for job in plan_suite(load_suite(str(suite))) if job.kind == "prune" and job.method == "mip"
               and job.spec.train.model == "lenet5")
    splits = load_data(job.spec.train, common[1])
    model = get_trained(job.spec.train, splits).model.eval()
    mask = ArtifactDir(root / "store").load_tensors(job.hash, "prune.pt")["mask"]
    x = splits.test.tensors()[0]
    with torch.no_grad():
        expected = _masked(model, mask)(x)
    torch.save({"x": x, "expected": expected}, tmp_path / "check.pt")
    architecture = json.loads((out / "architecture.json").read_text())
    assert architecture["stage"] == job.hash and architecture["widths"] == {k: int(m.sum()) for k, m in
                                                                               mask.items()}
    script = f"""
import sys, torch
sys.path.insert(0, {str(out)!r})
from ticket_loader import load_ticket
check = torch.load({str(tmp_path / "check.pt")!r})
for model in (load_ticket({str(out)!r}), torch.export.load({str(out / "ticket.pt2")!r}).module()):
    with torch.no_grad():
        gap = float((model(check["x"]) - check["expected"]).abs().max())
    assert gap <= 1e-5, gap
assert not [m for m in sys.modules if m.split(".")[0] in ("benchmark", "baselines", "datasets")], "imported"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_export_of_an_ambiguous_or_missing_ticket_is_one_line(stored, tmp_path, capsys):
    _, suite, _, common = stored
    assert main(["export", str(suite), "--out", str(tmp_path / "x"), *common]) == 2  # two models
    assert "2 prune stages of 'mip'" in capsys.readouterr().err
    assert main(["export", str(suite), "--model", "fc3", "--point", "tau=0.9", "--out", str(tmp_path / "x"),
                 *common]) == 2
    assert "points: tau=0.1" in capsys.readouterr().err
