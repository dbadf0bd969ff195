"""SCIP parameters, solving with a clear outcome, statistics and instance export."""

from __future__ import annotations

import time
from pathlib import Path

import pyscipopt as scip

from benchmark.errors import ConfigError, SolverError
from benchmark.mip.config import MIPConfig

EXPORT_FORMATS = (".cip", ".mps", ".lp")
# SCIP heuristics that call the NLP solver (Ipopt); one of them aborts SCIP 10.0 on some ce-loss instances
NLP_HEURISTICS = ("subnlp", "mpec", "multistart", "nlpdiving", "undercover")


def configure(model: scip.Model, config: MIPConfig) -> None:
    """Time and node limits, relative gap, threads, random seed shift, and the NLP heuristics switch."""
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


def solve(model: scip.Model, config: MIPConfig) -> dict:
    """Optimise; returns the :class:`~benchmark.records.SolverStats` fields SCIP reports (outcome, effort, size,
    versions). Raises :class:`SolverError` when no feasible solution exists."""
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
    return {
        "status": status,
        "primal_bound": model.getPrimalbound(),
        "dual_bound": model.getDualbound(),
        "gap": model.getGap(),
        "nodes": model.getNNodes(),
        "lp_iterations": model.getNLPIterations(),
        **size,
        "solve_seconds": seconds,
        "scip_version": str(model.version()),
        "pyscipopt_version": scip.__version__,
    }
