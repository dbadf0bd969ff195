"""The OAMIP "critical" ablation: prune the *highest*-scored units of another method, at the same counts.

``ctx.options["reference"]`` holds the other method's :class:`~benchmark.methods.Scores` (with its mask) or
``ctx.options["reference_method"]`` names it (default ``mip``). The kept counts per layer equal the reference
mask's, and the units kept are the reference's lowest-scored ones: exactly the complement-ordered choice.
"""

from __future__ import annotations

from torch import nn

from benchmark.methods import Scores, ScoringContext, get_method, make_mask, neuron_counts
from benchmark.selection import top_k_mask


class Critical:
    """Keep the reference method's least important units instead of its most important ones."""

    name = "critical"
    description = "critical: prune the highest-scored units of another method (default mip) at its per-layer counts"
    granularities = ("neuron", "weight")

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Negated reference scores, with the mask at the reference's per-layer counts."""
        reference: Scores | None = ctx.options.get("reference")
        if reference is None:
            reference = get_method(ctx.options.get("reference_method", "mip")).score(model, ctx)
        reference_mask, _ = make_mask(reference, ctx.target)
        counts = neuron_counts(reference_mask)
        values = {name: -s for name, s in reference.values.items()}
        mask, guarded = top_k_mask(values, counts=counts)
        return Scores(values, ctx.granularity, {"reference_counts": counts, "empty_layer_guard": guarded}, mask=mask)
