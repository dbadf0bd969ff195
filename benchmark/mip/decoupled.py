"""The scalable "decoupled" MIP (the paper's auxiliary networks, used for VGG-16).

The network is cut at every Conv2d. Block k is ``[Conv_k, BN_k, ReLU_k]`` (pooling stays outside), followed by
an auxiliary head: AdaptiveAvgPool(ceil(H/4)), 1x1 conv, BN, ReLU, AdaptiveAvgPool(2), Linear(4C,4C), BN, ReLU,
Linear(4C, classes). The last block is the real tail of the network instead. One sub-MIP per block, over the
block and its head, takes the main network's representation at Conv_k's input as data and the full network's
interval bounds there as its input box. The sub-MIPs are independent: the harness runs each as its own stage on
its executor (local pool or Dask), :func:`score_decoupled` in a process pool. Only Conv_k's scores are kept (all
of the tail's), and the merged scores are thresholded globally.
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import hashlib
import multiprocessing
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.records import SolverStats
from benchmark.methods.selection import threshold_mask
from benchmark.mip.activations import ACTIVATIONS
from benchmark.mip.config import MIPConfig
from benchmark.mip.layers import check_supported
from benchmark.mip.scorer import MIPResult, score_network
from benchmark.mip.symbolic import layer_bounds
from benchmark.nn.heads import block_features, block_spans, make_heads
from benchmark.nn.models import prunable_layers
from datasets import ImageSet, InMemoryLoader, pick_one_per_class


@dataclass
class Block:
    """One cut of the network: its span in the main network, its layers (block plus head), scores to keep."""

    start: int  # position of Conv_k in the main network
    end: int  # first position after the block (a pooling layer, the next conv, or the end)
    layers: nn.Sequential
    keep: list[str]


def blocks(model: nn.Sequential, heads: nn.ModuleList) -> list[Block]:
    """The block-plus-head sub-networks, and the tail of the network as the last one; a layer the MIP cannot
    encode is a one-line error."""
    check_supported(model)
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


@dataclass
class BlockProblem:
    """One sub-MIP's data: the block plus head, the representation at Conv_k's input and its labels, the input
    box, and the layers whose scores are kept."""

    layers: nn.Sequential
    inputs: torch.Tensor
    labels: torch.Tensor
    box: tuple[torch.Tensor, torch.Tensor]
    keep: list[str]


def fitted_heads(model: nn.Sequential, trained: nn.ModuleList | None, data: ImageSet, config: MIPConfig,
                 seed: int) -> tuple[nn.ModuleList, str]:
    """The heads the sub-MIPs use and where they came from: a DGL-trained model's own heads (``"dgl"``, the
    paper's route), or heads fitted to the frozen network for ``config.head_epochs`` epochs (``"fitted"``), drawn
    from ``seed`` whatever this process did before (and leaving its random state as it was). A layer the MIP
    cannot encode is a one-line error before any work."""
    check_supported(model)
    if trained is not None:
        return trained.eval(), "dgl"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        heads = make_heads(model, data.input_shape, data.num_classes)
    train_heads(model, heads, data, epochs=config.head_epochs, lr=3e-3, seed=seed)
    return heads, "fitted"


def block_problem(model: nn.Sequential, heads: nn.ModuleList, data: ImageSet, config: MIPConfig,
                  k: int, pick=pick_one_per_class) -> BlockProblem:
    """Block ``k``'s sub-MIP data (deterministic: the same inputs give the same problem in any process).

    ``data`` is the validation split the block's batch is drawn from by ``pick(network, data, n, seed)``: by
    default images that the block's head classifies correctly, one per class in turn."""
    model.eval()
    heads.eval()
    block = blocks(model, heads)[k]
    prefix = nn.Sequential(*list(model.children())[:block.start])
    x, y, _ = pick(nn.Sequential(prefix, block.layers), data, n=config.n_samples, seed=config.solver_seed)
    images = x.double()
    box = (images - config.epsilon, images + config.epsilon)
    with torch.no_grad():
        representation = prefix(x)
    if block.start and config.block_bounds == "network":  # full-network bounds at Conv_k's input
        box = network_bounds(model, box, config.bound_propagation)[block.start - 1]
    elif block.start:
        box = (representation.double() - config.epsilon, representation.double() + config.epsilon)
    return BlockProblem(block.layers, representation, y, box, block.keep)


_NETWORK_BOUNDS: dict[str, list] = {}  # the last symbolic bounds: blocks that pick the same images reuse them


def network_bounds(model: nn.Sequential, box: tuple[torch.Tensor, torch.Tensor], propagation: str,
                   known: list | None = None) -> list:
    """The dense network's bounds of every module over ``box`` by ``propagation``. Symbolic bounds (minutes per
    image of VGG-16) are kept for the last network and box in this process, for blocks whose batches coincide
    (``--batch first`` of the block benchmarks), or taken from ``known`` (the same call's result, kept by a
    benchmark on disk); interval bounds are cheap and computed afresh."""
    if propagation != "symbolic":
        return layer_bounds(copy.deepcopy(model).double().eval(), *box, propagation=propagation)
    digest = hashlib.sha1()
    for tensor in [*model.state_dict().values(), *box]:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    key = digest.hexdigest()
    if key not in _NETWORK_BOUNDS:
        _NETWORK_BOUNDS.clear()
        _NETWORK_BOUNDS[key] = known if known is not None else layer_bounds(
            copy.deepcopy(model).double().eval(), *box, propagation=propagation)
    return _NETWORK_BOUNDS[key]


def block_problems(model: nn.Sequential, heads: nn.ModuleList, data: ImageSet, config: MIPConfig) -> list[BlockProblem]:
    """Every block's sub-MIP data (:func:`block_problem`), in order."""
    return [block_problem(model, heads, data, config, k) for k in range(len(heads) + 1)]


def relu_bounds(problem: BlockProblem, bounds: str = "dense", propagation: str = "interval") -> tuple[int, float]:
    """The block's ReLU elements whose input interval over its box straddles 0 (each costs the MIP rows, and an
    indicator unless relaxed), and the largest big-M constant among them (``max(U, -L)``), under the MIP's
    ``bounds`` and ``propagation``: the size and scale of the sub-MIP, known before building it."""
    net = copy.deepcopy(problem.layers).double().eval()
    scored = prunable_layers(net) if bounds == "pruned" else ()
    found = layer_bounds(net, problem.box[0].double(), problem.box[1].double(), scored, propagation)
    unstable, big_m = 0, 0.0
    for p, module in enumerate(net.children()):
        if p and type(module) in ACTIVATIONS:
            lower, upper = found[p - 1]
            straddles = (lower < 0) & (upper > 0)
            unstable += int(straddles.sum())
            if straddles.any():
                big_m = max(big_m, float(torch.maximum(upper, -lower)[straddles].max()))
    return unstable, big_m


def unstable_elements(problem: BlockProblem, bounds: str = "dense", propagation: str = "interval") -> int:
    """How many of the block's ReLU elements are unstable (:func:`relu_bounds`)."""
    return relu_bounds(problem, bounds, propagation)[0]


def size_limited(problem: BlockProblem, unstable: int, limit: int) -> MIPResult:
    """The result of a block too large to build: its dense start (every kept score 1), status ``sizelimit``."""
    layers = dict(problem.layers.named_children())
    scores = {name: torch.ones(layers[name].weight.shape[0]) for name in problem.keep}
    warning = f"{unstable} unstable ReLU elements > max_unstable {limit}: not built, nothing pruned in this block"
    stats = SolverStats(status="sizelimit", primal_bound=float("nan"), dual_bound=float("nan"), gap=float("inf"),
                        nodes=0, lp_iterations=0, solve_seconds=0.0, build_seconds=0.0, variables=0, binaries=0,
                        constraints=0, binaries_before_stable_removal=unstable, binaries_after_stable_removal=0,
                        stable_inactive=0, stable_active=0, rows_emitted=0, dense_start_accepted=True,
                        threshold=float("nan"), warnings=(warning,), solver="")
    return MIPResult(scores, {}, stats)


def solve_block(problem: BlockProblem, config: MIPConfig) -> MIPResult:
    """One sub-MIP, on one thread; only the kept layers' scores are returned (thresholding happens globally).
    A block over ``config.max_unstable`` unstable ReLU elements is not built (:func:`size_limited`)."""
    torch.set_num_threads(1)
    if config.max_unstable:
        unstable = unstable_elements(problem, config.bounds, config.bound_propagation)
        if unstable > config.max_unstable:
            return size_limited(problem, unstable, config.max_unstable)
    result = score_network(problem.layers, problem.inputs, problem.labels, config, threshold=0.0,
                           input_box=problem.box)
    return MIPResult({k: result.scores[k] for k in problem.keep}, {}, result.solver)


def combine(parts: list[SolverStats], threshold: float = float("nan"), guarded: tuple[str, ...] = ()) -> SolverStats:
    """The sub-MIPs' statistics as one record: counts, bounds and seconds summed, the largest gap, the
    distinct statuses joined with '+', every warning prefixed by its block number; the rounding start counts as
    accepted (its objective summed) only when every block's was."""
    def total(name):
        return sum(getattr(p, name) for p in parts)

    summed = ("primal_bound", "dual_bound", "nodes", "lp_iterations", "solve_seconds", "build_seconds", "variables",
              "binaries", "constraints", "binaries_before_stable_removal", "binaries_after_stable_removal",
              "stable_inactive", "stable_active", "rows_emitted")
    built = [p for p in parts if p.status != "sizelimit"] or parts
    return dataclasses.replace(
        built[0], **{name: total(name) for name in summed},
        status="+".join(sorted({p.status for p in parts})), gap=max(p.gap for p in parts),
        dense_start_accepted=all(p.dense_start_accepted for p in parts), threshold=threshold,
        rounding_start_accepted=all(p.rounding_start_accepted for p in parts),
        rounding_start_objective=total("rounding_start_objective") if all(
            p.rounding_start_accepted for p in parts) else None,
        empty_layer_guard=tuple(guarded),
        warnings=tuple(f"block {k}: {w}" for k, p in enumerate(parts) for w in p.warnings))


def merge_blocks(results: list[MIPResult], threshold: float) -> MIPResult:
    """The blocks' kept scores as one network's, thresholded globally, with the combined and per-block stats."""
    scores = {name: s for result in results for name, s in result.scores.items()}
    mask, guarded = threshold_mask(scores, threshold)
    parts = [r.solver for r in results]
    return MIPResult(scores, mask, combine(parts, threshold, guarded), tuple(parts))


def score_decoupled(model: nn.Sequential, heads: nn.ModuleList, data: ImageSet, config: MIPConfig,
                    threshold: float, workers: int | None = None) -> MIPResult:
    """Solve one sub-MIP per block and threshold the kept scores globally (library use; the harness runs each
    block as its own stage on its executor instead, see :mod:`benchmark.mip.stages`).

    The blocks are solved in a spawned process pool of ``workers`` processes (default: one per CPU);
    ``workers=0`` solves them in this process, one after another.
    """
    problems = block_problems(model, heads, data, config)
    if workers == 0:
        results = [solve_block(problem, config) for problem in problems]
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers,
                                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(solve_block, problems, [config] * len(problems)))
    return merge_blocks(results, threshold)
