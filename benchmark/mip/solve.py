"""SCIP: the recorded program as a SCIP model, its parameters, solving with a clear outcome, statistics and
instance export."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyscipopt as scip

from benchmark.core.errors import ConfigError, SolverError
from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance, LogSumExp, Rows

EXPORT_FORMATS = (".cip", ".mps", ".lp")
# SCIP heuristics that call the NLP solver (Ipopt); one of them aborts SCIP 10.0 on some ce-loss instances
NLP_HEURISTICS = ("subnlp", "mpec", "multistart", "nlpdiving", "undercover")


class ScipModel(NamedTuple):
    """A SCIP model and its variables, indexed like the instance's."""

    model: scip.Model
    vars: list


def emit(instance: Instance) -> ScipModel:
    """The instance as a SCIP model: variables, then the constraints in their recorded order (linear rows built
    term by term, log-sum-exp as ``sum_k exp(z_k - t) <= 1``), then the objective."""
    model = scip.Model(instance.name)
    model.hideOutput()
    variables = []
    for group in instance.groups:
        for j in range(group.start, group.start + group.count):
            lo, hi = float(instance.lb[j]), float(instance.ub[j])
            variables.append(model.addVar(f"{group.prefix}_{j}", vtype=group.vtype, lb=None if lo == -np.inf else lo,
                                          ub=None if hi == np.inf else hi))
    for constraint in instance.constraints:
        if isinstance(constraint, LogSumExp):
            t = variables[constraint.t]
            model.addCons(scip.quicksum(scip.exp(variables[k] - t) for k in constraint.z.tolist()) <= 1.0)
        else:
            _add_rows(model, variables, constraint)
    terms = np.flatnonzero(instance.objective).tolist()
    objective = scip.quicksum(float(instance.objective[j]) * variables[j] for j in terms)
    model.setObjective(objective + instance.offset, "minimize")
    return ScipModel(model, variables)


def _add_rows(model: scip.Model, variables: list, rows: Rows) -> None:
    """Each row starts empty and takes its coefficients one by one, which is about three times as fast as
    building a PySCIPOpt expression first and gives the same constraint."""
    add = model.addCoefLinear
    for r, (lo, hi) in enumerate(zip(rows.lo.tolist(), rows.hi.tolist())):
        terms = slice(rows.indptr[r], rows.indptr[r + 1])
        if np.isfinite(lo) and np.isfinite(hi):
            row = model.addCons(lo <= (scip.Expr() <= hi))
        elif np.isfinite(lo):
            row = model.addCons(scip.Expr() >= lo)
        else:
            row = model.addCons(scip.Expr() <= hi)
        for c, j in zip(rows.vals[terms].tolist(), rows.cols[terms].tolist()):
            add(row, variables[j], c)


def configure(model: scip.Model, config: MIPConfig) -> None:
    """Time (CPU seconds) and node limits, relative gap, threads, random seed shift, and the NLP heuristics."""
    model.setParam("timing/clocktype", 1)
    model.setParam("limits/time", config.time_limit)
    model.setParam("limits/nodes", config.node_limit)
    model.setParam("limits/gap", config.gap)
    model.setParam("randomization/randomseedshift", config.solver_seed)
    model.setParam("parallel/maxnthreads", max(1, config.threads))
    if not config.nlp_heuristics:
        for heuristic in NLP_HEURISTICS:
            model.setParam(f"heuristics/{heuristic}/freq", -1)


def export(model: scip.Model, path: str | Path, config: MIPConfig) -> Path:
    """Write the instance as .cip, .mps or .lp (the nonlinear ``ce`` loss only fits .cip)."""
    path = Path(path)
    if path.suffix not in EXPORT_FORMATS:
        raise ConfigError(f"cannot export to {path.name}: use one of {', '.join(EXPORT_FORMATS)}")
    if config.loss == "ce" and path.suffix != ".cip":
        raise ConfigError(f"the ce loss is nonlinear and SCIP cannot write it as {path.suffix}; "
                          "export to .cip or use --loss margin")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.writeProblem(str(path), verbose=False)
    return path


def offer_start(scip_model: ScipModel, start: np.ndarray) -> bool:
    """Offer the dense network's solution ``start`` to SCIP; True if SCIP accepted it as feasible."""
    if not np.isfinite(start).all():
        return False
    model = scip_model.model
    solution = model.createSol()
    for var, value in zip(scip_model.vars, start.tolist()):
        model.setSolVal(solution, var, value)
    feasible = bool(model.checkSol(solution, printreason=False, original=True))
    if feasible:
        model.addSol(solution, free=True)
    return feasible


def solve(scip_model: ScipModel, config: MIPConfig) -> tuple[dict, np.ndarray]:
    """Optimise; returns the :class:`~benchmark.core.records.SolverStats` fields SCIP reports (outcome, effort, size,
    versions) and the best solution's value of every variable. Raises :class:`SolverError` when no feasible
    solution exists."""
    model = scip_model.model
    size = {"variables": model.getNVars(), "binaries": model.getNBinVars(), "constraints": model.getNConss()}
    start = time.perf_counter()
    if config.threads > 1:
        model.solveConcurrent()
    else:
        model.optimize()
    seconds = time.perf_counter() - start
    status = model.getStatus()
    if model.getNSols() == 0:
        raise SolverError(f"SCIP found no feasible solution (status: {status}, after {seconds:.1f} s)")
    solution = model.getBestSol()
    outcome = {
        "status": status,
        "primal_bound": model.getPrimalbound(),
        "dual_bound": model.getDualbound(),
        "gap": model.getGap(),
        "nodes": model.getNNodes(),
        "lp_iterations": model.getNLPIterations(),
        **size,
        "solve_seconds": seconds,
        "solver": "scip",
        "solver_version": str(model.version()),
        "scip_version": str(model.version()),
        "pyscipopt_version": scip.__version__,
    }
    return outcome, np.array([solution[var] for var in scip_model.vars])
