"""Random pruning: units (or weights) drawn without replacement, reproducible from the seed.

The OAMIP code sampled with replacement and so pruned fewer units; drawing a random permutation and keeping
its top entries gives exact counts, including exactly the per-layer counts of another mask.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.methods import Scores, ScoringContext, prunable_weights
from benchmark.models import prunable_layers


class RandomUnits:
    """A random score per unit or weight; the shared top-k selection turns it into exact counts."""

    name = "random"
    description = "random: units or weights drawn without replacement (seeded), at any target or matched counts"
    granularities = ("neuron", "weight")

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Uniform random scores from ``ctx.seed``."""
        generator = torch.Generator().manual_seed(ctx.seed)
        if ctx.granularity == "weight":
            shapes = {name: w.shape for name, w in prunable_weights(model).items()}
        else:
            shapes = {name: (layer.weight.shape[0],) for name, layer in prunable_layers(model).items()}
        return Scores({name: torch.rand(shape, generator=generator) for name, shape in shapes.items()}, ctx.granularity)
