"""The MIP as a :class:`~benchmark.methods.Method`: the shared ``score(model, ctx)`` entry point."""

from __future__ import annotations

from torch import nn

from benchmark.methods import Scores, ScoringContext
from benchmark.mip.config import MIPConfig, default_threshold
from benchmark.mip.scorer import score_network


def score(model: nn.Module, ctx: ScoringContext) -> Scores:
    """Score ``model`` on the first ``n_samples`` images of ``ctx.batch`` with ``ctx.options["mip_config"]``.

    The mask is ``score >= threshold`` (the config's, else the paper's default for model and dataset).
    ``ctx.options["export_path"]`` writes the instance before solving.
    """
    config: MIPConfig = ctx.options.get("mip_config") or MIPConfig(solver_seed=ctx.seed)
    threshold = config.threshold if config.threshold >= 0 else default_threshold(ctx.model_name, ctx.dataset)
    inputs, labels = ctx.batch
    result = score_network(model, inputs[: config.n_samples], labels[: config.n_samples], config, threshold,
                           export_path=ctx.options.get("export_path"))
    return Scores(result.scores, "neuron", result.stats, mask=result.mask)


class MIPMethod:
    """OAMIP: a MIP keeps as few critical neurons as it can while the batch stays well classified."""

    name = "mip"
    description = "OAMIP neuron-importance scores from a MIP solved with SCIP (ElAraby et al.)"
    granularities = ("neuron",)

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """See :func:`score`."""
        return score(model, ctx)
