"""Score a trained network with the OAMIP model: per-unit importance scores, a thresholded mask, statistics."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmark.core.records import SolverStats
from benchmark.methods.selection import threshold_mask
from benchmark.mip.config import MIPConfig
from benchmark.mip.encode import EncodedNetwork, encode_network
from benchmark.mip.objective import add_logit_variables, add_loss, add_sparsity
from benchmark.mip.rounding import RoundingStart, rounding_start
from benchmark.mip.solve import configure, export
from benchmark.mip.solvers import solve

LIMITS = {"timelimit": ("time limit", "--time-limit"), "nodelimit": ("node limit", "--node-limit")}


@dataclass
class MIPResult:
    """Scores in [0,1] per prunable layer, the mask ``score >= threshold``, and solver statistics
    (for the decoupled MIP: summed over the sub-MIPs, each of which is in ``blocks``)."""

    scores: dict[str, torch.Tensor]
    mask: dict[str, torch.Tensor]
    solver: SolverStats
    blocks: tuple[SolverStats, ...] = ()


def stats_dict(result: MIPResult, config: MIPConfig) -> dict:
    """The plain statistics dict a method's ``Scores`` carries: the solver's fields, the config, the blocks."""
    stats = {**result.solver.as_dict(), "config": asdict(config)}
    if result.blocks:
        stats["blocks"] = [block.as_dict() for block in result.blocks]
    return stats


def build_model(model: nn.Sequential, inputs: torch.Tensor, labels: torch.Tensor, config: MIPConfig,
                scored: list[str] | None = None, input_box=None) -> tuple[EncodedNetwork, np.ndarray]:
    """The full OAMIP program (constraints and objective); returns it and the (N, K) logit variable ids. When SCIP
    solves it (``config.backend``), its SCIP model is made and configured here too."""
    encoded = encode_network(model, inputs, config.epsilon, config.relaxed, scored=scored, input_box=input_box,
                             bounds=config.bounds, propagation=config.bound_propagation)
    z = add_logit_variables(encoded)
    add_loss(encoded.builder, z, labels.tolist(), config)
    add_sparsity(encoded, config)
    if config.backend == "scip":
        configure(encoded.builder.scip.model, config)
    return encoded, z


def limit_warnings(status: str, scores: dict[str, torch.Tensor]) -> tuple[str, ...]:
    """A warning when the solver stopped at a limit while its incumbent was still the dense start (every score
    1)."""
    if status not in LIMITS or any(bool((s < 1.0 - 1e-6).any()) for s in scores.values()):
        return ()
    limit, flag = LIMITS[status]
    return (f"{limit} hit before SCIP improved on the dense start: nothing is pruned; raise {flag}",)


def score_network(model: nn.Sequential, inputs: torch.Tensor, labels: torch.Tensor, config: MIPConfig,
                  threshold: float, export_path: str | Path | None = None,
                  scored: list[str] | None = None, input_box=None) -> MIPResult:
    """Build, (optionally) export and solve the MIP on ``config.backend`` (after the rounding start, with
    ``config.rounding_start``); threshold the scores into a mask.

    ``input_box`` replaces the default input bounds ``inputs +- epsilon`` (the decoupled sub-MIPs use it). The
    export is the SCIP model of the program, whichever solver runs it."""
    start = time.perf_counter()
    encoded, _ = build_model(model, inputs, labels, config, scored, input_box)
    build_seconds = time.perf_counter() - start
    if export_path is not None:
        export(encoded.builder.scip.model, export_path, config)
    heuristic = RoundingStart(False, None, None, 0.0)
    if config.rounding_start:
        heuristic = rounding_start(encoded.builder, config)
    outcome, x, start_accepted = solve(encoded.builder, config)
    fallback = outcome.pop("warnings", ())  # auto's first solver returned nothing usable (benchmark.mip.solvers)
    scores = {name: torch.from_numpy(x[ids]).clamp(0.0, 1.0) for name, ids in encoded.scores.items()}
    mask, guarded = threshold_mask(scores, threshold)
    counts = encoded.relu_counts
    solver = SolverStats(
        **outcome,
        build_seconds=build_seconds,
        binaries_before_stable_removal=counts.inactive + counts.active + counts.unstable,
        binaries_after_stable_removal=0 if config.relaxed else counts.unstable,
        stable_inactive=counts.inactive,
        stable_active=counts.active,
        rows_emitted=encoded.builder.instance.n_rows(),
        dense_start_accepted=start_accepted,
        rounding_start_accepted=heuristic.accepted,
        rounding_start_objective=heuristic.objective,
        threshold=threshold,
        empty_layer_guard=tuple(guarded),
        warnings=(*fallback, *limit_warnings(outcome["status"], scores)),
    )
    return MIPResult(scores, mask, solver)


def check_encoding(model: nn.Sequential, inputs: torch.Tensor, epsilon: float = 1e-5,
                   scored: list[str] | None = None, bounds: str = "dense") -> float:
    """Max |MIP logits - network logits| with every score fixed to 1 (the encoding's self-check)."""
    encoded = encode_network(model, inputs, epsilon, relaxed=False, scored=scored, bounds=bounds)
    z = add_logit_variables(encoded)
    scip_model, variables = encoded.builder.scip
    for ids in encoded.scores.values():
        for j in ids.tolist():
            scip_model.chgVarLb(variables[j], 1.0)
    scip_model.setParam("numerics/feastol", 1e-9)
    scip_model.optimize()
    solution = scip_model.getBestSol()
    mip_logits = torch.tensor([[solution[variables[j]] for j in row] for row in z.tolist()])
    with torch.no_grad():
        reference = copy.deepcopy(model).double().eval()(inputs.double())
    return float((mip_logits - reference).abs().max())
