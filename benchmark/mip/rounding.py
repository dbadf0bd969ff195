"""A primal heuristic for the exact program (:attr:`MIPConfig.rounding_start`): round the relaxed program's
solution, re-solve its continuous part, and start SCIP from that point instead of from the dense network alone.

The exact program's only binaries are the ReLU indicators ``v``; the unit scores are continuous in [0,1] (the
mask thresholds them afterwards). So the heuristic rounds the indicators, not the scores:

1. The relaxation: the recorded program with ``v`` continuous, solved by row generation
   (:func:`~benchmark.mip.solvers.solve_by_rows`) on the solvers ``auto`` takes for it, in turn, until one returns
   a usable point (:attr:`~benchmark.mip.config.MIPConfig.solver_order` short of SCIP: HiGHS, or Clarabel under
   ``sum_largest`` unless decoupled, then the other).
2. Rounding: each ``v`` fixed to 1 where its relaxed value is at least 0.5, to 0 below.
3. The continuous part (scores, activations, logits, loss) re-solved with ``v`` fixed, on the same solver: a
   convex program. Each ce epigraph variable is then set to ``log sum_k exp(z_k)`` (plus :data:`LSE_SLACK`), as
   the dense start sets it.
4. The point goes to SCIP's own feasibility check on the original program; SCIP keeps it as a start when it
   passes. When the rounded ``v`` leave no feasible continuous part, or SCIP rejects the point, the rounding
   turns conservative: ``v`` of the dense network where the relaxation is unsure (strictly between 0.1 and 0.9),
   then ``v`` of the dense network everywhere. That last program contains the dense start, so its optimum is
   never worse than it (and better wherever a score can move off 1); after it SCIP has the dense start alone.

(Rounding the scores to a 0/1 pattern and completing the indicators instead was tried first: on LeNet-5 under
``bounds = "dense"``, which pin hidden pre-activations near the dense ones, no rounded pattern was feasible.)
The heuristic's CPU seconds come out of SCIP's time limit, so ``time_limit`` stays the budget of the whole solve.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from benchmark.mip import solve as scip_solver
from benchmark.mip import solvers
from benchmark.mip.affine import Builder
from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance

UNSURE = (0.1, 0.9)  # relaxed indicators strictly inside: the dense value in the conservative rounding
LSE_SLACK = 1e-9  # t_n = log sum exp(z_n) + LSE_SLACK, as the dense start sets it
ROUNDINGS = ("rounded", "unsure-dense", "dense")


@dataclass(frozen=True)
class RoundingStart:
    """What the heuristic gave SCIP: whether a start was accepted, its objective, which rounding of
    :data:`ROUNDINGS` made it and every variable's value (None without one), and the heuristic's CPU seconds."""

    accepted: bool
    objective: float | None
    rounding: str | None
    cpu_seconds: float
    point: np.ndarray | None = None


def continuous_solve(instance: Instance, config: MIPConfig) -> np.ndarray | None:
    """The program with every binary made continuous in its bounds, solved by row generation on the relaxed
    program's solvers in ``auto``'s order (each with the whole time limit, as :func:`benchmark.mip.solvers.solve`
    gives them) until one returns a usable point; that point, or None."""
    relaxed = dataclasses.replace(config, relaxed=True, solver="auto", rounding_start=False)
    program = dataclasses.replace(instance, groups=[dataclasses.replace(g, vtype="C") for g in instance.groups])
    run = solvers.first_usable(program, relaxed)[1]  # SCIP, the last resort, is the exact solve that follows
    return None if run is None else run.x


def roundings(relaxed: np.ndarray, dense: np.ndarray):
    """The indicator values tried, in turn, with their names: :data:`ROUNDINGS`."""
    rounded = (relaxed >= 0.5).astype(float)
    unsure = (relaxed > UNSURE[0]) & (relaxed < UNSURE[1])
    yield "rounded", rounded
    if unsure.any():
        yield "unsure-dense", np.where(unsure, dense, rounded)
    yield "dense", dense


def fixed_point(instance: Instance, ids: np.ndarray, values: np.ndarray, config: MIPConfig) -> np.ndarray | None:
    """Every variable's value with the binaries ``ids`` fixed to ``values`` and the continuous part re-solved,
    each ce epigraph variable then set to its log-sum-exp; None when that part has no solution."""
    lb, ub = instance.lb.copy(), instance.ub.copy()
    lb[ids] = ub[ids] = values
    x = continuous_solve(dataclasses.replace(instance, lb=lb, ub=ub), config)
    if x is None:
        return None
    x = np.clip(x, lb, ub)
    for c in instance.log_sum_exps():
        x[c.t] = float(np.logaddexp.reduce(x[c.z])) + LSE_SLACK
    return x


def rounding_start(builder: Builder, config: MIPConfig) -> RoundingStart:
    """Run the heuristic and offer its point to the builder's SCIP model (see the module text); SCIP's time limit
    becomes what is left of ``config.time_limit`` after the heuristic's CPU seconds."""
    cpu = time.process_time()
    instance = builder.instance
    ids = instance.binary_ids()
    relaxed = continuous_solve(instance, config)
    accepted = None
    for name, values in roundings(relaxed[ids], instance.start[ids]) if relaxed is not None else ():
        x = fixed_point(instance, ids, values, config)
        if x is not None and scip_solver.offer_start(builder.scip, x):
            accepted = (float(instance.objective @ x + instance.offset), name, x)
            break
    seconds = time.process_time() - cpu
    builder.scip.model.setParam("limits/time", max(config.time_limit - seconds, 1e-3))
    if accepted is None:
        return RoundingStart(False, None, None, seconds)
    objective, name, x = accepted
    return RoundingStart(True, objective, name, seconds, x)
