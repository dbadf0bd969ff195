"""Every solver on the same relaxed OAMIP programs, side by side in one run: seconds (wall and CPU), the ratio
against SCIP, status, iterations and objective.

The programs are LeNet-5's relaxed ce (an exponential-cone program) and relaxed margin (an LP) on the committed
regression fixture network and its batch (``benchmark/regression/frozen/lenet5-mnist.pt.gz``), N=10, built once
each; every solver then starts from that recorded instance (SCIP: making its model, the dense start, solving;
HiGHS and Clarabel: their matrices and solving, on every row at once or by row generation). One torch thread,
one solver thread, the least seconds of ``--repeat`` runs; CPU seconds are the fairer figure on a busy machine.
Nothing is asserted about time. Run ``python -m benchmark.perf.mip_solvers`` (``--out`` also writes the table
as markdown).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from benchmark.mip import clarabel_cone, highs, solvers
from benchmark.mip import solve as scip_solver
from benchmark.mip.config import MIPConfig
from benchmark.mip.instance import Instance
from benchmark.mip.scorer import build_model
from benchmark.regression.fixtures import load_fixture

HEADER = ("| program | solver | status | iterations | wall s | CPU s | CPU vs SCIP | objective |",
          "|---|---|---|---|---|---|---|---|")


def scip(instance: Instance, config: MIPConfig) -> tuple[str, int, float]:
    """SCIP from the recorded instance: its model, configured, the dense start offered, solved. Its Ipopt
    heuristics are off: with them SCIP 10.0 aborts the process on the relaxed ce program at N=10."""
    config = dataclasses.replace(config, nlp_heuristics=False)
    scip_model = scip_solver.emit(instance)
    scip_solver.configure(scip_model.model, config)
    scip_solver.offer_start(scip_model, instance.start)
    outcome, _ = scip_solver.solve(scip_model, config)
    return outcome["status"], outcome["lp_iterations"], outcome["primal_bound"]


def direct(backend, method: str, rows: bool):
    """HiGHS or Clarabel with ``method``, on every row at once or (``rows``) by row generation."""
    def run(instance: Instance, config: MIPConfig) -> tuple[str, int, float]:
        if rows:
            result = solvers.solve_by_rows(backend, instance, config, method=method)
        else:
            result = backend.solve(instance, config, method=method)
        return result.status, result.iterations, result.primal
    return run


def variants(only: tuple[str, ...] = ()) -> dict:
    """The solvers timed on one program: label -> runner; SCIP (the ratio's base) and, given ``only``, the labels
    that contain one of its strings."""
    found = {"scip": scip}
    methods = [("highs", highs, m) for m in ("simplex", "ipm")] + [("clarabel", clarabel_cone, m)
                                                                   for m in ("qdldl", "faer")]
    for name, backend, method in methods:
        for rows in (False, True):
            label = f"{name} {method}, {'row generation' if rows else 'all rows'}"
            if not only or any(part in label for part in only):
                found[label] = direct(backend, method, rows)
    return found


def measure(instance: Instance, config: MIPConfig, run, repeat: int) -> dict:
    """``repeat`` timed runs: status, iterations, objective, and the least wall and CPU seconds (the machine may
    be busy with other work)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        status, iterations, objective = run(instance, config)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"status": status, "iterations": iterations, "objective": objective, "wall": min(walls), "cpu": min(cpus)}


def table_rows(program: str, results: dict[str, dict]) -> list[str]:
    """Markdown rows of one program's results, with the CPU-time ratio against SCIP."""
    base = results["scip"]["cpu"]
    return [f"| {program} | {label} | {r['status']} | {r['iterations']} | {r['wall']:.2f} | {r['cpu']:.2f} | "
            f"{r['cpu'] / base:.3f} | {r['objective']:.9f} |" for label, r in results.items()]


def main(argv: list[str] | None = None) -> None:
    """Build each program once, time every solver on it, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--losses", default="ce,margin")
    parser.add_argument("--time-limit", type=float, default=3600.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per solver; the least seconds are shown")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    parser.add_argument("--only", nargs="+", default=(), help="parts of the solver labels to time beside SCIP, "
                                                              "e.g. 'simplex, row' 'qdldl, row' (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    fixture = load_fixture("lenet5-mnist")
    x, y = fixture.inputs[: args.samples], fixture.labels[: args.samples]
    lines = list(HEADER)
    for loss in args.losses.split(","):
        config = MIPConfig(loss=loss, relaxed=True, n_samples=args.samples, time_limit=args.time_limit,
                           solver="clarabel")  # the recorded instance is the same for every solver
        start = time.perf_counter()
        instance = build_model(fixture.model, x, y, config)[0].builder.instance
        program = f"LeNet-5 relaxed {loss}, N={args.samples}"
        print(f"{program}: {instance.n_vars} variables, {instance.n_rows()} rows, built in "
              f"{time.perf_counter() - start:.2f} s", flush=True)
        results = {}
        for label, run in variants(tuple(args.only)).items():
            results[label] = measure(instance, config, run, args.repeat)
            print(table_rows(program, {"scip": results["scip"], label: results[label]})[-1], flush=True)
        lines += table_rows(program, results)
    print("\n".join(lines))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
