"""The exact program with and without the rounding start (:mod:`benchmark.mip.rounding`), side by side in one run:
unstable ReLUs, CPU seconds to the first incumbent better than the dense start, the final objective and gap after a
fixed CPU-second limit.

Instances: the committed regression fixture LeNet-5 (``benchmark/regression/frozen/lenet5-mnist.pt.gz``) and its
batch at each ``--lenet-samples`` (beyond its 10 images, a batch picked from its validation split as the prune stage
picks one: MNIST under ``--data-dir`` or ``TICKETBENCH_DATA``), and (``--vgg-block``) one block of the DGL-trained
VGG-16 of :mod:`benchmark.perf.decoupled_instance` (width/8 by default, its first validation image of each class).
Each program is built once per variant (SCIP solves its model once), exact indicators, the paper's defaults
otherwise, SCIP's Ipopt heuristics off, one torch and one solver thread. "To better" counts the process's CPU
seconds from the end of the build (the heuristic included) to the first incumbent whose objective is below the dense
start's; "-" when there is none. Nothing is asserted about time. Run ``python -m benchmark.perf.rounding_start``
(``--out`` also writes the table as Markdown).
"""

from __future__ import annotations

import argparse
import time

import pyscipopt as scip
import torch

from benchmark.mip.config import PROPAGATIONS, MIPConfig
from benchmark.mip.decoupled import block_problem
from benchmark.mip.rounding import rounding_start
from benchmark.mip.scorer import build_model
from benchmark.mip.solve import offer_start, solve
from benchmark.perf.block_build import first_per_class
from benchmark.perf.decoupled_instance import add_arguments, load_instance, run, write_table
from benchmark.pipeline.experiment import load_data
from benchmark.regression.fixtures import load_fixture
from datasets import pick_one_per_class

HEADER = ("| instance | loss | bounds | unstable ReLUs | start | start objective | heuristic CPU s | "
          "CPU s to better | status | objective | dual bound | gap | pruned (score < 0.5) |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


class FirstBetter(scip.Eventhdlr):
    """Notes the process CPU seconds (since ``origin``) at the first best solution below ``dense``."""

    def __init__(self, dense: float, origin: float):
        self.dense, self.origin, self.seconds = dense, origin, None

    def eventinit(self):
        """Catch every new best solution."""
        self.model.catchEvent(scip.SCIP_EVENTTYPE.BESTSOLFOUND, self)

    def eventexec(self, event):
        """Note the first that improves on the dense start."""
        if self.seconds is None and self.model.getSolObjVal(self.model.getBestSol()) < self.dense - 1e-6:
            self.seconds = time.process_time() - self.origin


def variant(layers, inputs, labels, config: MIPConfig, box, label: str, with_start: bool) -> str:
    """Build, optionally run the rounding start, solve; the table row."""
    encoded, _ = build_model(layers, inputs, labels, config, input_box=box)
    builder = encoded.builder
    instance = builder.instance
    dense = float(instance.objective @ instance.start + instance.offset)
    origin = time.process_time()
    handler = FirstBetter(dense, origin)
    builder.scip.model.includeEventhdlr(handler, "firstbetter", "first incumbent below the dense start")
    heuristic = rounding_start(builder, config) if with_start else None
    if heuristic is not None and heuristic.accepted and heuristic.objective < dense - 1e-6:
        handler.seconds = heuristic.cpu_seconds
    offer_start(builder.scip, builder.start)
    outcome, x = solve(builder.scip, config)
    scores = torch.cat([torch.from_numpy(x[ids]) for ids in encoded.scores.values()])
    start = "rounding" if with_start else "dense"
    start_objective = heuristic.objective if heuristic is not None and heuristic.accepted else dense
    heuristic_seconds = f"{heuristic.cpu_seconds:.2f}" if heuristic is not None else "-"
    better = f"{handler.seconds:.2f}" if handler.seconds is not None else "-"
    return (f"| {label} | {config.loss} | {config.bound_propagation} | {encoded.relu_counts.unstable} | {start} | "
            f"{start_objective:.6f} | {heuristic_seconds} | {better} | {outcome['status']} | "
            f"{outcome['primal_bound']:.6f} | {outcome['dual_bound']:.6f} | {outcome['gap']:.2e} | "
            f"{int((scores < 0.5).sum())} / {len(scores)} |")


def main(argv: list[str] | None = None) -> None:
    """Each instance, without and with the rounding start; print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenet-samples", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--losses", default="ce")
    parser.add_argument("--propagations", default="interval", help=f"comma-separated, of {PROPAGATIONS}")
    parser.add_argument("--time-limit", type=float, default=60.0, help="CPU seconds per solve, heuristic included")
    parser.add_argument("--vgg-block", type=int, default=None, help="also this block of the VGG-16 instance")
    add_arguments(parser, width_divisor=8, epochs=3, train_limit=6000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cases = []
    fixture = load_fixture("lenet5-mnist")
    for n in args.lenet_samples:
        inputs, labels = fixture.inputs, fixture.labels
        if n > len(labels):  # the fixture holds 10 images: a larger batch comes from its validation split
            inputs, labels, _ = pick_one_per_class(fixture.model, load_data(fixture.config, args.data_dir).val, n,
                                                   fixture.config.seed)
        cases.append((f"LeNet-5 N={n}", fixture.model, inputs[:n], labels[:n], None, n))
    if args.vgg_block is not None:
        vgg = load_instance(args)
        problem = block_problem(vgg.trained.model, vgg.heads, vgg.splits.val, vgg.config, args.vgg_block,
                                first_per_class)
        cases.append((f"VGG-16 width/{args.width_divisor} block {args.vgg_block} N={args.samples}", problem.layers,
                      problem.inputs, problem.labels, problem.box, args.samples))
    lines = list(HEADER)
    for label, layers, inputs, labels, box, n in cases:
        for loss in args.losses.split(","):
            for propagation in args.propagations.split(","):
                config = MIPConfig(loss=loss, n_samples=n, time_limit=args.time_limit, nlp_heuristics=False,
                                   bound_propagation=propagation)
                for with_start in (False, True):
                    lines.append(variant(layers, inputs, labels, config, box, label, with_start))
                    print(lines[-1], flush=True)
    write_table("\n".join(lines), args.out)


if __name__ == "__main__":
    run(main)
