"""The MIP as a :class:`~benchmark.methods.Method`: the shared ``score(model, ctx)`` entry point."""

from __future__ import annotations

from dataclasses import asdict

from torch import nn

from benchmark.errors import ConfigError
from benchmark.methods import Scores, ScoringContext, Target
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import fitted_heads, score_decoupled
from benchmark.mip.scorer import MIPResult, score_network
from benchmark.paper import paper_threshold


def score(model: nn.Module, ctx: ScoringContext) -> Scores:
    """Score ``model`` on the first ``n_samples`` images of ``ctx.batch`` with the options ``ctx.options``.

    The scores are returned without a mask: the shared selection applies the target, by default the paper's
    threshold for the model and dataset (:meth:`MIPMethod.default_target`). The solver's seed shift is the run's
    seed plus ``solver_seed``. The statistics are ``SolverStats.as_dict()`` plus ``"config"`` (and ``"blocks"`` per
    sub-MIP when decoupled). ``ctx.export_path`` writes the instance before solving. With ``config.decoupled``
    one sub-MIP per conv block is solved in parallel (a process pool), each over its block and auxiliary head:
    the DGL-trained heads in ``ctx.heads`` when given (the paper's route), otherwise heads fitted to the frozen
    network on ``ctx.splits.train``; ``stats["heads"]`` says which (``"dgl"`` or ``"fitted"``).
    """
    config: MIPConfig = ctx.options.for_seed(ctx.seed)
    threshold = ctx.target.threshold if ctx.target.threshold is not None else paper_threshold(ctx.model_name,
                                                                                                 ctx.dataset)
    if config.decoupled:
        if ctx.splits is None:
            raise ConfigError("the decoupled MIP needs the data splits in the scoring context (its block batches)")
        heads, source = fitted_heads(model, ctx.heads, ctx.splits.train, config, ctx.seed)
        result = score_decoupled(model, heads, ctx.splits.val, config, threshold)
        return Scores(result.scores, "neuron", {**stats_dict(result, config), "heads": source})
    inputs, labels = ctx.batch
    result = score_network(model, inputs[: config.n_samples], labels[: config.n_samples], config, threshold,
                           export_path=ctx.export_path)
    return Scores(result.scores, "neuron", stats_dict(result, config))


def stats_dict(result: MIPResult, config: MIPConfig) -> dict:
    """The plain statistics dict the shared ``Scores`` carries: the solver's fields, the config, the blocks."""
    stats = {**result.solver.as_dict(), "config": asdict(config)}
    if result.blocks:
        stats["blocks"] = [block.as_dict() for block in result.blocks]
    return stats


class MIPMethod:
    """OAMIP: a MIP keeps as few critical neurons as it can while the batch stays well classified."""

    name = "mip"
    description = "OAMIP neuron-importance scores from a MIP (or its relaxation) solved with SCIP, HiGHS or Clarabel " \
                  "(ElAraby et al.)"
    granularities = ("neuron",)
    Options = MIPConfig

    def default_target(self, ctx: ScoringContext) -> Target:
        """The paper's threshold tau for the model and dataset (0.1 FC, 0.2 LeNet-5 digits, 0.3 CIFAR-10)."""
        return Target(threshold=paper_threshold(ctx.model_name, ctx.dataset))

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """See :func:`score`."""
        return score(model, ctx)
