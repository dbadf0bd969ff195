"""Parallel speed-up of the decoupled MIP: the same 13 sub-MIPs solved by 1, 2, ... workers of the harness's local
executor, side by side in one run.

The instance is the DGL-trained VGG-16 of ``--width-divisor`` on ``--dataset`` (CIFAR-10) (trained on ``--device``,
or loaded from the model cache), its own heads, ``--block-bounds`` (network, the official choice, or local: far
smaller sub-MIPs). Each block stops at ``--node-limit`` nodes (or its ``--time-limit``), so every worker count does
the same solver work and must return the same scores (checked). Each worker runs one torch and one SCIP thread.
Prints, and writes to ``--out`` as Markdown, one row per worker count: wall seconds, speed-up over one worker, and
the slowest block (the floor no worker count can beat). Run ``python -m benchmark.perf.decoupled_speedup --workers 1
2`` (add ``8 16`` on a 16-core machine).
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import block_problems, solve_block
from benchmark.perf.decoupled_instance import add_arguments, load_instance, run, write_table
from benchmark.pipeline.executors import make_executor


def warm_up(seconds: float) -> None:
    """Occupy a worker after its imports, so that every worker of the pool is started before the clock runs."""
    time.sleep(seconds)


def solve_all(problems, config: MIPConfig, workers: int) -> tuple[float, list]:
    """Wall seconds to solve every problem on a local executor of ``workers`` processes (started and warmed up
    outside the clock), and the results in order."""
    executor = make_executor("local", workers)
    try:
        for future in [executor.submit(warm_up, 1.0) for _ in range(workers)]:
            future.result()
        start = time.perf_counter()
        futures = [executor.submit(solve_block, problem, config) for problem in problems]
        results = [future.result() for future in futures]
        return time.perf_counter() - start, results
    finally:
        executor.close()


def main(argv: list[str] | None = None) -> None:
    """Train or load the instance, solve it with each worker count, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--node-limit", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--max-unstable", type=int, default=0, help="skip blocks with more unstable ReLUs (0: none)")
    add_arguments(parser, width_divisor=8, epochs=2, train_limit=0)
    args = parser.parse_args(argv)
    instance = load_instance(args, node_limit=args.node_limit, time_limit=args.time_limit,
                             max_unstable=args.max_unstable)
    problems = block_problems(instance.trained.model, instance.heads, instance.splits.val, instance.config)

    rows, reference = [], None
    for workers in args.workers:
        wall, results = solve_all(problems, instance.config, workers)
        scores = [torch.cat(list(r.scores.values())) for r in results]
        if reference is None:
            reference, serial = scores, wall
        same = all(torch.equal(a, b) for a, b in zip(scores, reference))
        slowest = max(r.solver.build_seconds + r.solver.solve_seconds for r in results)
        rows.append((workers, wall, serial / wall, slowest, same))
        print(f"{workers:>3} workers: {wall:8.1f} s  speed-up {serial / wall:5.2f}x  slowest block {slowest:6.1f} s"
              f"  same scores: {same}", flush=True)
    statuses = ", ".join(f"{k}:{r.solver.status}" for k, r in enumerate(results))
    table = ["| workers | wall s | speed-up | slowest block s | same scores |", "|---|---|---|---|---|"]
    table += [f"| {w} | {s:.1f} | {x:.2f}x | {b:.1f} | {same} |" for w, s, x, b, same in rows]
    write_table(f"Decoupled MIP, {instance.describe()}, 13 blocks, node limit {args.node_limit}, block statuses "
                f"{statuses}\n\n" + "\n".join(table), args.out)


if __name__ == "__main__":
    run(main)
