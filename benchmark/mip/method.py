"""The MIP as a :class:`~benchmark.methods.Method`: the shared ``score(model, ctx)`` entry point."""

from __future__ import annotations

from torch import nn

from benchmark.errors import ConfigError
from benchmark.methods import Scores, ScoringContext
from benchmark.mip.config import MIPConfig, default_threshold
from benchmark.mip.decoupled import make_heads, score_decoupled, train_heads
from benchmark.mip.scorer import score_network


def score(model: nn.Module, ctx: ScoringContext) -> Scores:
    """Score ``model`` on the first ``n_samples`` images of ``ctx.batch`` with ``ctx.options["mip_config"]``.

    The mask is ``score >= threshold`` (the config's, else the paper's default for model and dataset).
    ``ctx.options["export_path"]`` writes the instance before solving. With ``config.decoupled`` auxiliary heads
    are fitted on ``ctx.splits.train`` and one sub-MIP per conv block is solved in parallel (``ctx.executor``,
    else a process pool).
    """
    config: MIPConfig = ctx.options.get("mip_config") or MIPConfig(solver_seed=ctx.seed)
    threshold = config.threshold if config.threshold >= 0 else default_threshold(ctx.model_name, ctx.dataset)
    if config.decoupled:
        if ctx.splits is None:
            raise ConfigError("the decoupled MIP needs training data in the scoring context to fit its heads")
        heads = make_heads(model, ctx.splits.train.input_shape, ctx.splits.train.num_classes)
        train_heads(model, heads, ctx.splits.train, epochs=config.head_epochs, lr=3e-3, seed=ctx.seed)
        result = score_decoupled(model, heads, ctx.splits.val, config, threshold, executor=ctx.executor)
        return Scores(result.scores, "neuron", result.stats, mask=result.mask)
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
