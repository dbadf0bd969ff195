"""Activations of the OAMIP model in a registry, :data:`ACTIVATIONS`, kept apart from the layer maps.

ReLU, with pre-activation ``a`` in ``[L, U]``, ``Ubar = max(U, 0)`` and a unit score ``s`` (or none), is the
big-M encoding of ``h = ReLU(g)`` for the shifted pre-activation ``g = a - (1-s)*Ubar``:

    h >= 0,  h <= v*Ubar,  h >= g,  h <= g - (1-v)*L_g,   v in {0,1} (or [0,1])

where ``L_g`` is a lower bound of ``g``: ``L`` itself under the official code's dense bounds (valid for s=1
only), or ``L - Ubar`` when the bounds must hold for every score in [0,1] (``bounds="pruned"``).
Stable units need no indicator, and this is exact, relaxed or not:
* ``U <= 0``: ``h = 0`` and ``L <= a <= 0``;
* ``L_g >= 0``: ``h = g`` and ``0 <= g <= U`` (``v = 1`` is forced).
A scored layer that feeds a linear layer directly (conv into BatchNorm) uses the code's linear shift
``x = a - (1-s)*U`` with the raw ``U`` (see :func:`score_shift`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from torch import nn

from benchmark.mip.affine import Affine, Builder, csr, one_hot


@dataclass
class ReluCounts:
    """How many ReLU elements were stable off, stable on, or needed an indicator, and the largest big-M constant
    (``max(U, -L)``) among those that did."""

    inactive: int = 0
    active: int = 0
    unstable: int = 0
    big_m: float = 0.0

    def add(self, other: ReluCounts) -> None:
        self.inactive += other.inactive
        self.active += other.active
        self.unstable += other.unstable
        self.big_m = max(self.big_m, other.big_m)


def unit_of_element(shape: torch.Size) -> torch.Tensor:
    """For each element of a (C,...) layer output, the index of its unit (neuron or filter) along dim 0."""
    return torch.arange(shape[0]).repeat_interleave(int(np.prod(shape[1:], dtype=np.int64)))


def score_shift(a: Affine, score_ids: np.ndarray, magnitude: torch.Tensor) -> Affine:
    """``a - (1 - s_unit) * magnitude``: appends the layer's score columns to the expression."""
    units = unit_of_element(a.const.shape).numpy()
    flat = magnitude.reshape(-1).numpy()
    block = sparse.csr_array((flat, (np.arange(len(flat)), units)), shape=(len(flat), len(score_ids)))
    shifted = Affine(a.const - magnitude, a.coef, a.basis)
    return shifted.extend(score_ids, block)


def relu(builder: Builder, a: Affine, lower: torch.Tensor, upper: torch.Tensor, relaxed: bool,
         score_ids: np.ndarray | None = None, pruned_bounds: bool = False) -> tuple[Affine, ReluCounts]:
    """Encode ``h = ReLU(a - (1-s)*Ubar)`` (or plain ReLU when ``score_ids`` is None); returns ``h``.

    ``[lower, upper]`` bound ``a``; with ``pruned_bounds`` the shifted pre-activation is bounded below by
    ``lower - Ubar`` (its value at s=0), so no score is forced away from 0."""
    ubar = upper.clamp_min(0)
    g = score_shift(a, score_ids, ubar) if score_ids is not None else a
    if score_ids is not None and pruned_bounds:
        lower = lower - ubar
    flat_l, flat_u = lower.reshape(-1), upper.reshape(-1)
    inactive = flat_u <= 0
    active = (flat_l >= 0) & ~inactive
    unstable = ~inactive & ~active
    big_m = float(torch.maximum(flat_u, -flat_l)[unstable].max()) if unstable.any() else 0.0
    counts = ReluCounts(int(inactive.sum()), int(active.sum()), int(unstable.sum()), big_m)

    if inactive.any():  # L <= a <= 0 (no score term: Ubar = 0)
        idx = torch.nonzero(inactive).flatten()
        const, coef = a.rows(idx)
        builder.add_rows(const, coef, a.basis, flat_l[idx].numpy(), 0.0)
    if active.any():  # 0 <= a - (1-s)U <= U
        idx = torch.nonzero(active).flatten()
        const, coef = g.rows(idx)
        builder.add_rows(const, coef, g.basis, 0.0, flat_u[idx].numpy())

    h = g.masked(active.to(g.const.dtype).view_as(g.const))
    if not unstable.any():
        return h, counts

    idx = torch.nonzero(unstable).flatten()
    n = len(idx)
    u_idx, l_idx = flat_u[idx].numpy(), flat_l[idx].numpy()
    g_start = g.value(builder.start).reshape(-1)[idx].numpy()
    h_ids = builder.add_vars(n, 0.0, u_idx, prefix="h", start=np.clip(g_start, 0.0, u_idx))
    v_ids = builder.add_vars(n, 0.0, 1.0, vtype="C" if relaxed else "B", prefix="v", start=(g_start > 0) * 1.0)
    g_const, g_coef = g.rows(idx)
    eye = sparse.identity(n)
    basis = np.concatenate([g.basis, h_ids, v_ids])

    def block(g_sign, h_sign, v_diag):
        return csr(sparse.hstack([g_sign * g_coef, h_sign * eye, sparse.diags_array(v_diag)]))

    zeros = np.zeros(n)
    builder.add_rows(-g_const, block(-1, 1, zeros), basis, 0.0, np.inf)  # h >= g
    builder.add_rows(zeros, block(0, 1, -u_idx), basis, -np.inf, 0.0)  # h <= v*U
    builder.add_rows(-g_const, block(-1, 1, -l_idx), basis, -np.inf, -l_idx)  # h <= g - (1-v)L
    return h.extend(h_ids, one_hot(idx.numpy(), h.const.numel())), counts  # unstable elements were 0 in h


def _relu_interval(lower: torch.Tensor, upper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return lower.clamp_min(0), upper.clamp_min(0)


def _relu_relax(lower: torch.Tensor, upper: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """ReLU(z) in ``slope*z + offset +- error`` for z in [lower, upper]: exact where stable, else the chord's slope
    ``U/(U-L)`` with the offset and error ``-slope*L/2`` (the band between the chord and the parallel through 0)."""
    unstable = (lower < 0) & (upper > 0)
    slope = torch.where(unstable, upper / (upper - lower).where(unstable, torch.ones_like(upper)),
                        (lower >= 0).to(upper.dtype))
    error = torch.where(unstable, -slope * lower / 2, torch.zeros_like(upper))
    return slope, error, error


@dataclass(frozen=True)
class Activation:
    """How one activation type is bounded and encoded.

    ``interval(lower, upper)`` maps input bounds to output bounds; ``relax(lower, upper)`` is a linear relaxation
    over them, ``(slope, offset, error)`` with the output in ``slope*z + offset +- error``. ``magnitude(upper)`` is
    what a unit's score subtracts, times ``1-s``, from the activation's input. ``encode(builder, a, lower, upper,
    relaxed, score_ids, pruned_bounds)`` adds the constraints and returns the output expression and the stability
    counts.
    """

    interval: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    relax: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    magnitude: Callable[[torch.Tensor], torch.Tensor]
    encode: Callable[..., tuple[Affine, ReluCounts]]


ACTIVATIONS: dict[type, Activation] = {
    nn.ReLU: Activation(_relu_interval, _relu_relax, lambda upper: upper.clamp_min(0), relu),
}
