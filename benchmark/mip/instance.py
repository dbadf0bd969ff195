"""The OAMIP program as the builder records it, whatever solver runs it.

Variables (bounds, continuous or binary, a value in the dense network's solution, a name prefix), constraints in
the order they were made (blocks of sparse linear rows ``lo <= a @ x <= hi``, and the ce loss's log-sum-exp
epigraphs ``t >= log sum_k exp(z_k)``), and a linear objective to minimise. The solver modules turn it into their
own model: :mod:`.solve` (SCIP), :mod:`.highs`, :mod:`.clarabel_cone`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

ROW_TOL = 1e-8  # a row is violated beyond ROW_TOL * max(1, |side|)


def violations(matrix, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """How far ``x`` violates each row ``lo <= matrix @ x <= hi``, relative to ``max(1, |side|)`` (<= 0: not)."""
    activity = matrix @ x
    with np.errstate(invalid="ignore"):
        return np.fmax((lo - activity) / np.maximum(1.0, np.abs(lo)), (activity - hi) / np.maximum(1.0, np.abs(hi)))


def most_violated(rows: tuple, keep: np.ndarray, x: np.ndarray, count: int) -> np.ndarray:
    """The (at most ``count``, in order) rows of ``rows = (matrix, lo, hi)`` left out (``~keep``) that ``x``
    violates most beyond :data:`ROW_TOL`: row generation's next rows."""
    violation = violations(*rows, x)
    violated = np.flatnonzero((violation > ROW_TOL) & ~keep)
    return np.sort(violated[np.argsort(-violation[violated])[:count]])


def first_rows(instance: Instance, rows: tuple) -> np.ndarray:
    """Row generation's first rows of ``rows = (matrix, lo, hi)``: every equality, and every row on a variable the
    objective pushes toward an infinite bound (``sum_largest``'s threshold, an unbounded epigraph), without which
    the first round would be unbounded. A mask over the rows."""
    matrix, lo, hi = rows
    cost = instance.objective
    pushed = ((cost > 0) & ~np.isfinite(instance.lb)) | ((cost < 0) & ~np.isfinite(instance.ub))
    return (lo == hi) | (abs(matrix) @ pushed.astype(float) > 0)


@dataclass(frozen=True)
class Rows:
    """``lo <= a @ x <= hi`` for a block of rows: row r has the terms ``vals[indptr[r]:indptr[r+1]]`` on the
    variables ``cols[indptr[r]:indptr[r+1]]``, in the order a solver receives them."""

    indptr: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


@dataclass(frozen=True)
class LogSumExp:
    """``t >= log sum_k exp(z_k)``: one sample's cross-entropy epigraph, a convex exponential-cone constraint."""

    t: int
    z: np.ndarray


@dataclass(frozen=True)
class VarGroup:
    """Variables ``start .. start+count-1``, named ``{prefix}_{id}``, of type ``vtype`` ('C' or 'B')."""

    start: int
    count: int
    prefix: str
    vtype: str


@dataclass
class Instance:
    """Variables, constraints (in order) and the objective ``objective @ x + offset`` of one program."""

    name: str = "oamip"
    lb: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ub: np.ndarray = field(default_factory=lambda: np.zeros(0))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the dense network's solution (every score 1)
    groups: list[VarGroup] = field(default_factory=list)
    constraints: list[Rows | LogSumExp] = field(default_factory=list)
    objective: np.ndarray = field(default_factory=lambda: np.zeros(0))
    offset: float = 0.0

    @property
    def n_vars(self) -> int:
        """How many variables there are."""
        return len(self.lb)

    def add_vars(self, count: int, lb, ub, vtype: str, prefix: str, start) -> np.ndarray:
        """Append ``count`` variables with (scalar or per-variable) bounds and start values; returns their ids."""
        first = self.n_vars

        def grown(old, value):
            return np.concatenate([old, np.broadcast_to(np.asarray(value, dtype=float), (count,))])

        self.lb, self.ub, self.start = grown(self.lb, lb), grown(self.ub, ub), grown(self.start, start)
        self.objective = grown(self.objective, 0.0)
        self.groups.append(VarGroup(first, count, prefix, vtype))
        return np.arange(first, first + count)

    def add_objective(self, ids: np.ndarray, coefs: np.ndarray, offset: float = 0.0) -> None:
        """Add ``coefs @ x[ids] + offset`` to the objective."""
        np.add.at(self.objective, ids, coefs)
        self.offset += offset

    def var_name(self, j: int) -> str:
        """The name of variable ``j``."""
        group = next(g for g in self.groups if g.start <= j < g.start + g.count)
        return f"{group.prefix}_{j}"

    def binary_ids(self) -> np.ndarray:
        """The ids of the binary variables, in order."""
        return np.concatenate([np.arange(g.start, g.start + g.count) for g in self.groups if g.vtype == "B"]
                              + [np.zeros(0, dtype=int)])

    def binaries(self) -> int:
        """How many variables are binary."""
        return len(self.binary_ids())

    def log_sum_exps(self) -> list[LogSumExp]:
        """The log-sum-exp constraints, in order."""
        return [c for c in self.constraints if isinstance(c, LogSumExp)]

    def linear_rows(self) -> tuple[sparse.csr_array, np.ndarray, np.ndarray]:
        """Every linear row as one (rows x variables) CSR matrix, with its lower and upper sides."""
        blocks = [c for c in self.constraints if isinstance(c, Rows)]
        if not blocks:
            return sparse.csr_array((0, self.n_vars)), np.zeros(0), np.zeros(0)
        offsets = np.cumsum([0] + [b.indptr[-1] for b in blocks[:-1]])
        indptr = np.concatenate([[0]] + [b.indptr[1:] + o for b, o in zip(blocks, offsets)])
        matrix = sparse.csr_array((np.concatenate([b.vals for b in blocks]), np.concatenate([b.cols for b in blocks]),
                                   indptr), shape=(len(indptr) - 1, self.n_vars))
        matrix.sum_duplicates()
        return matrix, np.concatenate([b.lo for b in blocks]), np.concatenate([b.hi for b in blocks])

    def n_rows(self) -> int:
        """How many linear rows there are."""
        return sum(len(c.lo) for c in self.constraints if isinstance(c, Rows))

    def restricted(self, matrix: sparse.csr_array, lo: np.ndarray, hi: np.ndarray, keep: np.ndarray) -> Instance:
        """This instance with only the rows ``keep`` of its :meth:`linear_rows` ``(matrix, lo, hi)`` (and every
        log-sum-exp): a relaxation of it."""
        rows = matrix[np.flatnonzero(keep)]
        return dataclasses.replace(self, constraints=[Rows(rows.indptr, rows.indices, rows.data, lo[keep], hi[keep]),
                                                      *self.log_sum_exps()])


@dataclass(frozen=True)
class Run:
    """What HiGHS or Clarabel reports: the status in SCIP's words (``optimal``, ``timelimit``, ...), the primal
    and dual objective, iterations, seconds, and every variable's value (None without a feasible solution)."""

    status: str
    primal: float
    dual: float
    iterations: int
    seconds: float
    x: np.ndarray | None
