"""Random pruning: units (or weights) drawn without replacement, reproducible from the seed.

The OAMIP code sampled with replacement and so pruned fewer units. Here each layer's score is a random
permutation of ranks, so the shared top-k selection keeps a uniformly random subset of exactly the asked
size, including exactly the per-layer counts of another mask.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.core.options import NoOptions
from benchmark.methods import Scores, ScoringContext, prunable_weights
from benchmark.nn.models import prunable_layers


class RandomUnits:
    """A random score per unit or weight; the shared top-k selection turns it into exact counts."""

    name = "random"
    description = "random: units or weights drawn without replacement (seeded), at any target or matched counts"
    granularities = ("neuron", "weight")
    Options = NoOptions

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Random distinct ranks per layer (a permutation) from ``ctx.seed``."""
        generator = torch.Generator().manual_seed(ctx.seed)
        if ctx.granularity == "weight":
            shapes = {name: w.shape for name, w in prunable_weights(model).items()}
        else:
            shapes = {name: torch.Size([layer.weight.shape[0]]) for name, layer in prunable_layers(model).items()}
        values = {name: torch.randperm(shape.numel(), generator=generator).view(shape).float()
                  for name, shape in shapes.items()}
        return Scores(values, ctx.granularity)
