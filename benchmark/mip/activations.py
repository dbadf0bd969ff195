"""ReLU formulations of the OAMIP model, kept apart from the layer maps.

With pre-activation ``a`` in ``[L, U]``, ``Ubar = max(U, 0)`` and a unit score ``s`` (or none):

    h >= 0,  h <= v*Ubar,  h >= a - (1-s)*Ubar,  h <= a - (1-v)*L - (1-s)*Ubar,   v in {0,1} (or [0,1])

Stable units need no indicator, and this is exact, relaxed or not:
* ``U <= 0``: ``h = 0`` and ``L <= a <= 0``;
* ``L >= 0``: ``h = a - (1-s)*U`` and ``0 <= h <= U`` (``v = 1`` is forced).
A scored layer that feeds a linear layer directly (conv into BatchNorm) uses the code's linear shift
``x = a - (1-s)*U`` with the raw ``U``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchmark.mip.affine import Affine, Builder


@dataclass
class ReluCounts:
    """How many ReLU elements were stable off, stable on, or needed an indicator."""

    inactive: int = 0
    active: int = 0
    unstable: int = 0

    def add(self, other: ReluCounts) -> None:
        self.inactive += other.inactive
        self.active += other.active
        self.unstable += other.unstable


def unit_of_element(shape: torch.Size) -> torch.Tensor:
    """For each element of a (C,...) layer output, the index of its unit (neuron or filter) along dim 0."""
    return torch.arange(shape[0]).repeat_interleave(int(np.prod(shape[1:], dtype=np.int64)))


def score_shift(a: Affine, score_ids: np.ndarray, magnitude: torch.Tensor) -> Affine:
    """``a - (1 - s_unit) * magnitude``: appends the layer's score columns to the expression."""
    units = unit_of_element(a.const.shape)
    flat = magnitude.reshape(-1)
    block = flat.new_zeros(len(score_ids), flat.numel())
    block[units, torch.arange(flat.numel())] = flat
    shifted = Affine(a.const - magnitude, a.coef, a.basis)
    return shifted.extend(score_ids, block.view(len(score_ids), *a.const.shape))


def relu(builder: Builder, a: Affine, lower: torch.Tensor, upper: torch.Tensor, relaxed: bool,
         score_ids: np.ndarray | None = None) -> tuple[Affine, ReluCounts]:
    """Encode ``h = ReLU(a - (1-s)*Ubar)`` (or plain ReLU when ``score_ids`` is None); returns ``h``."""
    ubar = upper.clamp_min(0)
    g = score_shift(a, score_ids, ubar) if score_ids is not None else a
    flat_l, flat_u = lower.reshape(-1), upper.reshape(-1)
    inactive = flat_u <= 0
    active = (flat_l >= 0) & ~inactive
    unstable = ~inactive & ~active
    counts = ReluCounts(int(inactive.sum()), int(active.sum()), int(unstable.sum()))

    if inactive.any():  # L <= a <= 0 (no score term: Ubar = 0)
        idx = torch.nonzero(inactive).flatten()
        const, coef = a.rows(idx)
        builder.add_rows(const, coef, a.basis, flat_l[idx].numpy(), 0.0)
    if active.any():  # 0 <= a - (1-s)U <= U
        idx = torch.nonzero(active).flatten()
        const, coef = g.rows(idx)
        builder.add_rows(const, coef, g.basis, 0.0, flat_u[idx].numpy())

    keep = active.to(g.const.dtype).view_as(g.const)
    h = Affine(g.const * keep, g.coef * keep, g.basis)
    if not unstable.any():
        return h, counts

    idx = torch.nonzero(unstable).flatten()
    n = len(idx)
    u_idx, l_idx = flat_u[idx].numpy(), flat_l[idx].numpy()
    g_start = g.value(builder.start).reshape(-1)[idx].numpy()
    h_ids = builder.add_vars(n, 0.0, u_idx, prefix="h", start=np.clip(g_start, 0.0, u_idx))
    v_ids = builder.add_vars(n, 0.0, 1.0, vtype="C" if relaxed else "B", prefix="v", start=(g_start > 0) * 1.0)
    g_const, g_coef = g.rows(idx)
    eye = np.eye(n)
    basis = np.concatenate([g.basis, h_ids, v_ids])

    def block(g_sign, h_sign, v_diag):
        return np.hstack([g_sign * g_coef, h_sign * eye, np.diag(v_diag)])

    zeros = np.zeros(n)
    builder.add_rows(-g_const, block(-1, 1, zeros), basis, 0.0, np.inf)  # h >= g
    builder.add_rows(zeros, block(0, 1, -u_idx), basis, -np.inf, 0.0)  # h <= v*U
    builder.add_rows(-g_const, block(-1, 1, -l_idx), basis, -np.inf, -l_idx)  # h <= g - (1-v)L
    new_coef = h.coef.new_zeros((n, h.const.numel()))  # unstable elements are zero in h (only active kept)
    new_coef[torch.arange(n), idx] = 1.0
    return h.extend(h_ids, new_coef.view(n, *h.const.shape)), counts
