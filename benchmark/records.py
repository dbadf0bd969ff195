"""Typed records that results carry, instead of free-form dicts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SolverStats:
    """What one MIP solve (or a decoupled set of sub-MIPs, summed) reports."""

    """Outcome: the status in SCIP's words (``optimal``, ``gaplimit``, ``timelimit``, ``nodelimit``, ...; from
    Clarabel also ``optimal_inaccurate``), the best objective found, the proven bound and SCIP's relative gap
    between them."""
    status: str
    primal_bound: float
    dual_bound: float
    gap: float

    """Effort: branch-and-bound nodes (0 for HiGHS and Clarabel), simplex or interior-point iterations, and
    wall-clock seconds to solve and to build."""
    nodes: int
    lp_iterations: int
    solve_seconds: float
    build_seconds: float

    """Size of the instance the solver saw, and of the encoding: ReLU elements before and after stable units were
    left without an indicator (stable off / stable on), and rows the builder emitted."""
    variables: int
    binaries: int
    constraints: int
    binaries_before_stable_removal: int
    binaries_after_stable_removal: int
    stable_inactive: int
    stable_active: int
    rows_emitted: int

    """How the solution became a mask: whether SCIP accepted the dense network as a start (the other solvers
    take none), the pruning threshold, the layers where the empty-layer guard kept one unit, and human-readable
    warnings."""
    dense_start_accepted: bool
    threshold: float
    empty_layer_guard: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    """Software, so a result can be traced to what produced it: the solver (``scip``, ``highs``, ``clarabel``;
    records made before there was a choice are SCIP's) and its version, and SCIP's and PySCIPOpt's versions when
    SCIP solved."""
    solver: str = "scip"
    solver_version: str = ""
    scip_version: str = ""
    pyscipopt_version: str = ""

    # the rounding start (MIPConfig.rounding_start, benchmark.mip.rounding): whether SCIP accepted it, and its
    # objective (None without one)
    rounding_start_accepted: bool = False
    rounding_start_objective: float | None = None

    SUMMARY: ClassVar[tuple[str, ...]] = ("status", "gap", "nodes", "lp_iterations", "binaries",
                                          "binaries_before_stable_removal", "build_seconds", "solve_seconds",
                                          "solver", "solver_version")  # what a one-screen report shows

    def as_dict(self) -> dict:
        """The fields as a plain, JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> SolverStats:
        """The record :meth:`as_dict` wrote (lists become tuples again)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class Evaluation:
    """A pruned network measured on the source test set: accuracies (fractions) and what the mask removes."""

    dense_accuracy: float
    pruned_accuracy: float  # the mask applied to the trained weights, no fine-tuning
    params_removed: float  # fraction of all parameters, the dead outgoing weights included
    neurons_removed: float | None = None  # fraction of prunable units (neuron-level masks only)
    params_removed_official: float | None = None  # the official code's count: pruned units' incoming weights only
    finetuned_accuracy: float | None = None  # after fine-tuning the pruned weights, when asked
    retrained_accuracy: float | None = None  # the ticket retrained from its rewind point, when asked

    def as_dict(self) -> dict:
        """The fields as a plain dict, leaving out what was not measured."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
