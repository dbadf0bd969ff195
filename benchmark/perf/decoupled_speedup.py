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
from pathlib import Path

import torch

from benchmark.cache import get_trained
from benchmark.config import TrainConfig
from benchmark.device import configure_device, resolve_device
from benchmark.experiment import load_data
from benchmark.harness.executors import make_executor
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import block_problems, fitted_heads, solve_block
from benchmark.threads import configure_threads


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
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--width-divisor", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2, help="DGL training epochs of the instance's network")
    parser.add_argument("--train-limit", type=int, default=0, help="training images (0: all)")
    parser.add_argument("--node-limit", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--block-bounds", default="network", choices=("network", "local"))
    parser.add_argument("--max-unstable", type=int, default=0, help="skip blocks with more unstable ReLUs (0: none)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    configure_threads(cores=1)
    device = resolve_device(args.device)
    configure_device(device)
    train = TrainConfig.paper("vgg16", args.dataset, epochs=args.epochs, width_divisor=args.width_divisor,
                              train_limit=args.train_limit)
    splits = load_data(train, args.data_dir)
    trained = get_trained(train, splits, device=device)
    config = MIPConfig(loss="ce", relaxed=True, decoupled=True, nlp_heuristics=False, node_limit=args.node_limit,
                       time_limit=args.time_limit, max_unstable=args.max_unstable,
                       block_bounds=args.block_bounds).for_seed(train.seed)
    heads, _ = fitted_heads(trained.model, trained.heads, splits.train, config, train.seed)
    problems = block_problems(trained.model, heads, splits.val, config)

    rows, reference = [], None
    for workers in args.workers:
        wall, results = solve_all(problems, config, workers)
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
    text = (f"Decoupled MIP, VGG-16 width/{args.width_divisor} DGL-trained {args.epochs} epochs on {args.dataset} "
            f"({device}), "
            f"13 blocks, ce relaxed, block_bounds {args.block_bounds}, node limit {args.node_limit}, "
            f"block statuses {statuses}\n\n" + "\n".join(table))
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
