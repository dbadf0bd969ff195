"""HiGHS on the relaxed margin program, a linear program: the recorded rows and bounds passed as they are."""

from __future__ import annotations

import contextlib
import os
import sys
import time

import highspy
import numpy as np

from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance, Run

METHOD = "simplex"  # HiGHS's LP method; "ipm" (interior point, then crossover) is measured against it
ROWS_PER_ROUND = 0.5  # row generation's rows per variable and round (see benchmark.mip.solvers), measured
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


def solve(instance: Instance, config: MIPConfig, method: str = METHOD) -> Run:
    """Solve the linear program with HiGHS's ``method`` on ``config.threads`` threads within ``config.time_limit``
    wall-clock seconds (HiGHS has no CPU clock)."""
    with _quiet_stdout():
        highs = highspy.Highs()
    for option, value in (("output_flag", False), ("threads", max(1, config.threads)), ("solver", method),
                          ("time_limit", float(config.time_limit)), ("random_seed", config.solver_seed)):
        highs.setOptionValue(option, value)
    start = time.perf_counter()
    highs.passModel(_lp(instance))
    highs.run()
    seconds = time.perf_counter() - start
    info = highs.getInfo()
    status = STATUSES.get(highs.getModelStatus().name, "unknown")
    feasible = info.primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.array(highs.getSolution().col_value) if feasible else None
    primal = info.objective_function_value if feasible else np.inf
    dual = primal if status == "optimal" else -np.inf  # optimal: primal and dual agree within HiGHS's tolerances
    iterations = info.simplex_iteration_count + info.ipm_iteration_count + info.crossover_iteration_count
    return Run(status, primal, dual, iterations, seconds, x)
