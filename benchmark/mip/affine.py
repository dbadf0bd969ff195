"""Affine expressions over MIP variables, kept as dense tensors, and the builder that turns them into rows.

A layer output for one sample is ``const + sum_j coef[j] * x[basis[j]]``: ``const`` has the layer's shape,
``coef`` one slice per basis variable. Layers are applied to ``const`` (with bias) and to ``coef`` (without bias,
the basis acting as the batch), so a unit whose output depends on a few scores stays an expression and costs
no variable or row. The :class:`Builder` only emits a row where a constraint is not already implied by the
variables' bounds, and folds single-variable rows into bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyscipopt as scip
import torch

from benchmark.errors import SolverError

TOL = 1e-9


@dataclass
class Affine:
    """``const + coef . x[basis]`` for one sample; ``coef`` is (len(basis), *const.shape)."""

    const: torch.Tensor
    coef: torch.Tensor
    basis: np.ndarray

    @classmethod
    def constant(cls, value: torch.Tensor) -> Affine:
        """An expression with no variables."""
        return cls(value, value.new_zeros((0, *value.shape)), np.zeros(0, dtype=np.int64))

    def map(self, fn_with_bias, fn_without_bias) -> Affine:
        """Apply a linear layer: ``fn_with_bias`` to the constant, ``fn_without_bias`` to each coefficient slice."""
        const = fn_with_bias(self.const.unsqueeze(0))[0]
        coef = fn_without_bias(self.coef) if len(self.basis) else const.new_zeros((0, *const.shape))
        return Affine(const, coef, self.basis)

    def extend(self, new_basis: np.ndarray, new_coef: torch.Tensor) -> Affine:
        """Append variables ``new_basis`` with coefficient slices ``new_coef``."""
        return Affine(self.const, torch.cat([self.coef, new_coef]), np.concatenate([self.basis, new_basis]))

    def rows(self, index: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flattened (constant (R,), coefficient matrix (R, nb)) of the elements at ``index``."""
        const = self.const.reshape(-1)
        coef = self.coef.reshape(len(self.basis), const.numel()).T
        if index is not None:
            const, coef = const[index], coef[index]
        return const.numpy(), coef.numpy()

    def value(self, x: np.ndarray) -> torch.Tensor:
        """Evaluate at the variable values ``x`` (indexed by global variable id)."""
        values = torch.as_tensor(x[self.basis], dtype=self.const.dtype)
        return self.const + torch.tensordot(values, self.coef, dims=1)


class Builder:
    """A SCIP model plus bound arrays for its variables, emitting rows in bulk from dense coefficient blocks."""

    def __init__(self, name: str = "oamip"):
        self.model = scip.Model(name)
        self.model.hideOutput()
        self.vars: list = []
        self.lb = np.zeros(0)
        self.ub = np.zeros(0)
        self.start = np.zeros(0)  # a feasible point: the dense network itself (every score = 1)
        self.n_rows = 0

    def add_vars(self, count: int, lb, ub, vtype: str = "C", prefix: str = "x", start=np.nan) -> np.ndarray:
        """Add ``count`` variables with the given (scalar or per-variable) bounds and values in the dense
        network's solution; returns their global ids."""
        lb = np.broadcast_to(np.asarray(lb, dtype=float), (count,))
        ub = np.broadcast_to(np.asarray(ub, dtype=float), (count,))
        self.start = np.concatenate([self.start, np.broadcast_to(np.asarray(start, dtype=float), (count,))])
        start = len(self.vars)
        for k, (lo, hi) in enumerate(zip(lb.ravel().tolist(), ub.ravel().tolist())):
            self.vars.append(self.model.addVar(f"{prefix}_{start + k}", vtype=vtype,
                                               lb=None if lo == -np.inf else lo, ub=None if hi == np.inf else hi))
        self.lb, self.ub = np.concatenate([self.lb, lb.ravel()]), np.concatenate([self.ub, ub.ravel()])
        return np.arange(start, len(self.vars))

    def activity_range(self, coef: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smallest and largest value of ``coef @ x[basis]`` over the variables' bounds, per row."""
        lb, ub = self.lb[basis], self.ub[basis]
        with np.errstate(invalid="ignore"):
            low = np.where(coef > 0, coef * lb, coef * ub)
            high = np.where(coef > 0, coef * ub, coef * lb)
        low, high = np.where(coef == 0, 0.0, low), np.where(coef == 0, 0.0, high)
        return low.sum(1), high.sum(1)

    def add_rows(self, const: np.ndarray, coef: np.ndarray, basis: np.ndarray, lo, hi) -> None:
        """Add ``lo <= const + coef @ x[basis] <= hi`` row-wise, skipping implied sides.

        Rows with a single variable become bound changes; rows whose bounds are already implied vanish.
        """
        lo = np.broadcast_to(np.asarray(lo, dtype=float), const.shape) - const
        hi = np.broadcast_to(np.asarray(hi, dtype=float), const.shape) - const
        coef = np.where(np.abs(coef) < 1e-13, 0.0, coef)
        low, high = self.activity_range(coef, basis)
        lo = np.where(low >= lo - TOL, -np.inf, lo)
        hi = np.where(high <= hi + TOL, np.inf, hi)
        live = np.isfinite(lo) | np.isfinite(hi)
        nnz = (coef != 0).sum(1)
        single = live & (nnz == 1)
        if single.any():
            self._tighten(coef[single], basis, lo[single], hi[single])
        for r in np.flatnonzero(live & (nnz > 1)).tolist():
            cols = np.flatnonzero(coef[r])
            expr = scip.quicksum(c * self.vars[j] for c, j in zip(coef[r, cols].tolist(), basis[cols].tolist()))
            self.add_row(expr, lo[r], hi[r])
        bad = live & (nnz == 0) & ((lo > TOL) | (hi < -TOL))
        if bad.any():  # a constant that violates its own bound: keep it visible to the solver
            self.add_row(scip.Expr(), lo[bad][0], hi[bad][0])

    def try_start_solution(self) -> bool:
        """Offer the dense network's solution to SCIP; True if SCIP accepted it as feasible."""
        if not np.isfinite(self.start).all():
            return False
        solution = self.model.createSol()
        for var, value in zip(self.vars, self.start.tolist()):
            self.model.setSolVal(solution, var, value)
        feasible = bool(self.model.checkSol(solution, printreason=False, original=True))
        if feasible:
            self.model.addSol(solution, free=True)
        return feasible

    def add_row(self, expr, lo: float, hi: float) -> None:
        """Add ``lo <= expr <= hi`` (an infinite side is left out) as it is, with no implied-row check."""
        self.n_rows += 1
        if np.isfinite(lo) and np.isfinite(hi):
            self.model.addCons(lo <= (expr <= hi))
        elif np.isfinite(lo):
            self.model.addCons(expr >= lo)
        else:
            self.model.addCons(expr <= hi)

    def _tighten(self, coef: np.ndarray, basis: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        col = np.argmax(coef != 0, axis=1)
        c = coef[np.arange(len(coef)), col]
        var = basis[col]
        with np.errstate(invalid="ignore", divide="ignore"):
            new_lb = np.where(c > 0, lo / c, hi / c)
            new_ub = np.where(c > 0, hi / c, lo / c)
        new_lb, new_ub = np.nan_to_num(new_lb, nan=-np.inf), np.nan_to_num(new_ub, nan=np.inf)
        np.maximum.at(self.lb, var, new_lb)
        np.minimum.at(self.ub, var, new_ub)
        for j in np.unique(var).tolist():
            lb, ub = self.lb[j], self.ub[j]
            if lb > ub + 1e-7:
                raise SolverError(f"the MIP is infeasible: the constraints on {self.vars[j].name} need "
                                  f"{lb:.6g} <= x <= {ub:.6g}")
            if lb > ub:  # equal within rounding
                lb = ub = self.lb[j] = self.ub[j] = (lb + ub) / 2
            if np.isfinite(lb):
                self.model.chgVarLb(self.vars[j], lb)
            if np.isfinite(ub):
                self.model.chgVarUb(self.vars[j], ub)
