"""The rounding start of the exact program (benchmark.mip.rounding): feasible, never worse than the dense start,
never making SCIP's final incumbent worse, and off by default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.core.config import config_hash
from benchmark.core.errors import ConfigError
from benchmark.mip import config as config_module
from benchmark.mip import solvers
from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Run
from benchmark.mip.rounding import rounding_start
from benchmark.mip.scorer import build_model, score_network
from benchmark.mip.solve import emit
from benchmark.regression.fixtures import load_fixture


@pytest.fixture(scope="module")
def fixture_lenet():
    """The committed regression fixture LeNet-5 and its batch."""
    fixture = load_fixture("lenet5-mnist")
    return fixture.model, fixture.inputs, fixture.labels


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread while a test builds, restored after: a count left behind would change how the session's
    networks train for the tests that request them later."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _network(name, trained_fc3, mip_batch, fixture_lenet):
    if name == "fc3":
        return trained_fc3[1].model, *mip_batch
    return fixture_lenet


def _start(model, x, y, **changes):
    config = MIPConfig(n_samples=len(y), nlp_heuristics=False, **changes)
    encoded, _ = build_model(model, x, y, config)
    instance = encoded.builder.instance
    return rounding_start(encoded.builder, config), float(instance.objective @ instance.start + instance.offset), \
        instance


@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("network", ["fc3", "lenet5"])
def test_the_rounding_start_is_feasible_for_the_exact_program(network, loss, trained_fc3, mip_batch, fixture_lenet):
    model, x, y = _network(network, trained_fc3, mip_batch, fixture_lenet)
    start, dense, instance = _start(model, x[:10], y[:10], loss=loss)
    assert start.accepted and start.objective <= dense + 1e-9
    fresh = emit(instance)  # a model the heuristic never touched
    solution = fresh.model.createSol()
    for var, value in zip(fresh.vars, start.point.tolist()):
        fresh.model.setSolVal(solution, var, value)
    assert fresh.model.checkSol(solution, printreason=False, original=True)


def test_the_plain_rounding_improves_on_the_dense_start_where_the_relaxation_prunes(fixture_lenet):
    """On the fixture LeNet-5 (N=10, ce), the relaxation prunes units: the rounded indicators (the dense ones
    where it is unsure) complete to a point well below the dense start (SCIP alone needs some 30 CPU s to leave
    it)."""
    model, x, y = fixture_lenet
    start, dense, _ = _start(model, x[:10], y[:10], loss="ce")
    assert start.rounding in ("rounded", "unsure-dense")  # not the all-dense fallback
    assert start.objective < dense - 1.0


@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("network", ["fc3", "lenet5"])
def test_with_the_start_the_final_incumbent_is_never_worse_at_the_same_node_limit(network, loss, trained_fc3,
                                                                                  mip_batch, fixture_lenet):
    model, x, y = _network(network, trained_fc3, mip_batch, fixture_lenet)
    results = {}
    for with_start in (False, True):
        config = MIPConfig(loss=loss, n_samples=10, node_limit=3, nlp_heuristics=False, rounding_start=with_start)
        results[with_start] = score_network(model, x[:10], y[:10], config, threshold=0.5).solver
    assert results[True].rounding_start_accepted and not results[False].rounding_start_accepted
    assert results[True].primal_bound <= results[False].primal_bound + 1e-6 * max(1.0, abs(results[False].primal_bound))
    assert results[True].primal_bound <= results[True].rounding_start_objective + 1e-9


def test_the_rounding_start_is_off_by_default_and_keeps_config_hashes():
    assert not MIPConfig().rounding_start
    assert config_hash(MIPConfig(rounding_start=False)) == config_hash(MIPConfig()) == "10486e4aba6a30b8"
    assert config_hash(MIPConfig(rounding_start=True)) != config_hash(MIPConfig())


def test_the_rounding_start_of_a_relaxed_program_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="rounding_start starts the exact program"):
        MIPConfig(relaxed=True, rounding_start=True)


@pytest.mark.parametrize("loss", ["ce", "margin"])
def test_where_the_first_relaxed_solver_finds_no_point_the_next_one_gives_the_start(loss, trained_fc3, mip_batch,
                                                                                   monkeypatch):
    """As on VGG-16 block 3, where HiGHS ends ``unknown``: the heuristic's relaxed solves go on to Clarabel, the next
    of ``auto``'s order, and the start is the one Clarabel gives when it runs first."""
    model, x, y = trained_fc3[1].model, mip_batch[0][:10], mip_batch[1][:10]
    program = "lp" if loss == "margin" else "expcone"
    with monkeypatch.context() as patch:
        patch.setitem(config_module.PROGRAM_SOLVERS, program, ("clarabel", "scip"))
        first, dense, _ = _start(model, x, y, loss=loss)
    stall = Run("unknown", np.inf, -np.inf, 0, 0.1, None)
    monkeypatch.setattr(solvers.BACKENDS["highs"], "solve", lambda instance, config, **options: stall)
    fallen, _, _ = _start(model, x, y, loss=loss)
    assert first.accepted and first.objective < dense - 1e-6
    assert fallen.accepted and fallen.objective == pytest.approx(first.objective, rel=1e-9)
