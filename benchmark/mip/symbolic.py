"""Tighter per-sample bounds by symbolic (zonotope) propagation, intersected with interval propagation.

Each module's output for one sample is kept as ``c + G e + [-r, r]`` with ``e`` in ``[-1, 1]^m``: ``c`` a centre,
``G`` (m generators) the exact linear dependence on the input box (and on the unit scores, see below), ``r`` a
non-negative error radius. A linear layer maps ``c`` and ``G`` exactly and ``r`` by its absolute weights; an
activation is replaced by its linear relaxation ``slope * z + offset +- error`` over its input interval, and each
element's error becomes a generator of its own (DeepZ). Unlike interval propagation, which widens the box by
``|W|`` at every layer, cancellation between layers is kept, for the relaxation errors too: on a deep network with
a small input box (VGG-16 under ``X +- 1e-5``) the bounds stay near the network's own local linear map instead of
growing geometrically. (Errors kept in ``r`` grow by ``|W|`` like an interval: on a weakly trained full-width
VGG-16 that left the last layers' bounds 1e5-1e7 times wider than the local linear map's.) Every bound is the
intersection of this and the interval bound (both are sound), and each activation relaxes over that
intersection.

With ``scored`` (``bounds="pruned"``) a scored output ``a - (1-s)*M`` gets one generator per unit for its score
``s`` in [0,1] (shared by the unit's elements), so the bound holds for every score vector, as
:func:`~benchmark.mip.bounds.interval_bounds` does.
At most :data:`LIMIT` generator entries (generators x elements) are kept per sample: beyond it, the generators
of least weight are folded into ``r`` (sound, only looser). Samples are propagated one at a time.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import nn

from benchmark.mip.activations import ACTIVATIONS, unit_of_element
from benchmark.mip.bounds import interval_bounds
from benchmark.mip.layers import LINEAR_MAPS, check_supported, following_activation

LIMIT = 1 << 28  # generator entries kept per sample: 2 GiB of float64 (VGG-16's 3,072 input generators on its
# 64 x 32 x 32 layers take 2^27.6)
CHUNK = 1 << 22  # input entries per batch of generators through a layer (a 3x3 convolution unfolds 9 times that)


def _weights(G: torch.Tensor) -> torch.Tensor:
    """Per element, the total absolute weight of the generators: ``sum_j |G_j|``."""
    return torch.linalg.vector_norm(G.flatten(1), 1, dim=0).view(G.shape[1:])


def _fold(G: torch.Tensor, r: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the ``keep`` generators of most total weight; the others' absolute values join ``r``."""
    if len(G) <= keep:
        return G, r
    order = torch.argsort(torch.linalg.vector_norm(G.flatten(1), 1, dim=1), descending=True)
    return G[order[:keep]], r + _weights(G[order[keep:]])


def _error_generators(error: torch.Tensor) -> torch.Tensor:
    """One generator per element with a relaxation error: that error on that element, zero elsewhere."""
    flat = error.reshape(-1)
    where = torch.nonzero(flat > 0).flatten()
    E = torch.zeros(len(where), flat.numel(), dtype=error.dtype)
    E[torch.arange(len(where)), where] = flat[where]
    return E.view(len(where), *error.shape)


def _input_form(lower: torch.Tensor, upper: torch.Tensor, limit: int):
    """The box as ``c + G e``: one generator per element of non-zero width (the widest, within ``limit``)."""
    c, rad = (lower + upper) / 2, (upper - lower) / 2
    flat = rad.reshape(-1)
    wide = torch.nonzero(flat > 0).flatten()
    wide = wide[torch.argsort(flat[wide], descending=True)][: limit // max(flat.numel(), 1)]
    G = torch.zeros(len(wide), flat.numel(), dtype=c.dtype)
    G[torch.arange(len(wide)), wide] = flat[wide]
    r = flat.clone()
    r[wide] = 0.0
    return c, G.view(len(wide), *c.shape), r.view_as(c)


def _linear(op, module: nn.Module, c, G, r, limit: int):
    """The layer on ``c + G e + [-r, r]``; ``G`` goes through in chunks of at most :data:`CHUNK` input entries
    (torch's float64 convolution unfolds its whole batch at once)."""
    mapped = op.affine(module, c.unsqueeze(0), True)[0]
    G, r = _fold(G, r, limit // max(mapped.numel(), 1))
    out = G.new_empty(len(G), *mapped.shape)
    step = max(1, CHUNK // max(c.numel(), 1))
    for first in range(0, len(G), step):
        out[first:first + step] = op.affine(module, G[first:first + step], False)
    return mapped, out, op.magnitude(module, r.unsqueeze(0))[0]


def _score_generators(c, G, magnitude: torch.Tensor):
    """``x - t * magnitude`` for a score complement ``t = 1 - s`` in [0,1] per unit: ``c - M/2`` and one generator
    ``-M/2`` on each unit's elements."""
    units = unit_of_element(c.shape)
    scores = torch.zeros(int(units.max()) + 1, c.numel(), dtype=c.dtype)
    scores[units, torch.arange(c.numel())] = -magnitude.reshape(-1) / 2
    return c - magnitude / 2, torch.cat([G, scores.view(-1, *c.shape)])


def _bounds(c, G, r, lo, hi):
    """The symbolic range intersected with the interval ``[lo, hi]``."""
    rad = _weights(G) + r if len(G) else r
    lo, hi = torch.maximum(lo, c - rad), torch.minimum(hi, c + rad)
    return torch.minimum(lo, hi), hi  # equal within rounding where the two meet


def _one_sample(children, lower, upper, scored, limit) -> list[tuple[torch.Tensor, torch.Tensor]]:
    c, G, r = _input_form(lower, upper, limit)
    lo, hi = lower, upper
    bounds = []
    for position, (name, module) in enumerate(children):
        if type(module) in ACTIVATIONS:
            activation = ACTIVATIONS[type(module)]
            slope, offset, error = activation.relax(lo, hi)
            c, r = slope * c + offset, slope.abs() * r
            G, r = _fold(torch.cat([G * slope, _error_generators(error)]), r, limit // max(c.numel(), 1))
            lo, hi = _bounds(c, G, r, *activation.interval(lo, hi))
        else:
            op = LINEAR_MAPS[type(module)]
            mid, rad = (lo + hi) / 2, (hi - lo) / 2
            box_mid, box_rad = op.affine(module, mid.unsqueeze(0), True)[0], op.magnitude(module, rad.unsqueeze(0))[0]
            c, G, r = _linear(op, module, c, G, r, limit)
            lo, hi = _bounds(c, G, r, box_mid - box_rad, box_mid + box_rad)
        bounds.append((lo, hi))
        if name in scored:
            activation = following_activation(children, position)
            magnitude = hi if activation is None else ACTIVATIONS[type(children[activation][1])].magnitude(hi)
            box = (lo - magnitude.clamp_min(0), hi - magnitude.clamp_max(0))
            c, G = _score_generators(c, G, magnitude)
            lo, hi = _bounds(c, G, r, *box)
    return bounds


@torch.no_grad()
def symbolic_bounds(model: nn.Sequential, lower: torch.Tensor, upper: torch.Tensor, scored: Collection[str] = (),
                    limit: int = LIMIT) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Lower and upper bounds of each module's output for inputs in ``[lower, upper]`` (batched like
    :func:`~benchmark.mip.bounds.interval_bounds`, with the same ``scored`` semantics), each contained in the
    interval bound. ``model`` must be in eval mode and in the dtype of the box (float64 for the MIP)."""
    check_supported(model)
    children = list(model.named_children())
    samples = [_one_sample(children, lower[n], upper[n], scored, limit) for n in range(len(lower))]
    return [(torch.stack([s[i][0] for s in samples]), torch.stack([s[i][1] for s in samples]))
            for i in range(len(children))]


def layer_bounds(model: nn.Sequential, lower: torch.Tensor, upper: torch.Tensor, scored: Collection[str] = (),
                 propagation: str = "interval") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The bounds of ``propagation``: ``interval`` (:func:`interval_bounds`, the official code's) or ``symbolic``
    (:func:`symbolic_bounds`)."""
    if propagation == "symbolic":
        return symbolic_bounds(model, lower, upper, scored)
    return interval_bounds(model, lower, upper, scored)
