"""Solve the recorded program on the solver its config names (:attr:`MIPConfig.backend`), with one outcome.

SCIP runs every program, on its SCIP model (:mod:`.solve`); HiGHS (:mod:`.highs`) and Clarabel
(:mod:`.clarabel_cone`) the relaxed programs, from the same recorded instance. Every solver's outcome
has the fields of :class:`~benchmark.core.records.SolverStats` that SCIP reports, statuses in SCIP's words.

Under ``solver = "auto"`` a relaxed program goes to HiGHS first (the measured fastest; Clarabel, an interior point,
under ``sum_largest``, whose optimum can be a face), and down the program's list
of solvers (:attr:`~benchmark.mip.config.MIPConfig.solver_order`, ending with SCIP, which runs every program) where
one returns no usable point: on full-width VGG-16 blocks Clarabel stalls near the ce optimum
(``insufficientprogress``) where HiGHS's outer approximation certifies it (``results/vgg16-blocks/block_solve_cpu.md``).
Each solver gets a time limit of its own, and the outcome says what happened first (``warnings``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from benchmark.core.errors import SolverError
from benchmark.mip import clarabel_cone, highs
from benchmark.mip import solve as scip_solver
from benchmark.mip.affine import Builder
from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance, Run, first_rows, most_violated

BACKENDS = {"highs": highs, "clarabel": clarabel_cone}
USABLE = ("optimal", "optimal_inaccurate")  # statuses whose point is taken (the official code took both)


def relative_gap(primal: float, dual: float) -> float:
    """SCIP's relative gap ``|primal - dual| / min(|primal|, |dual|)``: 0 when equal, infinite when the signs
    differ or one of them is 0 or infinite."""
    if primal == dual:
        return 0.0
    if primal * dual <= 0 or not np.isfinite(primal * dual):
        return float("inf")
    return abs(primal - dual) / min(abs(primal), abs(dual))


def outcome(run: Run, instance: Instance, solver: str, version: str) -> dict:
    """The :class:`~benchmark.core.records.SolverStats` fields of a HiGHS or Clarabel run (no branch and bound:
    0 nodes; ``lp_iterations`` counts the solver's iterations)."""
    return {"status": run.status, "primal_bound": run.primal, "dual_bound": run.dual,
            "gap": relative_gap(run.primal, run.dual), "nodes": 0, "lp_iterations": run.iterations,
            "variables": instance.n_vars, "binaries": instance.binaries(),
            "constraints": instance.n_rows() + len(instance.log_sum_exps()), "solve_seconds": run.seconds,
            "solver": solver, "solver_version": version, "scip_version": "", "pyscipopt_version": ""}


def solve_by_rows(backend, instance: Instance, config: MIPConfig, **options) -> Run:
    """``backend.solve`` with row generation: from the first rows (:func:`~benchmark.mip.instance.first_rows`:
    the equalities and the rows that bound the objective), solve, then add the most violated
    rows (at most ``backend.ROWS_PER_ROUND`` per variable), until the solution violates none (beyond
    :data:`ROW_TOL`). Each round is a relaxation, so its dual bound holds for the full program, and its solution,
    feasible for every row, is optimal. (LeNet-5's relaxed programs have some 15,000 rows on a few hundred
    variables, a few hundred of them active at the optimum: interior point slows down many times over on the
    rows that are never active, and simplex too on the LP.) A backend that generates the rows itself for this
    program (:func:`benchmark.mip.highs.generates_rows`) gets the whole instance."""
    if getattr(backend, "generates_rows", lambda instance: False)(instance):
        return backend.solve(instance, config, **options)
    matrix, lo, hi = instance.linear_rows()
    keep = first_rows(instance, (matrix, lo, hi))
    per_round = max(1, int(backend.ROWS_PER_ROUND * instance.n_vars))
    start, iterations = time.perf_counter(), 0
    while True:
        left = config.time_limit - (time.perf_counter() - start)
        run = backend.solve(instance.restricted(matrix, lo, hi, keep), dataclasses.replace(
            config, time_limit=max(left, 1e-3)), **options)
        iterations += run.iterations
        seconds = time.perf_counter() - start
        if run.x is None:
            return dataclasses.replace(run, iterations=iterations, seconds=seconds)
        chosen = most_violated((matrix, lo, hi), keep, run.x, per_round)
        if not len(chosen):
            return dataclasses.replace(run, iterations=iterations, seconds=seconds)
        if seconds >= config.time_limit:
            return Run("timelimit", np.inf, run.dual, iterations, seconds, None)
        keep[chosen] = True


def _scip(builder: Builder, config: MIPConfig) -> tuple[dict, np.ndarray, bool]:
    accepted = scip_solver.offer_start(builder.scip, builder.start)
    return (*scip_solver.solve(builder.scip, config), accepted)


def first_usable(instance: Instance, config: MIPConfig) -> tuple[str | None, Run | None, list[str], float]:
    """``instance`` solved by row generation on the solvers of ``config.solver_order`` short of SCIP (the last
    resort), in turn, until one returns a usable point: that solver's name and run (None, None when none does),
    and the failures before it with their seconds."""
    failures, seconds = [], 0.0
    for name in (name for name in config.solver_order if name in BACKENDS):
        run = solve_by_rows(BACKENDS[name], instance, config)
        if run.status in USABLE and run.x is not None:
            return name, run, failures, seconds
        failures.append(f"{name} found no usable solution (status: {run.status}, after {run.seconds:.1f} s)")
        seconds += run.seconds
    return None, None, failures, seconds


def solve(builder: Builder, config: MIPConfig) -> tuple[dict, np.ndarray, bool]:
    """Solve the program; returns the outcome, every variable's value, and whether the solver took the dense
    network as its start (SCIP only). Under ``solver = "auto"`` a solver that returns no usable point hands the
    program to the next of :attr:`~benchmark.mip.config.MIPConfig.solver_order` (each with the whole time limit; the
    outcome's ``warnings`` say so, and its seconds count them all); a solver named by the config that does raises
    :class:`SolverError`."""
    name, run, failures, seconds = first_usable(builder.instance, config)
    if run is not None:
        found, x, accepted = outcome(run, builder.instance, name, BACKENDS[name].version()), run.x, False
    elif "scip" in config.solver_order:
        if failures:
            scip_solver.configure(builder.scip.model, config)
        name, (found, x, accepted) = "scip", _scip(builder, config)
    else:
        raise SolverError(f"{failures[-1]}; raise --time-limit or use --solver scip")
    if failures:
        found = {**found, "solve_seconds": found["solve_seconds"] + seconds,
                 "warnings": tuple(f"{failure}; {name} solved the same program instead (solver = auto)"
                                   for failure in failures)}
    return found, x, accepted
