"""The MIP as a :class:`~benchmark.methods.Method`: the shared ``score(model, ctx)`` entry point."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.core.paper import paper_threshold
from benchmark.core.records import StageRecord
from benchmark.core.specs import PruneSpec
from benchmark.methods import MethodStage, Scores, ScoringContext, Target
from benchmark.mip import estimate, stages
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import fitted_heads, score_decoupled
from benchmark.mip.scorer import score_network, stats_dict


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


class MIPMethod:
    """OAMIP: a MIP keeps as few critical neurons as it can while the batch stays well classified."""

    name = "mip"
    description = "OAMIP neuron-importance scores from a MIP (or its relaxation) solved with SCIP, HiGHS or Clarabel " \
                  "(ElAraby et al.)"
    granularities = ("neuron",)
    Options = MIPConfig
    batch_option = "n_samples"  # N, the images of the MIP batch

    def default_target(self, ctx: ScoringContext) -> Target:
        """The paper's threshold tau for the model and dataset (0.1 FC, 0.2 LeNet-5 digits, 0.3 CIFAR-10)."""
        return Target(threshold=paper_threshold(ctx.model_name, ctx.dataset))

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """See :func:`score`."""
        return score(model, ctx)

    # the harness's method hooks (benchmark.methods): the decoupled MIP's stages, its cost and its columns

    def stages(self, spec: PruneSpec) -> list[MethodStage]:
        """A decoupled MIP's heads and per-block stages (:func:`benchmark.mip.stages.stages`)."""
        return stages.stages(spec)

    def run_stage(self, kind: str, spec, env, inputs) -> StageRecord:
        """Run one of its stages (:data:`benchmark.mip.stages.RUNNERS`)."""
        return stages.RUNNERS[kind](spec, env, inputs)

    def merge(self, spec: PruneSpec, inputs) -> Scores | None:
        """A decoupled MIP's scores from its blocks (:func:`benchmark.mip.stages.merged_scores`)."""
        return stages.merged_scores(spec, inputs)

    def prune_seconds(self, spec: PruneSpec, epoch_seconds) -> float:
        """See :func:`benchmark.mip.estimate.prune_seconds`."""
        return estimate.prune_seconds(spec, epoch_seconds)

    def stage_seconds(self, kind: str, spec, epoch_seconds) -> float:
        """See :func:`benchmark.mip.estimate.stage_seconds`."""
        return estimate.stage_seconds(kind, spec, epoch_seconds)

    def stage_note(self, kind: str, spec) -> str:
        """See :func:`benchmark.mip.estimate.stage_note`."""
        return estimate.stage_note(kind, spec)

    def evaluation_columns(self, stats: dict, mask: dict[str, torch.Tensor]) -> dict:
        """The solver's statistics beside an evaluation, for Table 1 and the solve-time plot: seconds, binaries,
        the scored units and the whole record under ``solver`` (none for a record without them)."""
        if "solve_seconds" not in stats:
            return {}
        return {"solve_seconds": stats["solve_seconds"], "binaries": stats["binaries"],
                "units": sum(m.numel() for m in mask.values()), "solver": stats}
