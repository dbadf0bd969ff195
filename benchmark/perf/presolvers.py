"""SCIP's presolve alone, per presolver, with and without ``dualsparsify`` (issue 20 item 2), side by side in one
run on the same recorded instances: presolve CPU seconds, the costliest presolvers, and what is left.

Issue 20 saw SCIP spend a whole 150 s budget inside ``dualsparsify`` on full-width VGG-16 block 12 (interval bounds,
21 M nonzeros). Whether to turn it off is decided here by measurement, not by that one run. The instances:
LeNet-5's programs on the committed regression fixture (N=10; relaxed margin, exact margin, relaxed ce), and with
``--vgg`` decoupled VGG-16 blocks of :mod:`benchmark.perf.decoupled_instance` (by default full width, weakly
trained, interval bounds, the blocks of ``--blocks``). Each variant emits a fresh SCIP model from the instance,
sets the variant's parameters, and presolves once under ``--time-limit`` CPU seconds (SCIP's CPU clock) on one
thread; the per-presolver times are SCIP's own statistics (``writeStatisticsJson``). Nothing is asserted.
Run ``python -m benchmark.perf.presolvers [--vgg --blocks 12] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from benchmark.mip import solve as scip_solver
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import block_problem
from benchmark.mip.instance import Instance
from benchmark.mip.scorer import build_model
from benchmark.perf.block_build import first_per_class
from benchmark.perf.decoupled_instance import add_arguments, load_instance, run, write_table
from benchmark.regression.fixtures import load_fixture

VARIANTS = {"default": {}, "dualsparsify off": {"presolving/dualsparsify/maxrounds": 0}}
HEADER = ("| program | variables / rows / nonzeros | SCIP presolve | CPU s | status | left: variables / rows | "
          "costliest presolvers (s) |", "|---|---|---|---|---|---|---|")
TOP = 4


def presolve(instance: Instance, config: MIPConfig, parameters: dict) -> dict:
    """Emit, configure and presolve a fresh SCIP model of ``instance``: CPU seconds, status, what is left, and
    the presolvers' and constraint handlers' presolve seconds by name."""
    scip_model = scip_solver.emit(instance)
    model = scip_model.model
    scip_solver.configure(model, config)
    for name, value in parameters.items():
        model.setParam(name, value)
    model.hideOutput()
    start = time.process_time()
    model.presolve()
    seconds = time.process_time() - start
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stats.json"
        model.writeStatisticsJson(str(path))
        stats = json.loads(path.read_text())
    plugins = stats["presolver"]["plugins"]
    times = {name: p.get("exec_time", p.get("presol_time", 0.0)) for name, p in plugins.items()}
    left = stats["presolvedprob"]
    return {"seconds": seconds, "status": model.getStatus(), "times": times,
            "left": (left["num_variables"], left["num_initial_constraints"])}


def size(instance: Instance) -> str:
    """Variables / rows / nonzeros of the recorded instance."""
    matrix, _, _ = instance.linear_rows()
    return f"{instance.n_vars:,} / {instance.n_rows():,} / {matrix.nnz:,}"


def rows_for(label: str, instance: Instance, config: MIPConfig) -> list[str]:
    """One table row per variant of SCIP's presolve on ``instance``."""
    out, described = [], size(instance)
    for variant, parameters in VARIANTS.items():
        found = presolve(instance, config, parameters)
        costliest = sorted(found["times"].items(), key=lambda kv: -kv[1])[:TOP]
        out.append(f"| {label} | {described} | {variant} | {found['seconds']:.2f} | {found['status']} | "
                   f"{found['left'][0]:,} / {found['left'][1]:,} | "
                   + ", ".join(f"{name} {seconds:.2f}" for name, seconds in costliest if seconds) + " |")
        print(out[-1], flush=True)
    return out


def lenet_rows(time_limit: float) -> list[str]:
    """LeNet-5's relaxed margin, exact margin and relaxed ce programs on the regression fixture, N=10."""
    fixture = load_fixture("lenet5-mnist")
    out = []
    for loss, relaxed in (("margin", True), ("margin", False), ("ce", True)):
        config = MIPConfig(loss=loss, relaxed=relaxed, time_limit=time_limit, solver="scip", nlp_heuristics=False)
        instance = build_model(fixture.model, fixture.inputs, fixture.labels, config)[0].builder.instance
        out += rows_for(f"LeNet-5 {'relaxed' if relaxed else 'exact'} {loss}", instance, config)
    return out


def vgg_rows(args: argparse.Namespace) -> list[str]:
    """The decoupled VGG-16 blocks of ``args.blocks``, exact margin program (the program SCIP runs), N=10."""
    instance = load_instance(args, time_limit=args.time_limit)
    config = dataclasses.replace(instance.config, loss="margin", relaxed=False, solver="scip")
    out = []
    for k in args.blocks:
        problem = block_problem(instance.trained.model, instance.heads, instance.splits.val, config, k,
                                first_per_class)
        built = build_model(problem.layers, problem.inputs, problem.labels, config, None, problem.box)[0]
        out += rows_for(f"VGG-16 width/{instance.train.width_divisor} block {k}, exact margin, "
                        f"{config.bound_propagation} bounds", built.builder.instance, config)
    return out


def main(argv: list[str] | None = None) -> None:
    """Presolve every instance under every variant; print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=300.0, help="SCIP's CPU-second limit per presolve")
    parser.add_argument("--vgg", action="store_true", help="also the decoupled VGG-16 blocks of --blocks")
    parser.add_argument("--blocks", type=int, nargs="*", default=[12], help="VGG-16 blocks (default: 12)")
    add_arguments(parser, width_divisor=1, epochs=3, train_limit=6000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    lines = list(HEADER) + lenet_rows(args.time_limit) + (vgg_rows(args) if args.vgg else [])
    write_table(f"SCIP presolve with and without dualsparsify, one thread, limit {args.time_limit:g} CPU s\n\n"
                + "\n".join(lines), args.out)


if __name__ == "__main__":
    run(main)
