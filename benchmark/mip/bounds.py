"""Per-sample interval bounds of every layer output, by interval propagation of ``X +- eps`` (IBP)."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.mip.layers import linear_map


@torch.no_grad()
def interval_bounds(model: nn.Sequential, lower: torch.Tensor,
                    upper: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Lower and upper bounds of each module's output for inputs in the box ``[lower, upper]``.

    Uses the centre/radius form (``W mid + b``, ``|W| rad``), which equals the W+/W- split of the official
    code. ``model`` must be in eval mode and in the dtype of the box (float64 for the MIP).
    """
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    bounds = []
    for position, (name, module) in enumerate(model.named_children()):
        if isinstance(module, nn.ReLU):
            lo, hi = (mid - rad).clamp_min(0), (mid + rad).clamp_min(0)
            mid, rad = (lo + hi) / 2, (hi - lo) / 2
        else:
            op = linear_map(module, position, name)
            mid, rad = op.affine(module, mid, True), op.magnitude(module, rad)
        bounds.append((mid - rad, mid + rad))
    return bounds
