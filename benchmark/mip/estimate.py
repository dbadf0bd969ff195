"""What the MIP's stages cost, for ``run --dry-run``: a single solve a measured figure per model and loss, a
decoupled block its measured build time plus its measured solve time where one was measured, else its time limit
(one CPU thread each)."""

from __future__ import annotations

from benchmark.core.specs import BlockSpec, HeadsSpec, PruneSpec

FULL_WIDTH_WARNING = ("the full-width VGG-16 blocks' build times were measured on a weakly trained network "
                      "({}); a fully trained one leaves more ReLUs unstable under block_bounds=network, so their "
                      "estimate is a lower bound")
MEASURED_IN = {"interval": "results/paper-gpu/block_build_cpu.md",
               "symbolic": "results/vgg16-blocks/block_solve_cpu.md"}
# seconds to build each decoupled VGG-16 sub-MIP at full width under block_bounds=network with N=10, one CPU thread
# (benchmark.perf.block_build, results/paper-gpu/block_build_cpu.md); the work grows with N, a block of a VGG of
# width/d has about d^2 times fewer terms, and under block_bounds=local every block is about as small as the
# smallest, whose time is mostly fixed cost and the least any block takes
BLOCK_BUILD_SECONDS = (2.7, 2.8, 2.6, 3.5, 14.6, 44.4, 77.1, 79.3, 79.5, 73.1, 27.9, 29.8, 7.6)
# the same under bound_propagation = "symbolic" (benchmark.perf.block_solve, results/vgg16-blocks/block_solve_cpu.md;
# wall seconds on a 2-core machine beside other jobs, so on the high side), given the network's bounds at the block's
# input; a block stage past the first makes those itself, a symbolic pass through the whole network for its own
# batch (its head picks the images), which took SYMBOLIC_NETWORK_SECONDS at N=10
SYMBOLIC_BUILD_SECONDS = (307.7, 832.6, 591.3, 880.6, 179.5, 648.0, 552.3, 123.3, 268.1, 156.6, 48.6, 40.6, 27.1)
SYMBOLIC_NETWORK_SECONDS = 1801.0
# seconds of HiGHS's outer approximation on each block's relaxed ce program under the same bounds (same table, wall
# seconds); a block of another program, other bounds or none measured costs its whole time limit
SYMBOLIC_SOLVE_SECONDS = (1.8, 3.6, 3.9, 353.6, 31.4, 30.1, 28.1, 90.8, 131.3, 136.5, 359.6, 220.6, 8.3)
# seconds per MIP solve (N=10, one thread): (model, loss). ce: the relaxed program on solver = auto (Clarabel or
# HiGHS), as the paper preset runs it: the paper-digits run's prune stages (FC-3 1.0-2.6 CPU s, FC-4 16 s beside
# other jobs) and LeNet-5 in the README's objective comparison (2.7-4.2 CPU s); it was SCIP's 12, 75 and 135 s
MIP_SECONDS = {("fc3", "margin"): 1, ("fc3", "ce"): 3, ("fc4", "margin"): 2, ("fc4", "ce"): 16,
               ("lenet5", "margin"): 15, ("lenet5", "ce"): 5}


def prune_seconds(spec: PruneSpec, epoch_seconds) -> float:
    """Seconds of a MIP prune stage: one solve (capped by the time limit), or nothing for a decoupled MIP, whose
    blocks are stages of their own."""
    if spec.options.decoupled:
        return 0.0
    return min(MIP_SECONDS.get((spec.train.model, spec.options.loss), spec.options.time_limit),
               spec.options.time_limit)


def _measured(table: tuple[float, ...], spec: BlockSpec, extra: float = 0.0) -> float:
    """Block ``spec.block``'s figure in a full-width, N=10 ``table`` (the last block's past its end), plus
    ``extra``, scaled to the spec: the work grows with N, and a VGG of width/d has about d^2 times fewer terms."""
    seconds = table[min(spec.block, len(table) - 1)] + extra
    return seconds * spec.prune.options.n_samples / 10 / spec.prune.train.width_divisor ** 2


def block_build_seconds(spec: BlockSpec) -> float:
    """Seconds to build the decoupled sub-MIP of a :class:`~benchmark.core.specs.BlockSpec` (VGG-16's blocks),
    under symbolic bounds with the network's pass that a block past the first makes first."""
    options, floor = spec.prune.options, min(BLOCK_BUILD_SECONDS)
    if options.block_bounds != "network":
        return floor
    symbolic = options.bound_propagation == "symbolic"
    table = SYMBOLIC_BUILD_SECONDS if symbolic else BLOCK_BUILD_SECONDS
    return max(floor, _measured(table, spec, SYMBOLIC_NETWORK_SECONDS if symbolic and spec.block else 0.0))


def block_solve_seconds(spec: BlockSpec) -> float:
    """Seconds to solve the decoupled sub-MIP of a :class:`~benchmark.core.specs.BlockSpec`: the measured solve of
    its block's relaxed ce program under symbolic network bounds (scaled with N and the width like the build), else
    the whole time limit; never more than the time limit."""
    options = spec.prune.options
    if not (options.relaxed and options.loss == "ce" and options.bound_propagation == "symbolic"
            and options.block_bounds == "network"):
        return options.time_limit
    return min(options.time_limit, _measured(SYMBOLIC_SOLVE_SECONDS, spec))


def stage_seconds(kind: str, spec: HeadsSpec | BlockSpec, epoch_seconds) -> float:
    """Seconds of one of the decoupled MIP's stages on the CPU: heads fitted for ``head_epochs`` (forward passes
    through the frozen net: a third of a training epoch each; none for DGL's own), a block built and then solved
    (:func:`block_build_seconds`, :func:`block_solve_seconds`)."""
    if kind == "heads":
        return spec.epochs * epoch_seconds(spec.train) / 3
    return block_build_seconds(spec) + block_solve_seconds(spec)


def stage_note(kind: str, spec: HeadsSpec | BlockSpec) -> str:
    """The caveat of a full-width block's estimate under network bounds (measured on a weakly trained net)."""
    if kind == "block" and spec.prune.train.width_divisor == 1 and spec.prune.options.block_bounds == "network":
        return FULL_WIDTH_WARNING.format(MEASURED_IN[spec.prune.options.bound_propagation])
    return ""
