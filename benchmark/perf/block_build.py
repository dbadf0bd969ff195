"""Building the decoupled VGG-16 sub-MIPs: size, seconds and peak memory per block, and the MIP builder's sparse
route against its dense route on the same blocks, side by side in one run.

The instance is the DGL-trained VGG-16 of ``--width-divisor`` on ``--dataset`` (trained on ``--device`` for
``--epochs`` on ``--train-limit`` images, or loaded from the model cache), its own heads and ``--block-bounds``.
The batch is the protocol's (images the block's head classifies correctly; a block without one is listed as
such), or with ``--batch first`` the first validation images of each class, right or wrong: a weakly trained CPU
instance then still shows every block's size. Every build
runs in a fresh process (one thread), so its peak memory is its own. ``--compare`` names blocks that are built a
second time on the dense route alone (``DENSE_LIMIT`` raised past any block: the builder before the sparse route
existed). Each block's unstable ReLU elements and largest big-M constant are listed under interval bounds (the
official code's) and under symbolic ones, each with its own network box at the block input; the builds use
``--bound-propagation``. Nothing is solved. Run ``python -m benchmark.perf.block_build --compare 5``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import math
import multiprocessing
import resource
import time

import torch

from benchmark.mip import affine
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import BlockProblem, block_problem, relu_bounds
from benchmark.mip.scorer import build_model
from benchmark.nn.threads import configure_threads
from benchmark.perf.decoupled_instance import add_arguments, load_instance, run, write_table
from datasets import DatasetError, pick_one_per_class


def build_once(problem: BlockProblem, config: MIPConfig, dense_only: bool) -> dict:
    """Build one sub-MIP in this (fresh) process; its size, seconds and the process's peak memory."""
    configure_threads(cores=1)
    if dense_only:
        affine.DENSE_LIMIT = math.inf
    start = time.perf_counter()
    encoded, _ = build_model(problem.layers, problem.inputs, problem.labels, config, None, problem.box)
    seconds = time.perf_counter() - start
    model = encoded.builder.scip.model
    return {"variables": model.getNVars(), "rows": model.getNConss(), "seconds": seconds,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def first_per_class(network, data, n: int, seed: int):
    """The first validation image of each class in turn, whether ``network`` gets it right or not."""
    index = torch.tensor([int(torch.nonzero(data.labels == k % data.num_classes)[k // data.num_classes])
                          for k in range(n)])
    return (*data.tensors(index), index)


def build_in_fresh_process(problem: BlockProblem, config: MIPConfig, dense_only: bool) -> dict:
    """:func:`build_once` in a spawned process of its own."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(build_once, problem, config, dense_only).result()


def main(argv: list[str] | None = None) -> None:
    """Train or load the instance, build each block (and the compared ones twice), print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="*", default=None, help="blocks to build (default: all)")
    parser.add_argument("--compare", type=int, nargs="*", default=[], help="blocks also built on the dense route")
    parser.add_argument("--batch", default="protocol", choices=("protocol", "first"))
    parser.add_argument("--no-build", action="store_true", help="list the bounds only, build nothing")
    add_arguments(parser, width_divisor=1, epochs=3, train_limit=6000)
    args = parser.parse_args(argv)
    instance = load_instance(args)
    table = ["| block | unstable ReLU elements, interval / symbolic | largest big-M, interval / symbolic | builder | "
             "variables | rows | build s | peak GB |", "|---|---|---|---|---|---|---|---|"]
    ratios = []
    pick = first_per_class if args.batch == "first" else pick_one_per_class
    for k in args.blocks if args.blocks is not None else range(len(instance.heads) + 1):
        try:
            problem = block_problem(instance.trained.model, instance.heads, instance.splits.val, instance.config, k,
                                    pick)
        except DatasetError as error:  # a head too weak to classify one image of some class: no batch
            table.append(f"| {k} | no batch: {error} | | | | | | |")
            print(table[-1], flush=True)
            continue
        sizes = {}
        for propagation in ("interval", "symbolic"):
            config = dataclasses.replace(instance.config, bound_propagation=propagation)
            sizes[propagation] = relu_bounds(block_problem(instance.trained.model, instance.heads,
                                                           instance.splits.val, config, k, pick),
                                             config.bounds, propagation)
        unstable = " / ".join(str(sizes[p][0]) for p in sizes)
        big_m = " / ".join(f"{sizes[p][1]:.3g}" for p in sizes)
        if args.no_build:
            table.append(f"| {k} | {unstable} | {big_m} | not built | | | | |")
            print(table[-1], flush=True)
            continue
        builds = {"sparse+dense": build_in_fresh_process(problem, instance.config, dense_only=False)}
        if k in args.compare:
            builds["dense"] = build_in_fresh_process(problem, instance.config, dense_only=True)
            dense, sparse = builds["dense"], builds["sparse+dense"]
            ratios.append(f"block {k}: the dense route alone takes {dense['seconds'] / sparse['seconds']:.2f}x the "
                          f"seconds and {dense['peak_gb'] / sparse['peak_gb']:.2f}x the peak memory of the builder "
                          "with both routes")
        for route, b in builds.items():
            row = (f"| {k} | {unstable} | {big_m} | {route} | {b['variables']} | {b['rows']} | {b['seconds']:.1f} | "
                   f"{b['peak_gb']:.1f} |")
            table.append(row)
            print(row, flush=True)
    write_table(f"Decoupled MIP build, {instance.describe()} ({args.batch} batch), one thread per build\n\n"
                + "\n".join(table + [""] + ratios), args.out)


if __name__ == "__main__":
    run(main)
