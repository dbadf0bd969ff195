"""Measure the seed-to-seed spread of every regression configuration's accuracy, once, and derive the tolerances.

``python -m benchmark.regression.spread [--seeds 0 1 2 3 4] [--data-dir DIR] [--store DIR]`` runs the regression
suites over the seeds, writes ``results/baselines/spread.json`` (per configuration: the accuracy of every seed,
mean, sample std and the tolerance) and prints the figures as a Markdown table for ``results/baselines/README.md``.
The tolerance is ``max(K * std, FLOOR)``: with a fixed seed the accuracy is reproduced bit for bit on CPU, so
the tolerance only has to absorb a platform or library change, and a regression smaller than K standard
deviations of the seed noise is not one the suite can tell from a seed change anyway.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
from pathlib import Path

from benchmark.regression.configs import load_suites, run, select
from benchmark.regression.records import SPREAD_FILE, baselines_dir, build_records
from benchmark.store.db import ResultStore
from benchmark.store.manifest import manifest

K = 3.0
FLOOR = 0.001  # 10 images of the 10,000-image test sets


def tolerance(std: float) -> float:
    """``max(K * std, FLOOR)``, rounded up to 4 decimals."""
    return math.ceil(max(K * std, FLOOR) * 1e4) / 1e4


def measure(seeds: tuple[int, ...], store_root: Path, data_dir: str | None) -> dict:
    """Run the regression suites over ``seeds``; per configuration, the accuracies, their mean, std, tolerance."""
    suites = load_suites(seeds=seeds)
    run(suites, store_root, data_dir)
    rows = ResultStore(store_root).rows()
    per_seed: dict[str, dict[int, float]] = {}
    for seed in seeds:
        selected = [item for suite in suites for item in select(suite) if item.seed == seed]
        for name, record in build_records(selected, rows, store_root).items():
            per_seed.setdefault(name, {})[seed] = record["accuracy"]
    configs = {}
    for name, accuracies in per_seed.items():
        values = list(accuracies.values())
        std = statistics.stdev(values)
        configs[name] = {"accuracies": {str(s): a for s, a in accuracies.items()}, "mean": statistics.fmean(values),
                         "std": std, "min": min(values), "max": max(values), "tolerance": tolerance(std)}
    return {"seeds": list(seeds), "rule": f"tolerance = max({K:g} * sample std over the seeds, {FLOOR:g}), "
            "rounded up to 4 decimals", "configs": configs, "manifest": manifest(device="cpu", seed=None)}


def markdown(spread: dict) -> str:
    """The spread as a Markdown table (accuracies in %)."""
    lines = ["| configuration | " + " | ".join(f"seed {s}" for s in spread["seeds"])
             + " | mean | std | tolerance |", "|---|" + "---:|" * (len(spread["seeds"]) + 3)]
    for name, entry in spread["configs"].items():
        cells = [f"{100 * entry['accuracies'][str(s)]:.2f}" for s in spread["seeds"]]
        cells += [f"{100 * entry['mean']:.2f}", f"{100 * entry['std']:.2f}", f"±{100 * entry['tolerance']:.2f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, write ``spread.json`` under ``--out`` (default: :func:`~.records.baselines_dir`) and print the
    table."""
    from benchmark.nn.threads import configure_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--store", type=Path, default=None, help="keep the run's store here (default: temporary)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the records' folder (default: $TICKETBENCH_BASELINES, else results/baselines)")
    args = parser.parse_args(argv)
    args.out = baselines_dir(args.out, must_exist=False)
    if len(args.seeds) < 2:
        parser.error("a spread needs at least two seeds")
    configure_threads(1, cores=1)  # one torch thread, as every regression stage uses
    with tempfile.TemporaryDirectory() as tmp:
        spread = measure(tuple(args.seeds), args.store or Path(tmp), args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / SPREAD_FILE).write_text(json.dumps(spread, indent=2, sort_keys=True) + "\n")
    print(markdown(spread))
    print(f"\nwritten: {args.out / SPREAD_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
