"""The scalable "decoupled" MIP (the paper's auxiliary networks, used for VGG-16).

The network is cut at every Conv2d. Block k is ``[Conv_k, BN_k, ReLU_k]`` (pooling stays outside), followed by
an auxiliary head: AdaptiveAvgPool(ceil(H/4)), 1x1 conv, BN, ReLU, AdaptiveAvgPool(2), Linear(4C,4C), BN, ReLU,
Linear(4C, classes). The last block is the real tail of the network instead. One sub-MIP per block, over the
block and its head, takes the main network's representation at Conv_k's input as data and the full network's
interval bounds there as its input box. The sub-MIPs are independent and are solved in parallel (a process
pool by default, or the harness's executor); only Conv_k's scores are kept (all of the tail's), and the merged
scores are thresholded globally.
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import math
import multiprocessing
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.mip.bounds import interval_bounds
from benchmark.mip.config import MIPConfig
from benchmark.mip.layers import check_supported
from benchmark.mip.scorer import MIPResult, score_network
from benchmark.models import prunable_layers
from benchmark.records import SolverStats
from benchmark.selection import threshold_mask
from datasets import ImageSet, InMemoryLoader, pick_one_per_class


@dataclass
class Block:
    """One cut of the network: its span in the main network, its layers (block plus head), scores to keep."""

    start: int  # position of Conv_k in the main network
    end: int  # first position after the block (a pooling layer, the next conv, or the end)
    layers: nn.Sequential
    keep: list[str]


def aux_head(channels: int, spatial: int, num_classes: int) -> nn.Sequential:
    """The DGL auxiliary classifier of the official code (n_lin=1, mlp_layers=1)."""
    return nn.Sequential(OrderedDict([
        ("aux_pool", nn.AdaptiveAvgPool2d(math.ceil(spatial / 4))),
        ("aux_conv", nn.Conv2d(channels, channels, 1, bias=False)),
        ("aux_bn", nn.BatchNorm2d(channels, affine=False)),
        ("aux_relu", nn.ReLU()),
        ("aux_pool2", nn.AdaptiveAvgPool2d(2)),
        ("aux_flatten", nn.Flatten()),
        ("aux_fc", nn.Linear(4 * channels, 4 * channels)),
        ("aux_bn_fc", nn.BatchNorm1d(4 * channels, affine=False)),
        ("aux_relu_fc", nn.ReLU()),
        ("aux_out", nn.Linear(4 * channels, num_classes)),
    ]))


POOLS = (nn.AvgPool2d, nn.AdaptiveAvgPool2d)  # MaxPool2d is refused: the encoder has no max-pooling


def block_spans(model: nn.Sequential) -> list[tuple[int, int]]:
    """(start, end) of each conv block: from a Conv2d up to the next pooling layer or Conv2d.

    Every decoupled step starts here, so a layer the MIP cannot encode is refused before any work."""
    check_supported(model)
    children = list(model.children())
    starts = [i for i, m in enumerate(children) if isinstance(m, nn.Conv2d)]
    spans = []
    for start in starts:
        end = start + 1
        while end < len(children) and not isinstance(children[end], (nn.Conv2d, *POOLS)):
            end += 1
        spans.append((start, end))
    return spans


def block_features(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every conv block but the last (what the heads see), in one forward pass."""
    children, features, position = list(model.children()), [], 0
    for _, end in block_spans(model)[:-1]:
        x = nn.Sequential(*children[position:end])(x)
        features.append(x)
        position = end
    return features


def make_heads(model: nn.Sequential, input_shape: tuple[int, int, int], num_classes: int) -> nn.ModuleList:
    """One untrained head per conv block but the last, sized from a dry run."""
    with torch.no_grad():
        shapes = [f.shape for f in block_features(model.eval(), torch.zeros(1, *input_shape))]
    return nn.ModuleList(aux_head(shape[1], shape[2], num_classes) for shape in shapes)


def blocks(model: nn.Sequential, heads: nn.ModuleList) -> list[Block]:
    """The block-plus-head sub-networks, and the tail of the network as the last one."""
    named = list(model.named_children())
    spans = block_spans(model)
    result = []
    for k, (start, end) in enumerate(spans[:-1]):
        layers = nn.Sequential(OrderedDict(named[start:end] + list(heads[k].named_children())))
        result.append(Block(start, end, layers, [named[start][0]]))
    start = spans[-1][0]
    tail = nn.Sequential(OrderedDict(named[start:]))
    result.append(Block(start, len(named), tail, list(prunable_layers(tail))))
    return result


def train_heads(model: nn.Sequential, heads: nn.ModuleList, data: ImageSet, epochs: int = 2, lr: float = 1e-3,
                batch_size: int = 128, seed: int = 0) -> None:
    """Fit every head on the frozen network's block outputs, with Adam, all heads in one pass per batch.

    (The paper trained the network itself greedily with DGL; here the heads are fitted to a given network.)
    """
    model.eval()
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(heads.parameters(), lr=lr)
    for _ in range(epochs):
        heads.train()
        for x, y in InMemoryLoader(data, batch_size, seed=seed):
            with torch.no_grad():
                features = block_features(model, x)
            optimizer.zero_grad()
            sum(F.cross_entropy(head(f), y) for head, f in zip(heads, features)).backward()
            optimizer.step()
    heads.eval()


def _solve_block(layers: nn.Sequential, inputs, labels, box, config: MIPConfig, keep: list[str]) -> MIPResult:
    """Worker: one sub-MIP (thresholding happens globally later)."""
    torch.set_num_threads(1)
    result = score_network(layers, inputs, labels, config, threshold=0.0, input_box=box)
    return MIPResult({k: result.scores[k] for k in keep}, {}, result.solver)


def combine(parts: list[SolverStats], threshold: float, guarded: list[str]) -> SolverStats:
    """The sub-MIPs' statistics as one record: counts, bounds and seconds summed, the largest gap, the
    distinct statuses joined with '+', every warning prefixed by its block number."""
    def total(name):
        return sum(getattr(p, name) for p in parts)

    summed = ("primal_bound", "dual_bound", "nodes", "lp_iterations", "solve_seconds", "build_seconds", "variables",
              "binaries", "constraints", "binaries_before_stable_removal", "binaries_after_stable_removal",
              "stable_inactive", "stable_active", "rows_emitted")
    return dataclasses.replace(
        parts[0], **{name: total(name) for name in summed},
        status="+".join(sorted({p.status for p in parts})), gap=max(p.gap for p in parts),
        dense_start_accepted=all(p.dense_start_accepted for p in parts), threshold=threshold,
        empty_layer_guard=tuple(guarded),
        warnings=tuple(f"block {k}: {w}" for k, p in enumerate(parts) for w in p.warnings))


def score_decoupled(model: nn.Sequential, heads: nn.ModuleList, data: ImageSet, config: MIPConfig,
                    threshold: float, executor: concurrent.futures.Executor | None = None,
                    workers: int | None = None) -> MIPResult:
    """Solve one sub-MIP per block (in parallel) and threshold the kept scores globally.

    ``data`` is the validation split the per-block batches are drawn from (each head must classify them).
    Without ``executor`` a process pool of ``workers`` processes (default: one per CPU) is used; ``workers=0``
    solves in this process, one block after another.
    """
    model.eval()
    heads.eval()
    children = list(model.children())
    net64 = copy.deepcopy(model).double()
    tasks = []
    for block in blocks(model, heads):
        prefix = nn.Sequential(*children[:block.start])
        x, y, _ = pick_one_per_class(nn.Sequential(prefix, block.layers), data, n=config.n_samples,
                                     seed=config.solver_seed)
        images = x.double()
        box = (images - config.epsilon, images + config.epsilon)
        with torch.no_grad():
            representation = prefix(x)
        if block.start and config.block_bounds == "network":  # full-network bounds at Conv_k's input
            box = interval_bounds(net64, *box)[block.start - 1]
        elif block.start:
            box = (representation.double() - config.epsilon, representation.double() + config.epsilon)
        tasks.append((block.layers, representation, y, box, config, block.keep))
    if executor is None and workers == 0:
        results = [_solve_block(*task) for task in tasks]
    else:
        pool = executor or concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            results = list(pool.map(_solve_block, *zip(*tasks)))
        finally:
            if executor is None:
                pool.shutdown()
    scores = {name: s for result in results for name, s in result.scores.items()}
    mask, guarded = threshold_mask(scores, threshold)
    parts = [r.solver for r in results]
    return MIPResult(scores, mask, combine(parts, threshold, guarded), tuple(parts))
