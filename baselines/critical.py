"""The OAMIP "critical" ablation: prune the *highest*-scored units of another method, at the same counts.

``ctx.reference`` is the other method's :class:`~benchmark.methods.PruneResult` (the MIP's, by default on the
command line). The kept counts per layer equal the reference mask's, and the units kept are the reference's
lowest-scored ones: exactly the complement-ordered choice. The reference must be at this run's granularity.
"""

from __future__ import annotations

from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.core.options import NoOptions
from benchmark.methods import Scores, ScoringContext, neuron_counts
from benchmark.methods.selection import top_k_mask


class Critical:
    """Keep the reference method's least important units instead of its most important ones."""

    name = "critical"
    description = "critical: prune the highest-scored units of another method (default mip) at its per-layer counts"
    granularities = ("neuron", "weight")
    scores_depend_on_target = True
    Options = NoOptions

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Negated reference scores, with the mask at the reference's per-layer counts."""
        reference = ctx.reference
        if reference is None:
            raise ConfigError("critical needs a reference method's result: match one (e.g. --match mip)")
        if reference.granularity != ctx.granularity:
            raise ConfigError(f"critical at {ctx.granularity} level needs a {ctx.granularity}-level reference, "
                              f"not a {reference.granularity}-level one")
        counts = neuron_counts(reference.mask)
        values = {name: -s for name, s in reference.scores.values.items()}
        mask, guarded = top_k_mask(values, counts=counts)
        return Scores(values, ctx.granularity, {"reference_counts": counts, "empty_layer_guard": guarded}, mask=mask)
