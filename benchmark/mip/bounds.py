"""Per-sample interval bounds of every layer output, by interval propagation of ``X +- eps`` (IBP).

``scored`` names the layers whose unit scores the bounds must allow for (``bounds="pruned"``). Each bound
still describes the layer's own output ``a`` (what the encoder's shift magnitudes are read from), but the
box propagated onward is the range of the scored output over every score in [0,1]: the hull of ``a`` and
``a - magnitude`` (``x = a - (1-s)*U`` into a linear layer, ``ReLU(a - (1-s)*Ubar)`` into an activation, whose
output range then includes 0). Without ``scored`` these are the dense network's bounds, valid at s=1 only.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import nn

from benchmark.mip.activations import ACTIVATIONS
from benchmark.mip.layers import LINEAR_MAPS, check_supported, following_activation


@torch.no_grad()
def interval_bounds(model: nn.Sequential, lower: torch.Tensor, upper: torch.Tensor,
                    scored: Collection[str] = ()) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Lower and upper bounds of each module's output for inputs in the box ``[lower, upper]``.

    Linear maps use the centre/radius form (``W mid + b``, ``|W| rad``), which equals the W+/W- split of the
    official code. ``model`` must be in eval mode and in the dtype of the box (float64 for the MIP).
    """
    check_supported(model)
    children = list(model.named_children())
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    bounds = []
    for position, (name, module) in enumerate(children):
        if type(module) in ACTIVATIONS:
            lo, hi = ACTIVATIONS[type(module)].interval(mid - rad, mid + rad)
            mid, rad = (lo + hi) / 2, (hi - lo) / 2
        else:
            op = LINEAR_MAPS[type(module)]
            mid, rad = op.affine(module, mid, True), op.magnitude(module, rad)
        lo, hi = mid - rad, mid + rad
        bounds.append((lo, hi))
        if name in scored:
            activation = following_activation(children, position)
            magnitude = hi if activation is None else ACTIVATIONS[type(children[activation][1])].magnitude(hi)
            lo, hi = lo - magnitude.clamp_min(0), hi - magnitude.clamp_max(0)
            mid, rad = (lo + hi) / 2, (hi - lo) / 2
    return bounds
