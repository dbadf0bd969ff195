"""The decoupled MIP as stages: the heads, one stage per block's sub-MIP, and the merge in the prune stage.

The plan gives a decoupled MIP prune one ``heads`` stage and one ``block`` stage per conv block; the blocks wait
for the heads and the prune stage waits for every block, so the executor (local pool or Dask) solves the
independent sub-MIPs in parallel, a failed block is one stored line, and a re-run solves only the missing blocks.
Each block stage recomputes the (deterministic, cheap) block problems and solves its own.
"""

from __future__ import annotations

from benchmark.harness.plan import Job, block_specs, heads_spec, is_decoupled
from benchmark.harness.stage_context import StageEnv, StageInputs, load_data, load_trained
from benchmark.heads import make_heads
from benchmark.methods import Scores
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import block_problem, combine, fitted_heads, solve_block
from benchmark.mip.method import stats_dict
from benchmark.mip.scorer import MIPResult
from benchmark.records import SolverStats
from benchmark.specs import BlockSpec, HeadsSpec, PruneSpec
from benchmark.store.artifacts import Artifacts


def _heads(spec: HeadsSpec, env: StageEnv, artifacts: Artifacts):
    trained = load_trained(spec.train, env.data_dir, env.device)
    data = load_data(spec.train, env.data_dir).train
    heads = make_heads(trained.model, data.input_shape, data.num_classes)
    heads.load_state_dict(artifacts.load_tensors(spec.hash, "heads.pt"))
    return trained.model, heads.eval()


def run_heads(job: Job, env: StageEnv, inputs: StageInputs) -> dict:
    """The heads of the blocks: the model's own (DGL) or fitted to the frozen dense model; stored as an artifact."""
    spec: HeadsSpec = job.spec
    trained = load_trained(spec.train, env.data_dir, env.device)
    data = load_data(spec.train, env.data_dir).train
    heads, source = fitted_heads(trained.model, trained.heads, data, MIPConfig(head_epochs=spec.epochs),
                                 spec.train.seed)
    inputs.artifacts.save_tensors(spec.hash, "heads.pt", heads.state_dict())
    return {"heads": source, "head_epochs": spec.epochs}


def run_block(job: Job, env: StageEnv, inputs: StageInputs) -> dict:
    """Solve one block's sub-MIP; store its kept scores and its solver statistics."""
    spec: BlockSpec = job.spec
    config = spec.prune.options.for_seed(spec.prune.train.seed)
    model, heads = _heads(heads_spec(spec.prune), env, inputs.artifacts)
    problem = block_problem(model, heads, load_data(spec.prune.train, env.data_dir).val, config, spec.block)
    result = solve_block(problem, config)
    inputs.artifacts.save_tensors(spec.hash, "scores.pt", result.scores)
    inputs.artifacts.save_json(spec.hash, "stats.json", result.solver.as_dict())
    return {"block": spec.block, "layers": list(result.scores), "stats": result.solver.as_dict()}


def merged_scores(spec: PruneSpec, inputs: StageInputs) -> Scores | None:
    """A decoupled MIP's scores from its blocks' stored ones, with the combined and the per-block solver
    statistics and the heads' source (from the heads stage's record); None for any other method."""
    if not is_decoupled(spec):
        return None
    artifacts, values, parts = inputs.artifacts, {}, []
    for block in block_specs(spec):
        values.update(artifacts.load_tensors(block.hash, "scores.pt"))
        parts.append(SolverStats.from_dict(artifacts.load_json(block.hash, "stats.json")))
    heads = inputs.records[heads_spec(spec).hash]["heads"]
    merged = MIPResult(values, {}, combine(parts), tuple(parts))
    return Scores(values, "neuron", {**stats_dict(merged, spec.options.for_seed(spec.train.seed)), "heads": heads})
