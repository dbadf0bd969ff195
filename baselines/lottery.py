"""Lottery tickets by iterative magnitude pruning with rewinding (Frankle & Carbin, 2019).

Each round ranks the surviving units (or weights) by the magnitude of the *trained* weights, prunes ``p``
(default 20%) of them, rewinds the survivors to theta_0 (or to theta_k, the weights after ``k`` training
iterations: late rewinding) and retrains under the new mask for the full training budget (``round_epochs``
is the cheaper option). Ranking happens per layer, or across layers with ``scope="global"``; the same scope
holds in every round and in the final mask. While a layer (or the network, globally) is above its target,
each round prunes at least one entry, and the last round is capped so the target is hit exactly. The ticket
is the last round's mask: the one IMP trained, returned as is. After ``r`` uncapped rounds the sparsity is
``1 - (1-p)^r``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from baselines.magnitude import NORMS, unit_norms
from benchmark.core.config import setting
from benchmark.core.errors import ConfigError
from benchmark.core.options import check
from benchmark.methods import Scores, ScoringContext, Target, prunable_weights, to_weight_mask
from benchmark.methods.selection import top_k_mask
from benchmark.nn.masks import apply_weight_mask

Mask = dict[str, torch.Tensor]
ESTIMATED_ROUNDS = 4  # for the dry run: about 1 - 0.8^4 = 59% removed; the real count depends on the target


@dataclass(frozen=True)
class LotteryOptions:
    """Options of iterative magnitude pruning."""

    prune_fraction: float = setting(0.2, "fraction of the surviving units or weights pruned per round, in (0, 1)",
                                    above=0, below=1)
    round_epochs: int | None = setting(None, "training epochs per round; default: the dense training budget",
                                       minimum=0)
    rewind_iteration: int = setting(0, "rewind to theta_k after this many optimiser steps (0: theta_0)", minimum=0)
    max_rounds: int = setting(50, "stop with an error if the target is not reached in this many rounds", minimum=1)
    norm: str = setting("l2", "norm of a unit's incoming weights (neuron level)", choices=NORMS)

    def __post_init__(self):
        check(self)  # ranges and choices as the fields declare them


def kept_targets(sizes: dict[str, int], target: Target) -> dict[str, int] | int:
    """Final kept counts: per layer (``scope="layer"`` or matched counts), or one global count."""
    if target.counts is not None:
        return dict(target.counts)
    if target.sparsity is None:
        raise ConfigError("the lottery method needs a target: give a sparsity or a method to match")
    if target.scope == "global":
        total = sum(sizes.values())
        return total - int(round(target.sparsity * total))
    return {name: n - int(round(target.sparsity * n)) for name, n in sizes.items()}


def n_to_remove(fraction: float, n_alive: int, n_final: int) -> int:
    """``fraction`` of the survivors, at least one while above the target, never below it."""
    return min(max(1, int(round(fraction * n_alive))), n_alive - n_final) if n_alive > n_final else 0


def prune_round(scores: Mask, mask: Mask, fraction: float, final: dict[str, int] | int) -> Mask:
    """Remove ``fraction`` of the surviving entries with the lowest scores, per layer or globally (the shared
    top-k selection over the survivors)."""
    alive = {name: s.double().masked_fill(~mask[name], -math.inf) for name, s in scores.items()}
    if isinstance(final, int):
        n_alive = sum(int(m.sum()) for m in mask.values())
        return top_k_mask(alive, total=n_alive - n_to_remove(fraction, n_alive, final))[0]
    counts = {name: int(m.sum()) - n_to_remove(fraction, int(m.sum()), final[name]) for name, m in mask.items()}
    return top_k_mask(alive, counts=counts)[0]


def reached(mask: Mask, final: dict[str, int] | int) -> bool:
    """True when every layer (or the network) is at its kept-count target."""
    if isinstance(final, int):
        return sum(int(m.sum()) for m in mask.values()) <= final
    return all(int(m.sum()) <= final[name] for name, m in mask.items())


def rewound(model: nn.Module, state: dict, weight_mask: dict) -> nn.Module:
    """A copy of ``model`` holding ``state`` (theta_0 or theta_k) with the pruned entries zeroed."""
    model = copy.deepcopy(model)
    model.load_state_dict(state)
    apply_weight_mask(model, weight_mask)
    return model


def rewind_point(model: nn.Module, ctx: ScoringContext, k: int) -> dict:
    """theta_k: the dense network after ``k`` optimiser steps from theta_0 (theta_0 itself for k = 0)."""
    if k == 0:
        return ctx.init_state
    budget = ctx.train_epochs * ctx.steps_per_epoch
    if k > budget:
        raise ConfigError(f"rewind_iteration {k} is beyond the training budget of {budget} steps "
                          f"({ctx.train_epochs} epochs x {ctx.steps_per_epoch} steps)")
    epochs = math.ceil(k / ctx.steps_per_epoch)
    return ctx.train(rewound(model, ctx.init_state, {}), {}, epochs, max_steps=k).state_dict()


class Lottery:
    """Iterative magnitude pruning with rewinding to theta_0 or theta_k."""

    name = "lottery"
    description = "lottery ticket: iterative magnitude pruning (p per round) with rewinding to theta_0 or theta_k"
    granularities = ("neuron", "weight")
    scores_depend_on_target = True
    trains = True  # its rounds are training: on a GPU machine, the GPU's work
    Options = LotteryOptions

    def prune_seconds(self, spec, epoch_seconds) -> float:
        """The dry run's estimate: :data:`ESTIMATED_ROUNDS` rounds of ``round_epochs`` (or the dense budget)."""
        per_round = spec.train.epochs if spec.options.round_epochs is None else spec.options.round_epochs
        return ESTIMATED_ROUNDS * per_round * epoch_seconds(spec.train)

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Run the rounds on the trained ``model``; the ticket is the last round's mask, restarting from
        ``Scores.rewind_state``."""
        if ctx.train is None or ctx.init_state is None:
            raise ConfigError("the lottery method needs theta_0 and a train callable in the scoring context")
        options: LotteryOptions = ctx.options
        epochs = ctx.train_epochs if options.round_epochs is None else options.round_epochs
        if options.round_epochs is None and ctx.train_epochs < 1:
            raise ConfigError("the lottery method needs the training budget (ctx.train_epochs) or round_epochs")
        fraction, rewind_k, max_rounds = options.prune_fraction, options.rewind_iteration, options.max_rounds
        rewind_state = rewind_point(model, ctx, rewind_k)

        def magnitudes(net):
            if ctx.granularity == "weight":
                return {name: w.detach().abs() for name, w in prunable_weights(net).items()}
            return unit_norms(net, options.norm)

        scores = magnitudes(model)  # round 1 ranks the trained dense network
        mask = {name: torch.ones_like(s, dtype=torch.bool) for name, s in scores.items()}
        final = kept_targets({name: s.numel() for name, s in scores.items()}, ctx.target)
        history = []
        while not reached(mask, final):
            if len(history) == max_rounds:
                raise ConfigError(f"lottery did not reach its target in max_rounds={max_rounds} rounds; "
                                  "raise max_rounds or prune_fraction")
            mask = prune_round(scores, mask, fraction, final)
            weight_mask = to_weight_mask(model, mask, ctx.granularity)
            trained = ctx.train(rewound(model, rewind_state, weight_mask), weight_mask, epochs)
            scores = magnitudes(trained)
            history.append(1.0 - sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values()))
        stats = {"rounds": len(history), "sparsity_per_round": history, "prune_fraction": fraction,
                 "round_epochs": epochs, "rewind": f"theta_{rewind_k}"}
        values = {name: s.masked_fill(~mask[name], -1.0) for name, s in scores.items()}
        return Scores(values, ctx.granularity, stats, mask=mask, rewind_state=rewind_state if rewind_k else None)
