"""MIP build and solve seconds for FC-3, FC-4 and LeNet-5 on MNIST, and this suite's encoding against a
reference-style one (every ReLU binary, one variable per unit, element-by-element expressions), measured side
by side in one run. Run ``python -m benchmark.perf.mip_encoding`` (needs MNIST under TICKETBENCH_DATA)."""

from __future__ import annotations

import argparse
import time

from benchmark.core.config import TrainConfig
from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import score_network
from benchmark.perf.reference_encoding import build_reference
from benchmark.pipeline.experiment import prepare


def ours(model, x, y, config: MIPConfig) -> dict:
    """Build and solve with this suite's encoding; returns its statistics."""
    return score_network(model, x, y, config, threshold=0.1).solver.as_dict()


def reference(model, x, y, config: MIPConfig) -> dict:
    """Build and solve the reference-style encoding; returns comparable statistics."""
    start = time.perf_counter()
    m = build_reference(model, x, y, config)
    build = time.perf_counter() - start
    binaries = m.getNBinVars()
    start = time.perf_counter()
    m.optimize()
    return {"build_seconds": build, "solve_seconds": time.perf_counter() - start, "status": m.getStatus(),
            "primal_bound": m.getPrimalbound() if m.getNSols() else float("nan"), "binaries": binaries}


def row(label: str, stats: dict) -> str:
    """One printed line of statistics."""
    return (f"{label:34s} build {stats['build_seconds']:7.2f} s  solve {stats['solve_seconds']:7.2f} s  "
            f"{stats['status']:10s} objective {stats['primal_bound']:.6f}  binaries {stats['binaries']}")


def main() -> None:
    """Absolute times for every model and loss, then the LeNet-5 comparison with its ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--reference-samples", type=int, default=2)
    parser.add_argument("--models", default="fc3,fc4,lenet5")
    parser.add_argument("--losses", default="margin,ce")
    args = parser.parse_args()
    for name in args.models.split(","):
        exp = prepare(TrainConfig.paper(name, "mnist", epochs=args.epochs), args.data_dir)
        for loss in args.losses.split(","):
            stats = ours(exp.trained.model, *exp.batch, MIPConfig(loss=loss, time_limit=args.time_limit))
            print(row(f"{name} N=10 {loss} (ticketbench)", stats), flush=True)
    exp = prepare(TrainConfig.paper("lenet5", "mnist", epochs=args.epochs), args.data_dir)
    n = args.reference_samples
    x, y = exp.batch[0][:n], exp.batch[1][:n]
    config = MIPConfig(loss="margin", n_samples=n, time_limit=args.time_limit)
    fast = ours(exp.trained.model, x, y, config)
    print(row(f"lenet5 N={n} margin (ticketbench)", fast), flush=True)
    slow = reference(exp.trained.model, x, y, config)
    print(row(f"lenet5 N={n} margin (reference-style)", slow), flush=True)
    total = lambda s: s["build_seconds"] + s["solve_seconds"]  # noqa: E731
    print(f"end-to-end ratio (reference / ticketbench): {total(slow) / total(fast):.1f}x"
          f"{'' if slow['status'] in ('optimal', 'gaplimit') else ' (reference stopped at its time limit)'}")
    print(f"build ratio: {slow['build_seconds'] / fast['build_seconds']:.1f}x")


if __name__ == "__main__":
    main()
