"""Clarabel (an interior-point conic solver) on the relaxed programs: the recorded rows and bounds as zero and
nonnegative cones, each ce epigraph ``t >= log sum_k exp(z_k)`` as ``sum_k u_k <= 1`` with ``(z_k - t, 1, u_k)``
in the exponential cone ``{(a, b, c): b exp(a/b) <= c, b > 0}`` (the ``u_k`` are variables of its own)."""

from __future__ import annotations

import time

import clarabel
import numpy as np
from scipy import sparse

from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance, Run

METHOD = "qdldl"  # Clarabel's direct KKT solver; "faer" (supernodal, threaded) is measured against it
ROWS_PER_ROUND = 1.0  # row generation's rows per variable and round (see benchmark.mip.solvers), measured
STATUSES = {"Solved": "optimal", "AlmostSolved": "optimal_inaccurate", "MaxTime": "timelimit",
            "MaxIterations": "iterlimit", "PrimalInfeasible": "infeasible", "DualInfeasible": "unbounded"}


def version() -> str:
    """The Clarabel version, e.g. ``0.11.1``."""
    return clarabel.__version__


def _select(rows: np.ndarray, width: int) -> sparse.csr_array:
    """The unit rows ``e_j`` for ``j`` in ``rows``, ``width`` columns wide."""
    return sparse.csr_array((np.ones(len(rows)), (np.arange(len(rows)), rows)), shape=(len(rows), width))


def _linear_cones(instance: Instance, width: int) -> tuple[list, list, list]:
    """(A blocks, b blocks, cones) of ``A x + s = b``: equalities with s in the zero cone, then every finite
    inequality side and variable bound with s >= 0."""
    matrix, lo, hi = instance.linear_rows()
    matrix.resize(matrix.shape[0], width)
    equal = lo == hi
    upper, lower = np.flatnonzero(np.isfinite(hi) & ~equal), np.flatnonzero(np.isfinite(lo) & ~equal)
    fixed = instance.lb == instance.ub
    ub, lb = np.flatnonzero(np.isfinite(instance.ub) & ~fixed), np.flatnonzero(np.isfinite(instance.lb) & ~fixed)
    zero_a = [matrix[np.flatnonzero(equal)], _select(np.flatnonzero(fixed), width)]
    zero_b = [lo[equal], instance.lb[fixed]]
    nonneg_a = [matrix[upper], -matrix[lower], _select(ub, width), -_select(lb, width)]
    nonneg_b = [hi[upper], -lo[lower], instance.ub[ub], -instance.lb[lb]]
    counts = sum(len(b) for b in zero_b), sum(len(b) for b in nonneg_b)
    return zero_a + nonneg_a, zero_b + nonneg_b, [clarabel.ZeroConeT(counts[0]), clarabel.NonnegativeConeT(counts[1])]


def _exp_cones(instance: Instance, width: int) -> tuple[list, list, list]:
    """(A blocks, b blocks, cones) of every log-sum-exp: ``sum_k u_k <= 1`` (nonnegative), then per k the rows
    of ``(z_k - t, 1, u_k)`` in the exponential cone; the u's are the variables after the instance's."""
    lses = instance.log_sum_exps()
    sizes = np.array([len(c.z) for c in lses])
    u = instance.n_vars + np.arange(sizes.sum())
    owner = np.repeat(np.arange(len(lses)), sizes)
    sums = sparse.csr_array((np.ones(len(u)), (owner, u)), shape=(len(lses), width))
    z = np.concatenate([c.z for c in lses])
    t = np.array([c.t for c in lses])[owner]
    triples = 3 * np.arange(len(u))
    rows = np.concatenate([triples, triples, triples + 2])
    cols = np.concatenate([z, t, u])
    vals = np.concatenate([-np.ones(len(u)), np.ones(len(u)), -np.ones(len(u))])
    cone = sparse.csr_array((vals, (rows, cols)), shape=(3 * len(u), width))
    b = np.zeros(3 * len(u))
    b[triples + 1] = 1.0
    return [sums, cone], [np.ones(len(lses)), b], [clarabel.NonnegativeConeT(len(lses))] + [
        clarabel.ExponentialConeT()] * len(u)


def solve(instance: Instance, config: MIPConfig, method: str = METHOD) -> Run:
    """Solve the conic program with Clarabel's ``method`` on ``config.threads`` threads within
    ``config.time_limit`` wall-clock seconds (Clarabel has no CPU clock)."""
    width = instance.n_vars + sum(len(c.z) for c in instance.log_sum_exps())
    a, b, cones = _linear_cones(instance, width)
    if instance.log_sum_exps():
        exp_a, exp_b, exp_cones = _exp_cones(instance, width)
        a, b, cones = a + exp_a, b + exp_b, cones + exp_cones
    settings = clarabel.DefaultSettings()
    settings.verbose, settings.time_limit = False, float(config.time_limit)
    settings.max_threads, settings.direct_solve_method = max(1, config.threads), method
    q = np.concatenate([instance.objective, np.zeros(width - instance.n_vars)])
    start = time.perf_counter()
    solver = clarabel.DefaultSolver(sparse.csc_matrix((width, width)), q, sparse.csc_matrix(sparse.vstack(a)),
                                    np.concatenate(b), cones, settings)
    solution = solver.solve()
    seconds = time.perf_counter() - start
    name = str(solution.status)
    status = STATUSES.get(name, name.lower())
    x = np.array(solution.x)[: instance.n_vars] if status in ("optimal", "optimal_inaccurate") else None
    return Run(status, solution.obj_val + instance.offset, solution.obj_val_dual + instance.offset,
               solution.iterations, seconds, x)
