"""SNIP (Lee et al., 2019): connection sensitivity |dL/dm * w| = |g * w| on one mini-batch.

The loss is the real cross-entropy on log-softmax outputs (the official OAMIP comparison used ``nll_loss`` on
raw logits; that is avoided here). Scores are taken at theta_0 as in the paper, or on the trained weights
with the option ``on_trained``. BatchNorm normalises with the batch's own statistics, as in a
training step (at theta_0 the running statistics are still their initial 0/1, which makes VGG's logits nearly
constant); the running statistics of the caller's model are never touched, and Dropout stays off so the
scores are deterministic. At neuron level the scores are summed over each unit's incoming weights. The
gradients are taken on ``ctx.device``; the scores come back on the CPU.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.config import setting
from benchmark.core.errors import ConfigError
from benchmark.methods import Scores, ScoringContext, prunable_weights
from benchmark.nn.models import prunable_layers


@dataclass(frozen=True)
class SnipOptions:
    """Options of SNIP."""

    on_trained: bool = setting(False, "score the trained weights instead of theta_0 (SNIP proper uses theta_0)")
    images: int = setting(128, "training images in the scoring mini-batch", minimum=1)


def snip_batch(ctx: ScoringContext, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded mini-batch of ``size`` training images, or the one-per-class batch when no data is given."""
    if ctx.splits is None:
        return ctx.batch
    index = torch.randperm(len(ctx.splits.train), generator=torch.Generator().manual_seed(ctx.seed))[:size]
    return ctx.splits.train.tensors(index)


def batch_statistics_mode(model: nn.Module) -> None:
    """Eval mode, except BatchNorm, which normalises with the batch's statistics (and updates no running ones)."""
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
            module.momentum = 0.0  # the running statistics stay as they are


def connection_sensitivity(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """|g * w| for every Linear/Conv2d weight, with g the gradient of the cross-entropy at the current weights."""
    batch_statistics_mode(model)
    weights = prunable_weights(model)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return {name: (w.grad * w).detach().abs() for name, w in weights.items()}


class Snip:
    """Keep the connections (or units) whose removal would change the loss most, from one batch's gradients."""

    name = "snip"
    description = "SNIP: |gradient x weight| on one mini-batch, at theta_0 or on trained weights (snip_on_trained)"
    granularities = ("neuron", "weight")
    Options = SnipOptions

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Sensitivities at theta_0 (default) or at the trained weights, on ``ctx.device``; summed per unit at
        neuron level."""
        model = copy.deepcopy(model)
        if not ctx.options.on_trained:
            if ctx.init_state is None:
                raise ConfigError("SNIP at initialisation needs theta_0 in the scoring context")
            model.load_state_dict(ctx.init_state)
        x, y = snip_batch(ctx, ctx.options.images)
        sensitivity = connection_sensitivity(model.to(ctx.device), x.to(ctx.device), y.to(ctx.device))
        if ctx.granularity == "neuron":
            values = {name: sensitivity[f"{name}.weight"].flatten(1).sum(1) for name in prunable_layers(model)}
        else:
            values = sensitivity
        return Scores({name: v.cpu() for name, v in values.items()}, ctx.granularity, {"snip_batch": len(y)})
