"""pytest-benchmark: MIP solve time as a ratio to a control MIP, compared with a saved baseline (``tox -e regression``).

Every round solves the control instance shipped in ``benchmark/regression/frozen/`` (a fixed file: its time moves
only with the machine and SCIP), then the timed MIP (encoded by the current code from a network trained on the fixture
slice, then solved), then the control again; the round's figure is timed / mean(control). The benchmark's timer is
a :class:`~benchmark.regression.timing.RatioClock`, so the "seconds" pytest-benchmark stores, shows and compares
are these ratios, dimensionless, and ``--benchmark-compare-fail=median:25%`` fails when the median ratio grows by
more than 25% over the saved baseline. Raw seconds are in ``extra_info``, never compared. Needs only the fixture
data; torch and SCIP run on one thread.
"""

import pytest

from benchmark.core.config import TrainConfig
from benchmark.core.paper import paper_threshold
from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import score_network
from benchmark.nn.threads import configure_threads
from benchmark.pipeline.experiment import prepare
from benchmark.regression.timing import CONTROL, RatioClock, paired_round, seconds_info

ROUNDS = 5
# name: (model, training epochs on the fixture slice, MIP options)
TIMED = {
    "fc3-margin-n10": ("fc3", 5, MIPConfig(loss="margin", n_samples=10)),
    "fc3-ce-n2": ("fc3", 5, MIPConfig(loss="ce", n_samples=2)),
    "lenet5-margin-n3": ("lenet5", 10, MIPConfig(loss="margin", n_samples=3)),
}


@pytest.fixture(scope="module")
def experiments(tmp_path_factory, pytestconfig):
    fixtures = pytestconfig.rootpath / "tests" / "fixtures" / "data"  # the checkout tox and pytest run in
    configure_threads(1, cores=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TICKETBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        return {model: prepare(TrainConfig.paper(model, "mnist", epochs=epochs), data_dir=fixtures)
                for model, epochs, _ in TIMED.values()}


@pytest.mark.parametrize("name", list(TIMED))
def test_mip_time_ratio_to_control(benchmark, experiments, name):
    model, _, config = TIMED[name]
    exp = experiments[model]
    x, y = exp.batch[0][: config.n_samples], exp.batch[1][: config.n_samples]
    clock = RatioClock()
    benchmark._timer = clock  # no public per-test timer: the ratio clock makes each round's "duration" its ratio
    benchmark.group = "mip-time-ratio"
    tau = paper_threshold(model, "mnist")
    benchmark.pedantic(paired_round, args=(clock, lambda: score_network(exp.trained.model, x, y, config, tau)),
                       rounds=ROUNDS, warmup_rounds=1)
    benchmark.extra_info.update(unit="timed MIP seconds / control MIP seconds", control=CONTROL.name,
                                **seconds_info(clock))
