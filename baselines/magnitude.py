"""Magnitude pruning: a unit's score is the L1 or L2 norm of its incoming weights; a weight's is |w|."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from benchmark.core.config import setting
from benchmark.methods import Scores, ScoringContext, prunable_weights
from benchmark.nn.models import prunable_layers

NORMS = ("l1", "l2")


@dataclass(frozen=True)
class MagnitudeOptions:
    """Options of magnitude pruning."""

    norm: str = setting("l2", "norm of a unit's incoming weights (neuron level)", choices=NORMS)


def unit_norms(model: nn.Module, norm: str = "l2") -> dict:
    """Per prunable layer, the norm of each unit's incoming weights (a row, or a whole filter)."""
    p = NORMS.index(norm) + 1
    return {name: layer.weight.detach().flatten(1).norm(p=p, dim=1) for name, layer in prunable_layers(model).items()}


class Magnitude:
    """Keep the largest weights (weight level) or the units with the largest incoming-weight norm."""

    name = "magnitude"
    description = "magnitude: |w| per weight, or the L1/L2 norm of a unit's incoming weights (option norm)"
    granularities = ("neuron", "weight")
    Options = MagnitudeOptions

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Norms (``ctx.options.norm``) or absolute weights."""
        if ctx.granularity == "weight":
            values = {name: w.detach().abs() for name, w in prunable_weights(model).items()}
        else:
            values = unit_norms(model, ctx.options.norm)
        return Scores(values, ctx.granularity)
