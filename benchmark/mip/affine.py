"""Affine expressions over MIP variables, and the builder that turns them into rows.

A layer output for one sample is ``const + coef @ x[basis]``: ``const`` has the layer's shape, ``coef`` is a
sparse (elements x basis) matrix. A linear layer is applied to ``const`` (with bias) and to ``coef`` (without),
so a unit whose output depends on a few scores stays an expression and costs no variable or row.

Two routes give the same expressions. While ``len(basis) * elements`` is at most :data:`DENSE_LIMIT`, the
coefficients go through the layer's own torch op as a dense batch (fast for small bases). Beyond it (the big
decoupled VGG-16 blocks, with thousands of unstable ReLUs per sample) they are multiplied by the layer's sparse
matrix; where that product would fill in (more than :data:`FILL_LIMIT` times the nonzeros), every input element
with more than one term is first made a variable of its own (:meth:`Builder.materialise`), as in the official
code's layer-by-layer encoding.
The :class:`Builder` only records a row where a constraint is not already implied by the variables' bounds, and
folds single-variable rows into bounds; what it records is solver-neutral (:mod:`benchmark.mip.instance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy import sparse

from benchmark.core.errors import SolverError
from benchmark.mip.instance import Instance, Rows
from benchmark.mip.solve import ScipModel, emit

TOL = 1e-9
DENSE_LIMIT = 1 << 25  # input coefficient entries (basis x elements) a layer maps as a dense batch: 256 MB of
# float64, with the layer's output batch and its CSR copy on top
FILL_LIMIT = 8  # beyond DENSE_LIMIT, a layer whose composition would multiply the nonzeros more gets variables


def csr(matrix) -> sparse.csr_array:
    """``matrix`` as a CSR array with canonical (sorted, duplicate-free) indices and no stored zeros."""
    matrix = sparse.csr_array(matrix)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix


def one_hot(rows: np.ndarray, count: int) -> sparse.csr_array:
    """A (count x len(rows)) matrix whose column j is the unit vector of element ``rows[j]``."""
    return sparse.csr_array((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(count, len(rows)))


def fills_in(matrix: sparse.csr_array, coef: sparse.csr_array) -> bool:
    """Whether ``matrix @ coef`` could hold more than :data:`FILL_LIMIT` times the nonzeros of both factors
    (counted without cancellation): then the layer's inputs are better made variables first."""
    pattern = sparse.csr_array((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)
    return float((pattern @ np.diff(coef.indptr)).sum()) > FILL_LIMIT * (coef.nnz + matrix.nnz)


@dataclass
class Affine:
    """``const + coef @ x[basis]`` for one sample; ``coef`` is (const.numel(), len(basis)), sparse."""

    const: torch.Tensor
    coef: sparse.csr_array
    basis: np.ndarray

    @classmethod
    def constant(cls, value: torch.Tensor) -> Affine:
        """An expression with no variables."""
        return cls(value, sparse.csr_array((value.numel(), 0)), np.zeros(0, dtype=np.int64))

    def is_dense(self) -> bool:
        """Whether the coefficients are small enough to map as a dense batch (see :data:`DENSE_LIMIT`)."""
        return len(self.basis) * self.const.numel() <= DENSE_LIMIT

    def dense_coef(self) -> torch.Tensor:
        """The coefficients as a dense (len(basis), *const.shape) batch."""
        dense = np.ascontiguousarray(self.coef.T.toarray())  # C order: torch's ops then round as before
        return torch.from_numpy(dense).view(len(self.basis), *self.const.shape)

    def map(self, op, module, builder: Builder) -> Affine:
        """Apply a linear layer: ``op.affine(module, t, bias)`` is the layer on a batch, ``op.matrix(module,
        shape)`` its sparse matrix on a flattened input of ``shape`` (used beyond :data:`DENSE_LIMIT`)."""
        if self.is_dense():  # an empty basis included
            const = op.affine(module, self.const.unsqueeze(0), True)[0]
            if not len(self.basis):
                return Affine.constant(const)
            coef = op.affine(module, self.dense_coef(), False).reshape(len(self.basis), -1).numpy().T
            return Affine(const, csr(coef), self.basis)
        matrix = op.matrix(module, tuple(self.const.shape))
        source = builder.materialise(self) if fills_in(matrix, self.coef) else self
        const = op.affine(module, source.const.unsqueeze(0), True)[0]
        return Affine(const, csr(matrix @ source.coef), source.basis)

    def masked(self, keep: torch.Tensor) -> Affine:
        """The expression with the elements where ``keep`` is 0 set to 0."""
        flat = keep.reshape(-1).numpy()
        return Affine(self.const * keep, csr(sparse.diags_array(flat) @ self.coef), self.basis)

    def extend(self, new_basis: np.ndarray, new_coef: sparse.csr_array) -> Affine:
        """Append variables ``new_basis`` with coefficient columns ``new_coef`` (elements x new variables)."""
        return Affine(self.const, csr(sparse.hstack([self.coef, new_coef])), np.concatenate([self.basis, new_basis]))

    def rows(self, index: np.ndarray | torch.Tensor | None = None) -> tuple[np.ndarray, sparse.csr_array]:
        """Flattened (constant (R,), coefficient matrix (R, nb)) of the elements at ``index``."""
        const, coef = self.const.reshape(-1), self.coef
        if index is not None:
            index = np.asarray(index)
            const, coef = const[index], coef[index]
        return const.numpy(), coef

    def value(self, x: np.ndarray) -> torch.Tensor:
        """Evaluate at the variable values ``x`` (indexed by global variable id)."""
        values = torch.as_tensor(x[self.basis], dtype=self.const.dtype)
        if self.is_dense():
            return self.const + torch.tensordot(values, self.dense_coef(), dims=1)
        return self.const + torch.from_numpy(self.coef @ values.numpy()).view_as(self.const)


class Builder:
    """Records the program (:class:`~benchmark.mip.instance.Instance`) from sparse coefficient blocks, leaving out
    what the variables' bounds already imply; :attr:`scip` is the recorded program as a SCIP model."""

    def __init__(self, name: str = "oamip"):
        self.instance = Instance(name)

    @property
    def start(self) -> np.ndarray:
        """A feasible point: the dense network itself (every score = 1), by global variable id."""
        return self.instance.start

    def add_vars(self, count: int, lb, ub, vtype: str = "C", prefix: str = "x", start=np.nan) -> np.ndarray:
        """Add ``count`` variables with the given (scalar or per-variable) bounds and values in the dense
        network's solution; returns their global ids."""
        return self.instance.add_vars(count, lb, ub, vtype, prefix, start)

    def activity_range(self, coef: sparse.csr_array, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smallest and largest value of ``coef @ x[basis]`` over the variables' bounds, per row."""
        lb, ub = self.instance.lb[basis][coef.indices], self.instance.ub[basis][coef.indices]
        with np.errstate(invalid="ignore"):
            low = np.where(coef.data > 0, coef.data * lb, coef.data * ub)
            high = np.where(coef.data > 0, coef.data * ub, coef.data * lb)
        row = np.repeat(np.arange(coef.shape[0]), np.diff(coef.indptr))
        return (np.bincount(row, low, minlength=coef.shape[0]), np.bincount(row, high, minlength=coef.shape[0]))

    def add_rows(self, const: np.ndarray, coef: sparse.csr_array, basis: np.ndarray, lo, hi) -> None:
        """Add ``lo <= const + coef @ x[basis] <= hi`` row-wise, skipping implied sides.

        Rows with a single variable become bound changes; rows whose bounds are already implied vanish.
        """
        lo = np.broadcast_to(np.asarray(lo, dtype=float), const.shape) - const
        hi = np.broadcast_to(np.asarray(hi, dtype=float), const.shape) - const
        coef = coef.copy()
        coef.data[np.abs(coef.data) < 1e-13] = 0.0
        coef = csr(coef)
        low, high = self.activity_range(coef, basis)
        lo = np.where(low >= lo - TOL, -np.inf, lo)
        hi = np.where(high <= hi + TOL, np.inf, hi)
        live = np.isfinite(lo) | np.isfinite(hi)
        nnz = np.diff(coef.indptr)
        single = live & (nnz == 1)
        if single.any():
            self._tighten(coef[single], basis, lo[single], hi[single])
        many = np.flatnonzero(live & (nnz > 1))
        self.record_rows(coef[many], basis, lo[many], hi[many])
        bad = live & (nnz == 0) & ((lo > TOL) | (hi < -TOL))
        if bad.any():  # a constant that violates its own bound: keep it visible to the solver
            first = np.flatnonzero(bad)[:1]
            self.record_rows(sparse.csr_array((1, len(basis))), basis, lo[first], hi[first])

    def record_rows(self, coef: sparse.csr_array, basis: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Add ``lo <= coef @ x[basis] <= hi`` for every row as it is, terms in column order."""
        self.instance.constraints.append(Rows(coef.indptr.copy(), basis[coef.indices], coef.data.copy(),
                                              np.array(lo, dtype=float), np.array(hi, dtype=float)))

    def materialise(self, a: Affine) -> Affine:
        """``a`` with every element of more than one term replaced by a new variable equal to it (one equality
        row each, bounded by the element's range over the variables' bounds)."""
        const, coef = a.rows()
        many = np.flatnonzero(np.diff(coef.indptr) > 1)
        if not len(many):
            return a
        low, high = self.activity_range(coef[many], a.basis)
        start = a.value(self.start).reshape(-1).numpy()[many]
        ids = self.add_vars(len(many), const[many] + low, const[many] + high, prefix="y", start=start)
        equality = csr(sparse.hstack([coef[many], -sparse.identity(len(many))]))
        self.record_rows(equality, np.concatenate([a.basis, ids]), -const[many], -const[many])
        keep = np.ones(len(const))
        keep[many] = 0.0
        kept = a.masked(torch.from_numpy(keep).view_as(a.const))
        return kept.extend(ids, one_hot(many, len(const)))

    @cached_property
    def scip(self) -> ScipModel:
        """The recorded program as a SCIP model, made on first use (record nothing after it)."""
        return emit(self.instance)

    def _tighten(self, coef: sparse.csr_array, basis: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        c = coef.data[coef.indptr[:-1]]
        var = basis[coef.indices[coef.indptr[:-1]]]
        with np.errstate(invalid="ignore", divide="ignore"):
            new_lb = np.where(c > 0, lo / c, hi / c)
            new_ub = np.where(c > 0, hi / c, lo / c)
        new_lb = np.nan_to_num(new_lb, nan=-np.inf, posinf=np.inf, neginf=-np.inf)
        new_ub = np.nan_to_num(new_ub, nan=np.inf, posinf=np.inf, neginf=-np.inf)
        bounds = self.instance
        np.maximum.at(bounds.lb, var, new_lb)
        np.minimum.at(bounds.ub, var, new_ub)
        for j in np.unique(var).tolist():
            lb, ub = bounds.lb[j], bounds.ub[j]
            if lb > ub + 1e-7:
                raise SolverError(f"the MIP is infeasible: the constraints on {bounds.var_name(j)} need "
                                  f"{lb:.6g} <= x <= {ub:.6g}")
            if lb > ub:  # equal within rounding
                bounds.lb[j] = bounds.ub[j] = (lb + ub) / 2
