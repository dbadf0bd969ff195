"""The decoupled MIP's own stages: the heads, one stage per block's sub-MIP, and the merge of their scores.

:class:`~benchmark.mip.method.MIPMethod` declares them through the method hooks of :mod:`benchmark.methods`
(:class:`~benchmark.methods.MethodStage`): a decoupled MIP prune gets one ``heads`` stage and one ``block`` stage
per conv block; the blocks wait for the heads and the prune stage waits for every block, so the executor (local
pool or Dask) solves the independent sub-MIPs in parallel, a failed block is one stored line, and a re-run solves
only the missing blocks. Each block stage recomputes the (deterministic, cheap) block problems and solves its own.
A stage gets the harness's environment (``env.trained(config)``, ``env.data(config)``) and the records and
artifacts of the stages it waits for (``inputs``), and returns its typed record (:class:`HeadsRecord`,
:class:`BlockRecord`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn

from benchmark.core.config import TrainConfig
from benchmark.core.records import SolverStats, StageRecord
from benchmark.core.specs import BlockSpec, HeadsSpec, PruneSpec, Target
from benchmark.methods import MethodStage, Scores
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import block_problem, combine, fitted_heads, solve_block
from benchmark.mip.scorer import MIPResult, stats_dict
from benchmark.nn.heads import make_heads
from benchmark.nn.models import build_model


@dataclass(frozen=True)
class HeadsRecord(StageRecord):
    """The heads stage: where the blocks' auxiliary heads came from (the DGL model's own, or fitted) and for how
    many epochs they were fitted."""

    heads: str
    head_epochs: int


@dataclass(frozen=True)
class BlockRecord(StageRecord):
    """One block's sub-MIP: the block, the layers it scored and its solver statistics (``SolverStats.as_dict``)."""

    block: int
    layers: list
    stats: dict


def is_decoupled(spec: PruneSpec) -> bool:
    """Whether ``spec``'s MIP is decoupled, with heads and per-block sub-MIPs as stages of their own."""
    return bool(getattr(spec.options, "decoupled", False))


def heads_spec(spec: PruneSpec) -> HeadsSpec:
    """The heads a decoupled MIP prune needs: a DGL-trained model's own (nothing fitted: epochs 0), else heads
    fitted for the MIP's ``head_epochs``."""
    return HeadsSpec(spec.train, 0 if spec.train.training == "dgl" else spec.options.head_epochs)


def block_count(config: TrainConfig) -> int:
    """How many sub-MIPs the decoupled MIP of ``config``'s model has: one per Conv2d (at any width)."""
    return sum(isinstance(m, nn.Conv2d) for m in build_model(config.model).modules())


def block_specs(spec: PruneSpec) -> list[BlockSpec]:
    """The sub-MIPs of a decoupled MIP prune, one per conv block; their target is cleared, so every threshold the
    scores are cut at shares them."""
    base = dataclasses.replace(spec, target=Target())
    return [BlockSpec(base, k) for k in range(block_count(spec.train))]


def stages(spec: PruneSpec) -> list[MethodStage]:
    """The heads and the per-block stages of a decoupled MIP prune (none for a single MIP), shared by all its
    targets."""
    if not is_decoupled(spec):
        return []
    heads = MethodStage("heads", heads_spec(spec), label="heads")
    return [heads] + [MethodStage("block", block, (heads.spec.hash,), f"block {block.block}")
                      for block in block_specs(spec)]


def _heads(spec: HeadsSpec, env, artifacts):
    model = env.trained(spec.train).model
    data = env.data(spec.train).train
    heads = make_heads(model, data.input_shape, data.num_classes)
    heads.load_state_dict(artifacts.load_tensors(spec.hash, "heads.pt"))
    return model, heads.eval()


def run_heads(spec: HeadsSpec, env, inputs) -> HeadsRecord:
    """The heads of the blocks: the model's own (DGL) or fitted to the frozen dense model; stored as an artifact."""
    trained = env.trained(spec.train)
    heads, source = fitted_heads(trained.model, trained.heads, env.data(spec.train).train,
                                 MIPConfig(head_epochs=spec.epochs), spec.train.seed)
    inputs.artifacts.save_tensors(spec.hash, "heads.pt", heads.state_dict())
    return HeadsRecord(source, spec.epochs)


def run_block(spec: BlockSpec, env, inputs) -> BlockRecord:
    """Solve one block's sub-MIP; store its kept scores and its solver statistics."""
    config = spec.prune.options.for_seed(spec.prune.train.seed)
    model, heads = _heads(heads_spec(spec.prune), env, inputs.artifacts)
    problem = block_problem(model, heads, env.data(spec.prune.train).val, config, spec.block)
    result = solve_block(problem, config)
    inputs.artifacts.save_tensors(spec.hash, "scores.pt", result.scores)
    inputs.artifacts.save_json(spec.hash, "stats.json", result.solver.as_dict())
    return BlockRecord(spec.block, list(result.scores), result.solver.as_dict())


RUNNERS = {"heads": run_heads, "block": run_block}


def merged(spec: PruneSpec, inputs) -> MIPResult:
    """A decoupled MIP's scores from its blocks' stored ones, with the combined and the per-block statistics."""
    values, parts = {}, []
    for block in block_specs(spec):
        values.update(inputs.artifacts.load_tensors(block.hash, "scores.pt"))
        parts.append(SolverStats.from_dict(inputs.artifacts.load_json(block.hash, "stats.json")))
    return MIPResult(values, {}, combine(parts), tuple(parts))


def merged_scores(spec: PruneSpec, inputs) -> Scores | None:
    """The prune's :class:`Scores` from its blocks (:func:`merged`), with their statistics
    (:func:`~benchmark.mip.scorer.stats_dict`) and the heads' source (from the heads stage's record); None for a
    single MIP."""
    if not is_decoupled(spec):
        return None
    result = merged(spec, inputs)
    heads = inputs.records[heads_spec(spec).hash]["heads"]
    return Scores(result.scores, "neuron",
                  {**stats_dict(result, spec.options.for_seed(spec.train.seed)), "heads": heads})
