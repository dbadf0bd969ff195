"""Solving every decoupled VGG-16 sub-MIP: per block its size, unstable ReLUs, build and solve seconds, peak
memory, status and objective, each block built and solved in a fresh process on one thread.

The instance is :mod:`benchmark.perf.decoupled_instance`'s (by default the weakly trained full-width VGG-16,
``block_bounds = network``, symbolic bounds) with the first validation images of each class as every block's
batch, so the network's bounds at the block inputs are propagated once (about 5 CPU minutes per image at full
width, symbolic) and kept under ``--work``. Each finished block's row is kept there too: a stopped run resumes
where it stopped. By default the relaxed ce program (HiGHS first under ``solver = auto``); ``--exact`` solves the
exact program with the rounding start (``rounding_start = true``) and reports whether its incumbent improved on
the dense start, and the gap at the limit. Run
``python -m benchmark.perf.block_solve --work /tmp/blocks --out results/vgg16-blocks/block_solve_cpu.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import resource
import time
from pathlib import Path

import torch

from benchmark.core.errors import SolverError
from benchmark.mip import solvers
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import BlockProblem, block_problem, network_bounds
from benchmark.mip.rounding import rounding_start
from benchmark.mip.scorer import build_model
from benchmark.perf.block_build import first_per_class
from benchmark.perf.decoupled_instance import add_arguments, load_instance, run, write_table

COLUMNS = ("block", "unstable ReLU elements", "largest big-M", "variables", "rows", "build s", "solve s", "peak GB",
           "status", "objective", "dense start kept", "rounding start", "gap", "relaxed optimum", "gap to it", "solver")


def solve_once(problem: BlockProblem, config: MIPConfig) -> dict:
    """Build and solve one sub-MIP in this (fresh) process, on one thread (as :func:`solve_block` does, with the
    rounding start where ``config`` asks for it): the size of what was built, the solver's outcome or the one-line
    error of a solver that returned no usable point, and the process's peak memory."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    encoded, _ = build_model(problem.layers, problem.inputs, problem.labels, config, None, problem.box)
    counts = encoded.relu_counts
    instance = encoded.builder.instance
    built = {"build_seconds": time.perf_counter() - start, "variables": instance.n_vars,
             "dense_start_objective": float(instance.objective @ instance.start + instance.offset),
             "constraints": instance.n_rows(), "stable_inactive": counts.inactive,
             "stable_active": counts.active, "largest_big_m": counts.big_m,
             "binaries_before_stable_removal": counts.inactive + counts.active + counts.unstable}
    try:
        heuristic = rounding_start(encoded.builder, config) if config.rounding_start else None
        outcome, _, accepted = solvers.solve(encoded.builder, config)
        result = {**outcome, "dense_start_accepted": accepted,
                  "rounding_start_accepted": bool(heuristic and heuristic.accepted),
                  "rounding_start_objective": heuristic.objective if heuristic else None,
                  "rounding_start_cpu_seconds": heuristic.cpu_seconds if heuristic else None}
    except SolverError as error:
        result = {"failed": str(error)}
    return {**built, **result, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def solve_in_fresh_process(problem: BlockProblem, config: MIPConfig) -> dict:
    """:func:`solve_once` in a spawned process of its own."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(solve_once, problem, config).result()


def network_box_bounds(instance, work: Path) -> None:
    """Propagate the network's bounds over the shared batch once, kept in ``work`` (and in this process's cache,
    where :func:`block_problem` finds them)."""
    x, _, _ = first_per_class(instance.trained.model, instance.splits.val, instance.config.n_samples, 0)
    images = x.double()
    box = (images - instance.config.epsilon, images + instance.config.epsilon)
    path = work / f"network_bounds_{instance.config.bound_propagation}_n{instance.config.n_samples}.pt"
    if path.exists():
        network_bounds(instance.trained.model, box, instance.config.bound_propagation, known=torch.load(path))
    else:
        torch.save(network_bounds(instance.trained.model, box, instance.config.bound_propagation), path)


def relaxed_optimum(work: Path, k: int) -> float | None:
    """Block ``k``'s relaxed optimum among the rows kept in ``work`` (any solver or limit): a lower bound on its
    exact program, which differs from it only in its binaries."""
    for path in sorted(work.glob(f"block{k}_relaxed*.json")):
        kept = json.loads(path.read_text())
        if kept.get("status") == "optimal":
            return kept["primal_bound"]
    return None


def _bound_cells(s: dict, bound: float | None) -> str:
    """An exact row's relaxed optimum and the incumbent's gap to it, SCIP's measure (empty without either)."""
    if bound is None or s.get("primal_bound") is None:
        return " | "
    return f"{bound:.6g} | {abs(s['primal_bound'] - bound) / max(abs(bound), 1e-9):.3g}"


def _dense_cell(s: dict) -> str:
    """Whether SCIP kept the dense start, with its objective where the row has it (kept since it was added)."""
    kept = "yes" if s["dense_start_accepted"] else "no"
    return f"{kept} ({s['dense_start_objective']:.6g})" if "dense_start_objective" in s else kept


def row(k: int, s: dict, bound: float | None = None) -> str:
    """One block's table row (its unstable ReLU elements: those neither stable inactive nor active); an exact
    row adds ``bound``, the relaxed optimum, and its incumbent's gap to it."""
    if "failed" in s and "variables" not in s:  # kept before failed rows kept their size
        return f"| {k} | | | | | | | {s['peak_gb']:.1f} | failed: {s['failed']} | | | | | | | |"
    unstable = s["binaries_before_stable_removal"] - s["stable_inactive"] - s["stable_active"]
    big_m = f"{s['largest_big_m']:.3g}" if "largest_big_m" in s else ""  # kept since the column was added
    if "failed" in s:
        return (f"| {k} | {unstable} | {big_m} | {s['variables']} | {s['constraints']} | {s['build_seconds']:.1f} | | "
                f"{s['peak_gb']:.1f} | failed: {s['failed']} | | | | | | | |")
    objective = s["rounding_start_objective"]
    rounding = "" if objective is None and not s["rounding_start_accepted"] else (
        ("accepted" if s["rounding_start_accepted"] else "refused") + (f" {objective:.6g}" if objective else "")
        + (f" after {s['rounding_start_cpu_seconds']:.0f} CPU s" if s.get("rounding_start_cpu_seconds") else ""))
    return (f"| {k} | {unstable} | {big_m} | {s['variables']} | {s['constraints']} | {s['build_seconds']:.1f} | "
            f"{s['solve_seconds']:.1f} | {s['peak_gb']:.1f} | {s['status']} | {s['primal_bound']:.6g} | "
            f"{_dense_cell(s)} | {rounding} | {s['gap']:.3g} | "
            f"{_bound_cells(s, bound)} | {s['solver']} {s['solver_version']} |")


def main(argv: list[str] | None = None) -> None:
    """Train or load the instance, solve each block (resuming from ``--work``), print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="*", default=None, help="blocks to solve (default: all)")
    parser.add_argument("--exact", action="store_true", help="the exact program, with the rounding start")
    parser.add_argument("--time-limit", type=float, default=600.0, help="solver limit per block, seconds")
    parser.add_argument("--solver", default="auto", choices=("auto", "scip", "highs", "clarabel"),
                        help="the program's solver (MIPConfig.solver; default: auto)")
    parser.add_argument("--work", type=Path, required=True, help="keeps the network bounds and finished rows")
    add_arguments(parser, width_divisor=1, epochs=3, train_limit=6000)
    parser.set_defaults(bound_propagation="symbolic")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    instance = load_instance(args, time_limit=args.time_limit)
    if args.exact:
        instance.config = dataclasses.replace(instance.config, relaxed=False, rounding_start=True)
    instance.config = dataclasses.replace(instance.config, solver=args.solver)
    network_box_bounds(instance, args.work)
    program = "exact" if args.exact else "relaxed"
    table = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for k in args.blocks if args.blocks is not None else range(len(instance.heads) + 1):
        solver = "" if args.solver == "auto" else f"_{args.solver}"
        done = args.work / f"block{k}_{program}{solver}_{args.time_limit:g}.json"
        if not done.exists():
            problem = block_problem(instance.trained.model, instance.heads, instance.splits.val, instance.config,
                                    k, first_per_class)
            done.write_text(json.dumps(solve_in_fresh_process(problem, instance.config), default=str))
        table.append(row(k, json.loads(done.read_text()), relaxed_optimum(args.work, k) if args.exact else None))
        print(table[-1], flush=True)
    write_table(f"Decoupled MIP solve ({program} program), {instance.describe()} (first batch), one thread per "
                f"block, limit {args.time_limit:g} s\n\n" + "\n".join(table), args.out)


if __name__ == "__main__":
    run(main)
