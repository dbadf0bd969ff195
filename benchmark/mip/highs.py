"""HiGHS on the relaxed programs: the margin program, a linear program, with the recorded rows and bounds passed as
they are; the ce program by outer approximation (Kelley's cutting planes).

The ce program's only nonlinear constraints are its log-sum-exp epigraphs ``t >= log sum_k exp(z_k)``, one per
sample over the 10 logits. Each is replaced by tangent planes of the log-sum-exp, added where the LP's solution
violates it, until the gap closes: the LP's optimum is a lower bound (the planes relax the constraint), and its
solution with each ``t`` raised to its log-sum-exp is feasible, so its objective is an upper bound. On full-width
VGG-16 blocks, where Clarabel's interior point stalls near the ce optimum and SCIP's outer approximation does not
leave its root in 300 s, this closes the gap in about ten rounds (``results/vgg16-blocks/block_solve_cpu.md``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import highspy
import numpy as np
from scipy.special import logsumexp, softmax

from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance, Run, first_rows, most_violated

METHOD = "simplex"  # HiGHS's LP method; "ipm" (interior point, then crossover) is measured against it
ROWS_PER_ROUND = 0.5  # row generation's rows per variable and round (see benchmark.mip.solvers), measured
OA_GAP = 1e-7  # the outer approximation stops when its gap is at most this, relative to max(1, |bound|) ...
LSE_TOL = 1e-9  # ... or when no t lies further than this below its log-sum-exp
FEASIBILITY = 1e-8  # HiGHS's primal and dual feasibility tolerances (its default 1e-7 leaves OA_GAP out of reach)
STALL_ROUNDS = 20  # rounds in a row whose planes leave the LP's bound where it was: the approximation has stalled
PLANE_TERM = 1e-12  # a tangent plane leaves out the logits whose softmax weight is below this (see _tangent)
STATUSES = {"kOptimal": "optimal", "kTimeLimit": "timelimit", "kIterationLimit": "iterlimit",
            "kInfeasible": "infeasible", "kUnbounded": "unbounded", "kUnboundedOrInfeasible": "inforunbd",
            "kMemoryLimit": "memlimit", "kInterrupt": "userinterrupt"}


def version() -> str:
    """The HiGHS version, e.g. ``1.16.0``."""
    return f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"


@contextlib.contextmanager
def _quiet_stdout():
    """This process's stdout file descriptor sent to /dev/null (the first ``Highs()`` prints a banner there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _lp(instance: Instance) -> highspy.HighsLp:
    matrix, lo, hi = instance.linear_rows()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = instance.n_vars, matrix.shape[0]
    lp.col_cost_, lp.offset_ = instance.objective, instance.offset
    lp.col_lower_, lp.col_upper_, lp.row_lower_, lp.row_upper_ = instance.lb, instance.ub, lo, hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = instance.n_vars, matrix.shape[0]
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.indptr, matrix.indices, matrix.data
    return lp


def _highs(config: MIPConfig, method: str, planes: bool) -> highspy.Highs:
    with _quiet_stdout():
        highs = highspy.Highs()
    options = [("output_flag", False), ("threads", max(1, config.threads)), ("solver", method),
               ("random_seed", config.solver_seed)]
    if planes:  # the outer approximation's tolerances; the LP keeps HiGHS's defaults
        options += [("small_matrix_value", PLANE_TERM), ("primal_feasibility_tolerance", FEASIBILITY),
                    ("dual_feasibility_tolerance", FEASIBILITY)]
    for option, value in options:
        highs.setOptionValue(option, value)
    return highs


def _tangent(t: int, z: np.ndarray, at: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(lower side, columns, values)`` of the plane ``t - p @ z[K] >= lse(at[K]) - p @ at[K]``, tangent at
    ``at`` to the log-sum-exp over the logits ``K`` whose softmax weight at ``at`` is at least :data:`PLANE_TERM`
    (``p`` their softmax). A log-sum-exp over fewer terms is smaller and convex, so the plane cuts off no feasible
    point, and HiGHS keeps every coefficient (its ``small_matrix_value`` is set to :data:`PLANE_TERM`)."""
    keep = softmax(at) >= PLANE_TERM
    p = softmax(at[keep])
    return float(logsumexp(at[keep]) - p @ at[keep]), np.r_[t, z[keep]].astype(np.int32), np.r_[1.0, -p]


def _add_rows(highs: highspy.Highs, planes: list[tuple[float, np.ndarray, np.ndarray]]) -> None:
    for lower, cols, vals in planes:
        highs.addRow(lower, highspy.kHighsInf, len(cols), cols, vals)


def _lifted(instance: Instance, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` with each log-sum-exp's ``t`` raised to its value at ``x``'s logits (where it lay below), and how far
    each lay below."""
    lses = instance.log_sum_exps()
    below = np.array([logsumexp(x[c.z]) - x[c.t] for c in lses])
    lifted = x.copy()
    for c, gap in zip(lses, below):
        lifted[c.t] += max(gap, 0.0)
    return lifted, below


def generates_rows(instance: Instance) -> bool:
    """Whether :func:`solve` adds the program's rows itself, as they are violated: for the ce program, whose
    planes and rows then go into one LP, warm-started from round to round (row generation around the outer
    approximation would start both over each round)."""
    return bool(instance.log_sum_exps())


def _add_violated(highs: highspy.Highs, rows, keep: np.ndarray, x: np.ndarray, count: int) -> int:
    """Add to ``highs`` the (at most ``count``) rows left out (``~keep``) that ``x`` violates most; how many."""
    matrix, lo, hi = rows
    chosen = most_violated(rows, keep, x, count)
    if len(chosen):
        block = matrix[chosen]
        highs.addRows(len(chosen), lo[chosen], hi[chosen], block.nnz, block.indptr[:-1].astype(np.int32),
                      block.indices.astype(np.int32), block.data)
        keep[chosen] = True
    return len(chosen)


def solve(instance: Instance, config: MIPConfig, method: str = METHOD) -> Run:
    """Solve the relaxed program with HiGHS's ``method`` on ``config.threads`` threads within
    ``config.time_limit`` wall-clock seconds (HiGHS has no CPU clock). A linear program is solved as it is. The ce
    program's log-sum-exp epigraphs are approximated from the planes ``t >= z_k`` (outer approximation), and its
    rows start from :func:`~benchmark.mip.instance.first_rows` (row generation): each round adds the planes at the
    LP's point and the rows it violates most (at most :data:`ROWS_PER_ROUND` per variable). It is optimal when the
    point violates no row and the gap closes to :data:`OA_GAP`, or no ``t`` lies more than :data:`LSE_TOL` below its
    log-sum-exp (the gap is then at most that times the sum of the t's costs). :data:`STALL_ROUNDS` rounds in a row
    that add no row and do not raise the LP's bound end it as ``insufficientprogress``."""
    lses = instance.log_sum_exps()
    rows = instance.linear_rows()
    keep = first_rows(instance, rows) if lses else np.ones(len(rows[1]), dtype=bool)
    highs = _highs(config, method, planes=bool(lses))
    start = time.perf_counter()
    highs.passModel(_lp(instance.restricted(*rows, keep) if lses else instance))
    _add_rows(highs, [(0.0, np.array([c.t, k], dtype=np.int32), np.array([1.0, -1.0])) for c in lses for k in c.z])
    highs.setOptionValue("time_limit", float(config.time_limit))  # counts every run of this Highs (HiGHS < 2.0)
    per_round = max(1, int(ROWS_PER_ROUND * instance.n_vars))
    iterations, best, last, flat, cold, x = 0, np.inf, -np.inf, 0, False, None
    while True:
        highs.run()
        info = highs.getInfo()
        iterations += info.simplex_iteration_count + info.ipm_iteration_count + info.crossover_iteration_count
        status = STATUSES.get(highs.getModelStatus().name, "unknown")
        if status == "unknown" and not cold:  # a warm start ended in numerical trouble: solve this round cold
            highs.clearSolver()
            cold = True
            continue
        cold = False
        if status != "optimal":
            feasible = not lses and info.primal_solution_status == highspy.kSolutionStatusFeasible
            x = np.array(highs.getSolution().col_value) if feasible else None
            primal = info.objective_function_value if feasible else best
            return Run(status, primal, -np.inf, iterations, time.perf_counter() - start, x)
        bound = info.objective_function_value
        point, below = _lifted(instance, np.array(highs.getSolution().col_value))
        added = _add_violated(highs, rows, keep, point, per_round)
        value = float(instance.objective @ point + instance.offset)
        if not added and value < best:
            best, x = value, point
        seconds = time.perf_counter() - start
        if not added and (best - bound <= OA_GAP * max(1.0, abs(bound)) or not np.any(below > LSE_TOL)):
            return Run("optimal", best, bound, iterations, seconds, x)
        flat = flat + 1 if not added and bound <= last else 0  # a degenerate LP may keep its bound a few rounds
        if flat >= STALL_ROUNDS:
            return Run("insufficientprogress", best, bound, iterations, seconds, None)
        if seconds >= config.time_limit:
            return Run("timelimit", best, bound, iterations, seconds, None)
        last = max(last, bound)
        _add_rows(highs, [_tangent(c.t, c.z, point[c.z]) for c, gap in zip(lses, below) if gap > LSE_TOL])
