"""pytest-benchmark: MIP build+solve on MNIST (N=10, ce and margin), and LeNet-5 N=2 against the
reference-style encoding (the ratio is printed at the end of the run). Needs MNIST under TICKETBENCH_DATA."""

import pytest

from benchmark.core.config import TrainConfig
from benchmark.mip.config import MIPConfig
from benchmark.perf.mip_encoding import ours, reference
from benchmark.pipeline.experiment import prepare

TIME_LIMIT = 600.0


@pytest.fixture(scope="module")
def experiments():
    return {name: prepare(TrainConfig.paper(name, "mnist", epochs=1)) for name in ("fc3", "fc4", "lenet5")}


def _record(benchmark, stats):
    for key in ("build_seconds", "solve_seconds", "status", "primal_bound"):
        benchmark.extra_info[key] = stats[key]


@pytest.mark.parametrize("loss", ["margin", "ce"])
@pytest.mark.parametrize("name", ["fc3", "fc4", "lenet5"])
def test_mip_n10(benchmark, experiments, name, loss):
    benchmark.group = f"mip-{name}-n10-{loss}"
    exp = experiments[name]
    config = MIPConfig(loss=loss, time_limit=TIME_LIMIT)
    _record(benchmark, benchmark.pedantic(ours, args=(exp.trained.model, *exp.batch, config), rounds=1))


@pytest.mark.benchmark(group="lenet5-n2-margin-encoding")
def test_lenet5_n2_reference_style(benchmark, experiments):
    benchmark.extra_info["role"] = "reference"
    exp = experiments["lenet5"]
    config = MIPConfig(loss="margin", n_samples=2, time_limit=TIME_LIMIT)
    x, y = exp.batch[0][:2], exp.batch[1][:2]
    _record(benchmark, benchmark.pedantic(reference, args=(exp.trained.model, x, y, config), rounds=1))


@pytest.mark.benchmark(group="lenet5-n2-margin-encoding")
def test_lenet5_n2_ticketbench(benchmark, experiments):
    exp = experiments["lenet5"]
    config = MIPConfig(loss="margin", n_samples=2, time_limit=TIME_LIMIT)
    x, y = exp.batch[0][:2], exp.batch[1][:2]
    _record(benchmark, benchmark.pedantic(ours, args=(exp.trained.model, x, y, config), rounds=3))
