"""Building the decoupled VGG-16 sub-MIPs: size, seconds and peak memory per block, and the MIP builder's sparse
route against its dense route on the same blocks, side by side in one run.

The instance is the DGL-trained VGG-16 of ``--width-divisor`` on ``--dataset`` (trained on ``--device`` for
``--epochs`` on ``--train-limit`` images, or loaded from the model cache), its own heads and ``--block-bounds``.
The batch is the protocol's (images the block's head classifies correctly; a block without one is listed as
such), or with ``--batch first`` the first validation images of each class, right or wrong: a weakly trained CPU
instance then still shows every block's size. Every build
runs in a fresh process (one thread), so its peak memory is its own. ``--compare`` names blocks that are built a
second time on the dense route alone (``DENSE_LIMIT`` raised past any block: the builder before the sparse route
existed). Nothing is solved. Run ``python -m benchmark.perf.block_build --compare 5``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import resource
import time
from pathlib import Path

import torch

from benchmark.cache import get_trained
from benchmark.config import TrainConfig
from benchmark.device import configure_device, resolve_device
from benchmark.experiment import load_data
from benchmark.mip import affine
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import BlockProblem, block_problem, fitted_heads, unstable_elements
from benchmark.mip.scorer import build_model
from benchmark.threads import configure_threads
from datasets import DatasetError, pick_one_per_class


def build_once(problem: BlockProblem, config: MIPConfig, dense_only: bool) -> dict:
    """Build one sub-MIP in this (fresh) process; its size, seconds and the process's peak memory."""
    configure_threads(cores=1)
    if dense_only:
        affine.DENSE_LIMIT = math.inf
    start = time.perf_counter()
    encoded, _ = build_model(problem.layers, problem.inputs, problem.labels, config, None, problem.box)
    seconds = time.perf_counter() - start
    model = encoded.builder.model
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
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--width-divisor", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3, help="DGL training epochs of the instance's network")
    parser.add_argument("--train-limit", type=int, default=6000, help="training images (0: all)")
    parser.add_argument("--block-bounds", default="network", choices=("network", "local"))
    parser.add_argument("--blocks", type=int, nargs="*", default=None, help="blocks to build (default: all)")
    parser.add_argument("--compare", type=int, nargs="*", default=[], help="blocks also built on the dense route")
    parser.add_argument("--batch", default="protocol", choices=("protocol", "first"))
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
    config = MIPConfig(loss="ce", relaxed=True, decoupled=True, nlp_heuristics=False,
                       block_bounds=args.block_bounds).for_seed(train.seed)
    heads, _ = fitted_heads(trained.model, trained.heads, splits.train, config, train.seed)
    table = ["| block | unstable ReLU elements | builder | variables | rows | build s | peak GB |",
             "|---|---|---|---|---|---|---|"]
    ratios = []
    for k in args.blocks if args.blocks is not None else range(len(heads) + 1):
        try:
            problem = block_problem(trained.model, heads, splits.val, config, k,
                                    first_per_class if args.batch == "first" else pick_one_per_class)
        except DatasetError as error:  # a head too weak to classify one image of some class: no batch
            table.append(f"| {k} | no batch: {error} | | | | | |")
            print(table[-1], flush=True)
            continue
        unstable = unstable_elements(problem)
        builds = {"sparse+dense": build_in_fresh_process(problem, config, dense_only=False)}
        if k in args.compare:
            builds["dense"] = build_in_fresh_process(problem, config, dense_only=True)
            dense, sparse = builds["dense"], builds["sparse+dense"]
            ratios.append(f"block {k}: the dense route alone takes {dense['seconds'] / sparse['seconds']:.2f}x the "
                          f"seconds and {dense['peak_gb'] / sparse['peak_gb']:.2f}x the peak memory of the builder "
                          "with both routes")
        for route, b in builds.items():
            row = (f"| {k} | {unstable} | {route} | {b['variables']} | {b['rows']} | {b['seconds']:.1f} | "
                   f"{b['peak_gb']:.1f} |")
            table.append(row)
            print(row, flush=True)
    text = (f"Decoupled MIP build, VGG-16 width/{args.width_divisor} DGL-trained {args.epochs} epochs on "
            f"{args.train_limit or 'all'} {args.dataset} images ({device}), N={config.n_samples} ({args.batch} batch), "
            f"ce relaxed, "
            f"block_bounds {args.block_bounds}, one thread per build\n\n" + "\n".join(table + [""] + ratios))
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
