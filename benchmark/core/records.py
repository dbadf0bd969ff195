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

    def measured(self, finetuned: bool = True, retrained: bool = True) -> dict:
        """The fields as keyword arguments of a stage's record: all of them, the fine-tuned or the retrained
        accuracy left out where the record has no such field."""
        left_out = {name for name, keep in (("finetuned_accuracy", finetuned), ("retrained_accuracy", retrained))
                    if not keep}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in left_out}


class StageRecord:
    """Base of a stage's typed record (one dataclass per stage kind). Its fields are its row's columns (a
    ``None`` field, not measured, is left out); the dict fields named in ``FLATTENED`` give their items as
    columns of their own (a method's ``evaluation_columns``, the compacted ticket's cost). ``REPORTED`` names the
    columns :mod:`benchmark.report` reads: the report's column contract is derived from it."""

    FLATTENED: ClassVar[tuple[str, ...]] = ()
    REPORTED: ClassVar[tuple[str, ...]] = ()

    def row(self) -> dict:
        """The record as the stored row's columns."""
        out = {}
        for name in (f.name for f in dataclasses.fields(self)):
            value = getattr(self, name)
            if name in self.FLATTENED:
                out.update(value)
            elif value is not None:
                out[name] = value
        return out

    @classmethod
    def reported(cls, required: bool) -> tuple[str, ...]:
        """The reported columns every row carries (``required``: fields without a default) or that may be
        absent."""
        fields = {f.name: f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                  for f in dataclasses.fields(cls)}
        return tuple(name for name in cls.REPORTED if fields[name] == required)


@dataclass(frozen=True)
class TrainRecord(StageRecord):
    """The dense network: its test accuracy, size, epochs, hash and the device it trained on (which differs from
    the stage's when a model trained elsewhere was found in the cache)."""

    test_accuracy: float
    parameters: int
    units: int  # prunable units
    epochs: int
    train_hash: str
    trained_on: str
    REPORTED: ClassVar[tuple[str, ...]] = ("test_accuracy", "parameters", "units")


@dataclass(frozen=True)
class PruneRecord(StageRecord):
    """A mask: what it removes, per layer the units kept and the layer sizes, its digest, the method's statistics
    and options, the compacted ticket's cost and, for scores in [0, 1], how many per layer sit at 0, 1 and
    between."""

    params_removed: float
    kept: dict
    sizes: dict
    mask_sha: str
    stats: dict
    options: dict
    cost: dict
    score_levels: dict
    neurons_removed: float | None = None
    params_removed_official: float | None = None
    REPORTED: ClassVar[tuple[str, ...]] = ("kept", "sizes", "score_levels", "options", "neurons_removed")


@dataclass(frozen=True)
class EvaluateRecord(StageRecord):
    """The pruned network on the source test set, without and (with ``finetune_epochs``) after fine-tuning, with
    the compacted ticket's cost and the method's own columns (the MIP's solver statistics)."""

    dense_accuracy: float
    pruned_accuracy: float
    params_removed: float
    finetune_epochs: int
    neurons_removed: float | None = None
    params_removed_official: float | None = None
    finetuned_accuracy: float | None = None
    cost: dict = dataclasses.field(default_factory=dict)
    method_columns: dict = dataclasses.field(default_factory=dict)
    FLATTENED: ClassVar[tuple[str, ...]] = ("cost", "method_columns")
    REPORTED: ClassVar[tuple[str, ...]] = ("dense_accuracy", "pruned_accuracy", "params_removed",
                                           "finetuned_accuracy", "neurons_removed", "params_removed_official")


@dataclass(frozen=True)
class RetrainRecord(StageRecord):
    """The ticket rewound to its rewind point and retrained on the source for ``retrain_epochs``."""

    dense_accuracy: float
    pruned_accuracy: float
    retrained_accuracy: float
    params_removed: float
    retrain_epochs: int
    neurons_removed: float | None = None
    params_removed_official: float | None = None
    REPORTED: ClassVar[tuple[str, ...]] = ("retrained_accuracy", "params_removed", "neurons_removed",
                                           "params_removed_official")


@dataclass(frozen=True)
class TransferRecord(StageRecord):
    """The mask rewound to the source's theta_0 and trained on ``target_dataset`` (``control="random"``: a random
    mask with the same per-layer counts instead)."""

    target_dataset: str
    control: str
    transfer_epochs: int
    transfer_accuracy: float
    params_removed: float
    neurons_removed: float | None = None
    params_removed_official: float | None = None
    REPORTED: ClassVar[tuple[str, ...]] = ("target_dataset", "transfer_accuracy", "control", "params_removed",
                                           "neurons_removed")
