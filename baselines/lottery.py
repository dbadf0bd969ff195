"""Lottery tickets by iterative magnitude pruning with rewinding (Frankle & Carbin, 2019).

Each round prunes ``p`` (default 20%) of the *remaining* units or weights by magnitude, rewinds the survivors
to theta_0 (or to theta_k, the weights after ``k`` training iterations: late rewinding), and retrains under the
mask. After ``r`` uncapped rounds the sparsity is ``1 - (1-p)^r``; the last round is capped so that the target
(a sparsity, or per-layer counts of a reference mask) is hit exactly. Neuron level prunes the lowest-norm
units of each layer; weight level prunes the smallest weights globally.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from baselines.magnitude import unit_norms
from benchmark.masks import apply_weight_mask
from benchmark.methods import Scores, ScoringContext, Target, prunable_weights, to_weight_mask


def kept_targets(sizes: dict[str, int], target: Target, granularity: str) -> dict[str, int] | int:
    """Final kept counts: per layer (neuron level, or matched counts), or one global count (weight level)."""
    if target.counts is not None:
        return dict(target.counts)
    if target.sparsity is None:
        raise ValueError("the lottery method needs a target sparsity or reference counts")
    if granularity == "weight" or target.scope == "global":
        total = sum(sizes.values())
        return total - int(round(target.sparsity * total))
    return {name: n - int(round(target.sparsity * n)) for name, n in sizes.items()}


def prune_round(scores: dict[str, torch.Tensor], mask: dict[str, torch.Tensor], fraction: float,
                final: dict[str, int] | int) -> dict[str, torch.Tensor]:
    """Remove ``fraction`` of the surviving entries with the lowest scores, never going below ``final``."""
    new_mask = {k: m.clone() for k, m in mask.items()}
    if isinstance(final, int):  # one global ranking
        alive = torch.cat([m.reshape(-1) for m in mask.values()])
        flat = torch.cat([s.reshape(-1).double() for s in scores.values()]).masked_fill(~alive, math.inf)
        n_alive = int(alive.sum())
        n_remove = min(int(round(fraction * n_alive)), n_alive - final)
        drop = torch.argsort(flat, stable=True)[:n_remove]
        keep = alive.clone()
        keep[drop] = False
        start = 0
        for name, m in mask.items():
            new_mask[name] = keep[start:start + m.numel()].view(m.shape)
            start += m.numel()
        return new_mask
    for name, m in mask.items():
        n_alive = int(m.sum())
        n_remove = min(int(round(fraction * n_alive)), n_alive - final[name])
        ranked = scores[name].reshape(-1).double().masked_fill(~m.reshape(-1), math.inf)
        new_mask[name].view(-1)[torch.argsort(ranked, stable=True)[:n_remove]] = False
    return new_mask


def rewind(model: nn.Module, state: dict, weight_mask: dict) -> nn.Module:
    """Load ``state`` (theta_0 or theta_k) and zero the pruned entries."""
    model.load_state_dict(state)
    apply_weight_mask(model, weight_mask)
    return model


class Lottery:
    """Iterative magnitude pruning with rewinding to theta_0 or theta_k."""

    name = "lottery"
    description = "lottery ticket: iterative magnitude pruning (p per round) with rewinding to theta_0 or theta_k"
    granularities = ("neuron", "weight")

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Run the rounds; the ticket is the final mask (rewind state in ``stats["rewind"]``)."""
        if ctx.train is None or ctx.init_state is None:
            raise ValueError("the lottery method needs theta_0 and a train callable in the scoring context")
        fraction = float(ctx.options.get("prune_fraction", 0.2))
        epochs = int(ctx.options.get("round_epochs", 1))
        rewind_k = int(ctx.options.get("rewind_iteration", 0))
        rewind_state = ctx.init_state
        if rewind_k > 0:  # late rewinding: theta_k is the dense net after k iterations from theta_0
            rewind_state = ctx.train(rewind(model, ctx.init_state, {}), {}, 1, max_steps=rewind_k).state_dict()

        def magnitudes(net):
            if ctx.granularity == "weight":
                return {name: w.detach().abs() for name, w in prunable_weights(net).items()}
            return unit_norms(net, ctx.options.get("norm", "l2"))

        scores = magnitudes(model)
        mask = {name: torch.ones_like(s, dtype=torch.bool) for name, s in scores.items()}
        final = kept_targets({name: s.numel() for name, s in scores.items()}, ctx.target, ctx.granularity)
        history, trained = [], model
        max_rounds = int(ctx.options.get("max_rounds", 50))
        for _ in range(max_rounds):
            kept = sum(int(m.sum()) for m in mask.values())
            goal = final if isinstance(final, int) else sum(final.values())
            if kept <= goal:
                break
            mask = prune_round(scores, mask, fraction, final)
            weight_mask = to_weight_mask(model, mask, ctx.granularity)
            trained = ctx.train(rewind(trained, rewind_state, weight_mask), weight_mask, epochs)
            scores = magnitudes(trained)
            total = sum(m.numel() for m in mask.values())
            history.append(1.0 - sum(int(m.sum()) for m in mask.values()) / total)
        stats = {"rounds": len(history), "sparsity_per_round": history, "prune_fraction": fraction,
                 "rewind": f"theta_{rewind_k}"}
        values = {name: s.masked_fill(~mask[name], -1.0) for name, s in scores.items()}
        return Scores(values, ctx.granularity, stats, mask=mask)
