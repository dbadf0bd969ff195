"""Each program on the solver it needs, behind the one MIP interface: the relaxed programs reach the same optimum
and scores on SCIP, HiGHS and Clarabel; ``solver="auto"`` picks per program; a solver that cannot run a program
is refused in one line; the statistics say which solver ran, its version and its status."""

import re
from importlib import metadata

import numpy as np
import pyscipopt
import pytest
import torch
from scipy import sparse
from scipy.special import logsumexp

from benchmark.core.config import config_hash
from benchmark.core.errors import ConfigError, SolverError
from benchmark.methods import ScoringContext, prune
from benchmark.mip import clarabel_cone, highs, solvers
from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import ROW_TOL, Instance, Rows, Run, violations
from benchmark.mip.scorer import build_model, score_network

SOLVERS = {"margin": ("scip", "highs", "clarabel"), "ce": ("scip", "clarabel", "highs")}
SAMPLES = {"fc3": 5, "lenet5": 3}
# max |score difference| to SCIP's: the ce objective is nearly flat along some scores, and SCIP's 1e-6 feasibility
# tolerance on its exponential constraint moves them along that face: by up to ~6e-3 on one machine, 2.0e-2 (FC-3's
# fc1) on an Intel Xeon (AVX-512) machine, where the objectives still agree to 1e-6 and the masks are equal.
# Those two checks pin the optimum; the scores on the flat face are not unique (HiGHS and Clarabel agree to 3e-7 on
# the LP)
SCORE_TOL = {"margin": 1e-5, "ce": 5e-2}
SCIP_FEASTOL = 1e-6  # SCIP's default numerics/feastol


def _network(name, trained_fc3, trained_lenet):
    return (trained_fc3 if name == "fc3" else trained_lenet)[1].model


def _solve(model, batch, loss: str, solver: str, n: int, **changes):
    config = MIPConfig(loss=loss, relaxed=True, solver=solver, n_samples=n, gap=0.0, **changes)
    return score_network(model, batch[0][:n], batch[1][:n], config, threshold=0.2)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def _scip_shortfall(model, batch, loss: str, n: int, **changes) -> float:
    """How far below the optimum SCIP's objective may lie: its point meets each ce epigraph ``t >= log sum exp(z)``
    only to its feasibility tolerance, so the objective may fall short by that tolerance times the t's costs (on
    the official objective, whose optimum is small, that exceeds 1e-6 relative; the LP has no such term)."""
    config = MIPConfig(loss=loss, relaxed=True, n_samples=n, **changes)
    instance = build_model(model, batch[0][:n], batch[1][:n], config)[0].builder.instance
    return SCIP_FEASTOL * sum(abs(instance.objective[lse.t]) for lse in instance.log_sum_exps())


# the official code's objective (the paper preset's): its sum_largest threshold is a free variable the objective
# pushes down, bounded only by rows that row generation must start from
OFFICIAL = {"aggregation": "sum_largest", "conv_normaliser": "filters_k2"}


@pytest.mark.parametrize("network,loss,objective", [
    *[(network, loss, {}) for network in ("fc3", "lenet5") for loss in ("margin", "ce")],
    ("fc3", "margin", OFFICIAL), ("lenet5", "ce", OFFICIAL)])
def test_the_solvers_reach_the_same_optimum_and_scores(network, loss, objective, trained_fc3, trained_lenet,
                                                       mip_batch):
    """The same optimum on every solver; on the plain objective the same scores and masks too. The official
    objective's optimum can be a face (see the degenerate test below), where solvers may differ in scores at one
    optimum, so there only the objectives are compared."""
    model = _network(network, trained_fc3, trained_lenet)
    results = {s: _solve(model, mip_batch, loss, s, SAMPLES[network], **objective) for s in SOLVERS[loss]}
    reference = results["scip"]
    shortfall = _scip_shortfall(model, mip_batch, loss, SAMPLES[network], **objective)
    assert _relative(results["highs"].solver.primal_bound, results["clarabel"].solver.primal_bound) < 1e-6
    for solver, result in results.items():
        assert result.solver.solver == solver and result.solver.status == "optimal"
        above = result.solver.primal_bound - reference.solver.primal_bound
        scale = max(1.0, abs(reference.solver.primal_bound))
        assert -1e-6 * scale < above < 1e-6 * scale + shortfall, solver
        assert (result.solver.variables, result.solver.constraints) == (reference.solver.variables,
                                                                        reference.solver.constraints)
        for name, scores in result.scores.items() if not objective else ():
            assert float((scores - reference.scores[name]).abs().max()) < SCORE_TOL[loss], (solver, name)
            assert torch.equal(result.mask[name], reference.mask[name]), (solver, name)
    assert any(float(s.min()) < 0.5 for s in reference.scores.values())  # something is pruned: not a trivial optimum


def _flipped(column: str):
    """``clarabel_cone._exp_cones`` with the sign of every ``t`` (or ``z``) term of the cones flipped."""
    original = clarabel_cone._exp_cones

    def exp_cones(instance, width):
        a, b, cones = original(instance, width)
        lses = instance.log_sum_exps()
        ids = [c.t for c in lses] if column == "t" else np.concatenate([c.z for c in lses])
        block = sparse.coo_array(a[1])
        data = np.where(np.isin(block.col, ids), -block.data, block.data)
        return [a[0], sparse.csr_array((data, (block.row, block.col)), shape=block.shape)], b, cones
    return exp_cones


@pytest.mark.parametrize("column", ["t", "z"])
def test_a_wrong_cone_breaks_the_agreement(column, trained_fc3, mip_batch, monkeypatch):
    """The agreement above can fail: Clarabel on a cone with the sign of ``t`` (unbounded) or ``z`` flipped."""
    model = trained_fc3[1].model
    reference = _solve(model, mip_batch, "ce", "scip", 2).solver.primal_bound
    monkeypatch.setattr(clarabel_cone, "_exp_cones", _flipped(column))
    try:
        wrong = _solve(model, mip_batch, "ce", "clarabel", 2).solver.primal_bound
    except SolverError:
        wrong = None
    assert wrong is None or _relative(wrong, reference) > 1e-3


def test_row_generation_reaches_the_all_rows_optimum_and_violates_no_row(trained_lenet, mip_batch):
    config = MIPConfig(loss="margin", relaxed=True, n_samples=3)
    instance = build_model(trained_lenet[1].model, mip_batch[0][:3], mip_batch[1][:3], config)[0].builder.instance
    whole = highs.solve(instance, config)
    generated = solvers.solve_by_rows(highs, instance, config)
    assert whole.status == generated.status == "optimal"
    assert _relative(generated.primal, whole.primal) < 1e-9
    matrix, lo, hi = instance.linear_rows()
    assert violations(matrix, lo, hi, generated.x).max() <= ROW_TOL
    first_round = highs.solve(instance.restricted(matrix, lo, hi, lo == hi), config)
    assert violations(matrix, lo, hi, first_round.x).max() > 1e-3  # the rows left out at first matter


@pytest.mark.parametrize("relaxed,loss,chosen", [
    (False, "ce", "scip"), (False, "margin", "scip"), (True, "margin", "highs"), (True, "ce", "highs")])
def test_auto_takes_the_measured_fastest_solver_per_program(relaxed, loss, chosen):
    assert MIPConfig(loss=loss, relaxed=relaxed).backend == chosen
    assert MIPConfig(loss=loss, relaxed=relaxed, solver="scip").backend == "scip"
    assert MIPConfig(loss=loss, relaxed=relaxed).solver_order[-1] == "scip"  # SCIP runs every program: the last resort
    assert MIPConfig(loss=loss, relaxed=relaxed, solver="scip").solver_order == ("scip",)


def test_auto_runs_sum_largest_on_the_interior_point_solver_first_but_not_a_decoupled_block():
    """sum_largest's relaxed optimum is not unique (see the next test): Clarabel first, as the official code's
    MOSEK; a decoupled VGG-16 block's program stays on HiGHS first, since Clarabel stalls on most full-width blocks
    (results/vgg16-blocks/block_solve_cpu.md)."""
    for loss in ("ce", "margin"):
        assert MIPConfig(loss=loss, relaxed=True, **OFFICIAL).solver_order == ("clarabel", "highs", "scip")
        assert MIPConfig(loss=loss, relaxed=True, decoupled=True, **OFFICIAL).solver_order[0] == "highs"
        assert MIPConfig(loss=loss, relaxed=True, decoupled=True).solver_order == ("highs", "clarabel", "scip")
    assert MIPConfig(loss="ce", relaxed=False, **OFFICIAL).solver_order == ("scip",)


def _degenerate() -> Instance:
    """By hand: minimise ``s`` (in [0, 1]) beside ``f + g = 1`` with ``f`` in [0, 1], ``g`` in [0, 0.6], which the
    objective leaves free, as sum_largest leaves a layer's scores: every ``f`` in [0.4, 1] is optimal. Its
    vertices are 0.4 and 1; an interior-point method ends inside (its central path leads to the face's relative
    interior)."""
    instance = Instance()
    s, f, g = instance.add_vars(3, 0.0, np.array([1.0, 1.0, 0.6]), "C", "v", 0.0)
    instance.add_objective(np.array([s]), np.array([1.0]))
    instance.constraints.append(Rows(np.array([0, 2]), np.array([f, g]), np.array([1.0, 1.0]), np.ones(1), np.ones(1)))
    return instance


def test_a_degenerate_optimum_comes_back_inside_under_sum_largest_and_at_a_vertex_otherwise():
    """Measured on FC-4 (Fashion-MNIST, the official objective): HiGHS's vertex keeps 70 of fc1's 200 units,
    Clarabel's interior point all 200, at one optimum. auto gives sum_largest an interior point, as MOSEK gave the
    official code."""
    def solved(config):
        return solvers.solve_by_rows(solvers.BACKENDS[config.backend], _degenerate(), config).x
    centred = solved(MIPConfig(loss="margin", relaxed=True, **OFFICIAL))
    vertex = solved(MIPConfig(loss="margin", relaxed=True))
    assert centred[0] == pytest.approx(0.0, abs=1e-6) and vertex[0] == pytest.approx(0.0, abs=1e-6)
    assert 0.5 < centred[1] < 0.9  # well inside: neither vertex
    assert min(abs(vertex[1] - 0.4), abs(vertex[1] - 1.0)) < 1e-9


@pytest.mark.parametrize("changes,message", [
    ({"solver": "highs", "loss": "ce"},
     "solver 'highs' cannot run the exact MIP (binary ReLU indicators); use one of: auto, scip"),
    ({"solver": "highs", "loss": "margin"},
     "solver 'highs' cannot run the exact MIP (binary ReLU indicators); use one of: auto, scip"),
    ({"solver": "clarabel", "loss": "ce"}, "solver 'clarabel' cannot run the exact MIP"),
    ({"solver": "gurobi"}, "solver must be one of auto, scip, highs, clarabel, got 'gurobi'"),
])
def test_a_solver_that_cannot_run_the_program_is_refused_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        MIPConfig(**changes)
    assert "\n" not in str(error.value)
    assert MIPConfig(solver="clarabel", loss="margin", relaxed=True).backend == "clarabel"  # an LP is a cone program


@pytest.mark.parametrize("solver,version", [("scip", str(pyscipopt.Model().version())), ("highs", metadata.version(
    "highspy")), ("clarabel", metadata.version("clarabel"))])
def test_the_stats_say_which_solver_ran_its_version_and_status(solver, version, trained_fc3, mip_batch):
    ctx = ScoringContext(batch=(mip_batch[0][:2], mip_batch[1][:2]), model_name="fc3", dataset="mnist",
                         options=MIPConfig(loss="margin", relaxed=True, n_samples=2, solver=solver))
    stats = prune("mip", trained_fc3[1].model, ctx).stats
    assert (stats["solver"], stats["solver_version"], stats["status"]) == (solver, version, "optimal")
    assert stats["config"]["solver"] == solver and stats["lp_iterations"] > 0 and stats["gap"] < 1e-6
    assert stats["binaries"] == 0 and stats["variables"] > 0 and stats["solve_seconds"] > 0
    scip_ran = solver == "scip"
    assert (stats["scip_version"] != "", stats["dense_start_accepted"], stats["nodes"] > 0) == (scip_ran,) * 3


@pytest.mark.parametrize("solver", ["highs", "clarabel"])
def test_a_time_limit_without_a_solution_is_one_solver_error(solver, trained_fc3, mip_batch):
    with pytest.raises(SolverError, match=rf"{solver} found no usable solution \(status: timelimit") as error:
        _solve(trained_fc3[1].model, mip_batch, "margin", solver, 3, time_limit=1e-9)
    assert "\n" not in str(error.value)


def test_one_instance_is_built_and_exported_whichever_solver_runs_it(trained_fc3, mip_batch, tmp_path):
    model, x, y = trained_fc3[1].model, mip_batch[0][:2], mip_batch[1][:2]
    built = {s: build_model(model, x, y, MIPConfig(loss="ce", relaxed=True, n_samples=2, solver=s))[0].builder
             for s in ("scip", "clarabel")}
    a, b = built["scip"].instance, built["clarabel"].instance
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("lb", "ub", "start", "objective"))
    assert a.groups == b.groups and a.offset == b.offset
    rows_a, rows_b = a.linear_rows(), b.linear_rows()
    assert (rows_a[0] != rows_b[0]).nnz == 0 and all(np.array_equal(u, v) for u, v in zip(rows_a[1:], rows_b[1:]))
    assert [(c.t, c.z.tolist()) for c in a.log_sum_exps()] == [(c.t, c.z.tolist()) for c in b.log_sum_exps()]
    result = score_network(model, x, y, MIPConfig(loss="ce", relaxed=True, n_samples=2, solver="clarabel"), 0.1,
                           export_path=tmp_path / "fc3.cip")
    reread = pyscipopt.Model()
    reread.hideOutput()
    reread.readProblem(str(tmp_path / "fc3.cip"))
    assert reread.getNVars() == result.solver.variables and reread.getNConss() == result.solver.constraints


def test_the_solver_setting_keeps_existing_config_hashes():
    """Pinned before ``solver`` existed: its default leaves every hash (and cached result) as it was."""
    assert config_hash(MIPConfig()) == "10486e4aba6a30b8"
    assert config_hash(MIPConfig(loss="margin", relaxed=True, node_limit=20000)) == "837ee71af707d664"
    assert config_hash(MIPConfig(solver="auto")) == config_hash(MIPConfig()) != config_hash(MIPConfig(solver="scip"))


@pytest.mark.parametrize("stalled,taken", [(("clarabel",), "highs"), (("clarabel", "highs"), "scip")])
def test_auto_hands_a_program_its_solver_cannot_solve_to_the_next(stalled, taken, trained_fc3, mip_batch,
                                                                   monkeypatch):
    """Clarabel stalling (as on full-width VGG-16 blocks) under ``auto`` with the official objective, which takes
    Clarabel first: HiGHS solves the same program, or SCIP where HiGHS stalls too, and the statistics say so; a
    config that names Clarabel still gets the one-line error."""
    model = trained_fc3[1].model
    direct = _solve(model, mip_batch, "ce", taken, 3, **OFFICIAL)
    stall = Run("insufficientprogress", 1.0, 0.9, 7, 2.5, None)
    for name in stalled:
        monkeypatch.setattr(solvers.BACKENDS[name], "solve", lambda instance, config, **options: stall)
    result = _solve(model, mip_batch, "ce", "auto", 3, **OFFICIAL)
    assert result.solver.solver == taken and result.solver.status == "optimal"
    assert result.solver.primal_bound == pytest.approx(direct.solver.primal_bound, rel=1e-9)
    assert all(torch.equal(result.mask[name], direct.mask[name]) for name in direct.mask)
    assert len(result.solver.warnings) == len(stalled)
    for name, warning in zip(stalled, result.solver.warnings):
        assert re.fullmatch(rf"{name} found no usable solution \(status: insufficientprogress, after [\d.]+ s\); "
                            rf"{taken} solved the same program instead \(solver = auto\)", warning)
    with pytest.raises(SolverError, match=r"^clarabel found no usable solution \(status: insufficientprogress"):
        _solve(model, mip_batch, "ce", "clarabel", 3)


def test_a_tangent_plane_lies_below_the_log_sum_exp_and_touches_it_where_drawn():
    """The outer approximation's cuts: ``t - p @ z >= side`` holds with equality at the point it is drawn at, and
    ``lse(z) - p @ z >= side`` everywhere (a plane above the function would cut off feasible points); logits with a
    softmax weight below :data:`highs.PLANE_TERM` are left out, and the plane still lies below."""
    rng = np.random.default_rng(0)
    z_ids = np.arange(1, 11)
    for at in (rng.normal(0, 3, 10), np.r_[0.0, -40.0, rng.normal(0, 1, 8)]):
        side, cols, vals = highs._tangent(0, z_ids, at)
        assert cols[0] == 0 and vals[0] == 1.0 and np.all(vals[1:] < 0)
        plane = dict(zip(cols[1:], -vals[1:]))
        below = np.array([plane.get(k, 0.0) * v for k, v in zip(z_ids, at)]).sum()
        assert logsumexp(at) == pytest.approx(side + below, abs=1e-11)  # touches
        for z in rng.normal(0, 5, (200, 10)):
            assert logsumexp(z) >= side + sum(plane.get(k, 0.0) * v for k, v in zip(z_ids, z)) - 1e-12
    assert len(highs._tangent(0, z_ids, np.r_[0.0, -40.0, np.zeros(8)])[1]) == 10  # exp(-40) < PLANE_TERM: left out


def test_the_outer_approximation_brackets_the_optimum_and_its_point_satisfies_every_log_sum_exp(trained_lenet,
                                                                                               mip_batch):
    """HiGHS on the ce program: the LP bound lies below the objective of its point, which satisfies every row and
    every log-sum-exp (each ``t`` lifted to it), and the two agree with Clarabel's optimum to 1e-6."""
    config = MIPConfig(loss="ce", relaxed=True, n_samples=3)
    instance = build_model(trained_lenet[1].model, mip_batch[0][:3], mip_batch[1][:3], config)[0].builder.instance
    run = solvers.solve_by_rows(highs, instance, config)
    assert run.status == "optimal" and run.dual <= run.primal
    assert run.primal == pytest.approx(float(instance.objective @ run.x + instance.offset), abs=1e-12)
    assert all(logsumexp(run.x[c.z]) <= run.x[c.t] + highs.LSE_TOL for c in instance.log_sum_exps())
    matrix, lo, hi = instance.linear_rows()
    assert violations(matrix, lo, hi, run.x).max() <= ROW_TOL
    cone = solvers.solve_by_rows(clarabel_cone, instance, config)
    assert _relative(run.primal, cone.primal) < 1e-6 and _relative(run.dual, cone.primal) < 1e-6


def test_planes_that_cut_off_nothing_end_in_a_stall_not_an_optimum(trained_fc3, mip_batch, monkeypatch):
    """The outer approximation claims an optimum only when its gap closes: with planes that never bind, its bound
    stays flat and it stops after :data:`highs.STALL_ROUNDS` rounds with a status that is not usable (``auto``
    moves on to SCIP), long before its time limit."""
    config = MIPConfig(loss="ce", relaxed=True, n_samples=2, time_limit=120.0)
    instance = build_model(trained_fc3[1].model, mip_batch[0][:2], mip_batch[1][:2], config)[0].builder.instance
    monkeypatch.setattr(highs, "_tangent", lambda t, z, at: (-1e6, np.array([t], dtype=np.int32), np.array([1.0])))
    run = highs.solve(instance, config)
    assert run.status == "insufficientprogress" not in solvers.USABLE and run.seconds < config.time_limit
    assert run.dual < run.primal - 1e-3  # the gap stayed open
