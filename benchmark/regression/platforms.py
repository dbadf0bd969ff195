"""Measure how far the regression figures move on another platform, and derive the cross-platform tolerances.

``python -m benchmark.regression.platforms [--seeds 0 1 2] [--data-dir DIR]`` writes
``results/baselines/platforms.json``. Two measurements, both on this machine:

* **Float paths.** The regression suites run once per torch CPU capability in :data:`FLOAT_PATHS` (a
  subprocess each, ``ATEN_CPU_CAPABILITY`` set: torch's vectorised kernels then take another code path, as they
  do on another processor), for every seed. Per seed and configuration the two runs' kept units per layer, mask
  agreement and accuracy are compared (on another platform the accuracy tolerance is the larger of the seed
  spread's and this one).
* **Last-bit perturbations.** Each solver-work case is solved on its fixture and on copies with half the weights
  moved by one float32 ulp (:func:`.solver_work.perturbed`): how much nodes, LP iterations and the mask move when
  only the last bits of the network differ.

The tolerances are :data:`SAFETY` times the largest difference seen over the seeds (kept units as a fraction of
the layer and mask disagreement per configuration; relative nodes and LP iterations over the solver cases), with
the floors below.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmark.regression.compare import agreement
from benchmark.regression.fixtures import CASES, load_fixture
from benchmark.regression.records import PLATFORMS_FILE, baselines_dir
from benchmark.store.manifest import manifest

FLOAT_PATHS = ("avx2", "default")
PERTURBATIONS = 5
SAFETY = 2.0
KEPT_FLOOR = 2  # units
SOLVER_FLOOR = 0.02  # relative


def collect(seeds: tuple[int, ...], data_dir: str | None, store_root: Path) -> dict[str, dict]:
    """The accuracy records of the regression suites over ``seeds``, by ``"<seed>/<name>"``."""
    from benchmark.regression.configs import load_suites, run, select
    from benchmark.regression.records import build_records
    from benchmark.store.db import ResultStore

    suites = load_suites(seeds=seeds)
    run(suites, store_root, data_dir)
    selected = [item for suite in suites for item in select(suite)]
    rows = ResultStore(store_root).rows()
    return {f"{item.seed}/{item.name}": build_records([item], rows, store_root)[item.name] for item in selected}


def float_path_records(path: str, seeds: tuple[int, ...], data_dir: str | None) -> dict[str, dict]:
    """:func:`collect` in a subprocess whose torch kernels take the CPU capability ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "records.json"
        command = [sys.executable, "-m", "benchmark.regression.platforms", "--collect", str(out), "--store",
                   str(Path(tmp) / "store"), "--seeds", *map(str, seeds)] + (
            ["--data-dir", data_dir] if data_dir else [])
        subprocess.run(command, check=True, env={**os.environ, "ATEN_CPU_CAPABILITY": path, "OMP_NUM_THREADS": "1"})
        return json.loads(out.read_text())


def record_differences(a: dict, b: dict) -> dict:
    """Kept units (largest |difference| as a share of the layer), mask agreement and |accuracy difference| of
    two records of one configuration."""
    kept = max(abs(a["kept"][k] - b["kept"][k]) / len(a["mask"][k]) for k in a["kept"])
    return {"kept_fraction": kept, "mask_agreement": agreement(a["mask"], b["mask"]),
            "accuracy": abs(a["accuracy"] - b["accuracy"])}


def perturbation_differences() -> dict[str, list[dict]]:
    """Per solver case, how nodes, LP iterations, kept units and the mask move under :data:`PERTURBATIONS`
    last-bit perturbations of its fixture."""
    from benchmark.regression.solver_work import perturbed, solve_case

    out = {}
    for case in CASES:
        fixture = load_fixture(case.fixture)
        base = solve_case(case, fixture)
        rows = []
        for seed in range(PERTURBATIONS):
            now = solve_case(case, perturbed(fixture, seed))
            rows.append({key: abs(now["solver"][key] - base["solver"][key]) / max(1, base["solver"][key])
                         for key in ("nodes", "lp_iterations")}
                        | {"kept_fraction": max(abs(now["kept"][k] - base["kept"][k]) / len(base["mask"][k])
                                                for k in base["kept"]),
                           "mask_agreement": agreement(base["mask"], now["mask"]),
                           "same_instance": now["instance_sha"] == base["instance_sha"]})
        out[case.name] = rows
    return out


def _up(value: float, step: float = 0.01) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 6)


def _config_tolerance(rows: list[dict]) -> dict:
    disagreement = 1 - min(row["mask_agreement"] for row in rows)
    tolerance = {"kept_fraction": _up(SAFETY * max(row["kept_fraction"] for row in rows)),
                 "mask_agreement": max(0.0, round(1 - _up(SAFETY * disagreement), 6))}
    if all("accuracy" in row for row in rows):
        tolerance["accuracy"] = _up(SAFETY * max(row["accuracy"] for row in rows), 1e-4)
    return tolerance


def tolerances(float_paths: dict[str, dict], perturbations: dict[str, list[dict]]) -> dict:
    """The cross-platform tolerances from the measured differences (see the module docstring): per
    configuration over its seeds (``configs``), and the worst of all for a configuration not measured."""
    per_config: dict[str, list[dict]] = {}
    for key, row in float_paths.items():
        per_config.setdefault(key.split("/", 1)[1], []).append(row)
    per_config.update(perturbations)
    configs = {name: _config_tolerance(rows) for name, rows in sorted(per_config.items())}
    solver = {key: max(SOLVER_FLOOR, _up(SAFETY * max(row[key] for case in perturbations.values() for row in case)))
              for key in ("nodes", "lp_iterations")}
    return {"kept_units": {"fraction": max(c["kept_fraction"] for c in configs.values()), "floor": KEPT_FLOOR},
            "mask_agreement": min(c["mask_agreement"] for c in configs.values()), "solver": solver,
            "configs": configs}


def measure(seeds: tuple[int, ...], data_dir: str | None) -> dict:
    """Both measurements and the tolerances derived from them."""
    runs = {path: float_path_records(path, seeds, data_dir) for path in FLOAT_PATHS}
    first, second = (runs[path] for path in FLOAT_PATHS)
    float_paths = {key: record_differences(first[key], second[key]) for key in sorted(first)}
    perturbations = perturbation_differences()
    return {"seeds": list(seeds), "float_paths": list(FLOAT_PATHS), "rule": __doc__.split("\n\n")[-1].strip(),
            "differences": {"float_paths": float_paths, "perturbations": perturbations},
            "tolerances": tolerances(float_paths, perturbations), "manifest": manifest(device="cpu", seed=None)}


def main(argv: list[str] | None = None) -> int:
    """Measure and write ``platforms.json`` (or, with ``--collect``, one float path's records: internal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=None,
                        help="the records' folder (default: $TICKETBENCH_BASELINES, else results/baselines)")
    parser.add_argument("--collect", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out = baselines_dir(args.out, must_exist=False)
    if args.collect is not None:
        args.collect.write_text(json.dumps(collect(tuple(args.seeds), args.data_dir, args.store)))
        return 0
    result = measure(tuple(args.seeds), args.data_dir)
    path = args.out / PLATFORMS_FILE
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["tolerances"], indent=2))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
