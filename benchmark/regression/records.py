"""Regression records: one JSON object per configuration, built from the stored rows of a regression run.

A record holds the configuration's name, ``config_hash`` (the stage hash) and ``config`` (its canonical spec),
the ``seed``, ``accuracy`` (with ``accuracy_metric``, the row column it came from, and ``accuracy_tolerance``),
``kept`` (units kept per prunable layer), ``mask_sha`` and ``mask`` (the mask itself, one ``0``/``1`` string per
layer, so that masks made on another platform can be compared by overlap; the dense network keeps every unit),
and the ``manifest`` of the run that wrote it (git SHA, versions, lock, platform, host). The solver work is
recorded apart, on committed fixture networks (:mod:`.solver_work`, records under ``solver/``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from benchmark.core.config import canonical
from benchmark.pipeline.stages import mask_digest
from benchmark.regression.configs import RegressionError, Selected
from benchmark.regression.solver_work import mask_bits
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.manifest import manifest

BASELINES_ENV = "TICKETBENCH_BASELINES"
SOLVER_DIR = "solver"  # the solver-work records, under the records' folder
ACCURACY = {"train": "test_accuracy", "evaluate": "pruned_accuracy", "transfer": "transfer_accuracy"}
SPREAD_FILE = "spread.json"
PLATFORMS_FILE = "platforms.json"
NOT_RECORDS = (SPREAD_FILE, PLATFORMS_FILE)


def baselines_dir(path: str | Path | None = None, must_exist: bool = True) -> Path:
    """The folder of the regression records (a checkout's ``results/baselines``): ``path``, else
    ``$TICKETBENCH_BASELINES``, else ``results/baselines`` under the current directory. With ``must_exist``, a
    folder without the measured seed spread (``spread.json``) is a one-line :class:`RegressionError`."""
    directory = Path(path or os.environ.get(BASELINES_ENV) or Path("results", "baselines")).expanduser()
    if must_exist and not (directory / SPREAD_FILE).is_file():
        raise RegressionError(f"no regression records at {directory} (no {SPREAD_FILE}): give --baselines DIR or "
                              f"set {BASELINES_ENV} to a checkout's results/baselines")
    return directory


def _row(rows: dict[str, dict], hash: str, name: str) -> dict:
    row = rows.get(hash)
    if row is None or row["status"] != "ok":
        raise RegressionError(f"{name}: no stored result for stage {hash}")
    return row["record"]


def _dense_mask(rows: dict[str, dict], selected: Selected) -> dict[str, torch.Tensor]:
    """Every unit of the model kept: the layer sizes of any prune row of the same trained model."""
    for row in rows.values():
        record = row["record"]
        if row["stage"] == "prune" and "sizes" in record and (record["model"], record["dataset"], record["seed"]) == (
                selected.job.spec.model, selected.job.spec.dataset, selected.seed):
            return {k: torch.ones(n, dtype=torch.bool) for k, n in record["sizes"].items()}
    raise RegressionError(f"{selected.name}: no prune row tells the layer sizes of the dense model")


def build_record(selected: Selected, rows: dict[str, dict], artifacts: ArtifactDir) -> dict:
    """The record of one selected stage, from ``rows`` (the store's rows by hash) and the store's artifacts."""
    job = selected.job
    record = _row(rows, job.hash, selected.name)
    finetuned = job.kind == "evaluate" and job.spec.finetune_epochs > 0
    metric = "finetuned_accuracy" if finetuned else ACCURACY[job.kind]
    if job.kind == "train":
        mask = _dense_mask(rows, selected)
    else:
        _row(rows, job.spec.prune.hash, selected.name)
        mask = artifacts.load_tensors(job.spec.prune.hash, "prune.pt")["mask"]
    return {"name": selected.name, "config_hash": job.hash, "config": canonical(job.spec), "seed": selected.seed,
            "accuracy_metric": metric, "accuracy": record[metric], "kept": {k: int(m.sum()) for k, m in mask.items()},
            "mask_sha": mask_digest(mask), "mask": mask_bits(mask)}


def build_records(selected: list[Selected], rows: list[dict], store_root: Path,
                  tolerances: dict[str, float] | None = None, with_manifest: bool = False) -> dict[str, dict]:
    """Records by name of ``selected``, from the store's ``rows`` (``ResultStore.rows()``) and the artifacts
    under ``store_root``; ``tolerances`` by name become ``accuracy_tolerance``; ``with_manifest`` adds the
    manifest (git SHA, versions, lock, platform, host)."""
    by_hash = {row["hash"]: row for row in rows}
    artifacts = ArtifactDir(store_root)
    records = {}
    run_manifest = manifest(device="cpu", seed=None) if with_manifest else None
    for item in selected:
        record = build_record(item, by_hash, artifacts)
        if tolerances is not None:
            record["accuracy_tolerance"] = tolerances[item.name]
        if run_manifest is not None:
            record["manifest"] = {**run_manifest, "seed": item.seed}
        records[item.name] = record
    return records


def read_records(directory: Path) -> dict[str, dict]:
    """The records stored under ``directory`` (every ``*.json`` but the spread and platform files), by name."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(Path(directory).glob("*.json"))
            if path.name not in NOT_RECORDS}


def write_records(records: dict[str, dict], directory: Path) -> list[Path]:
    """Write one ``<name>.json`` per record and remove the record files of configurations no longer run."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in set(read_records(directory)) - set(records):
        (directory / f"{stale}.json").unlink()
    paths = []
    for name, record in sorted(records.items()):
        path = directory / f"{name}.json"
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


def read_tolerances(directory: Path) -> dict[str, float]:
    """The accuracy tolerance of every configuration, from the measured seed spread (``spread.json``)."""
    path = Path(directory) / SPREAD_FILE
    if not path.is_file():
        raise RegressionError(f"no {path}: measure the seed spread first (python -m benchmark.regression.spread)")
    return {name: entry["tolerance"] for name, entry in json.loads(path.read_text())["configs"].items()}


def read_platform_tolerances(directory: Path) -> dict:
    """The cross-platform tolerances (``platforms.json``: kept units, mask agreement, solver work), measured by
    ``python -m benchmark.regression.platforms``."""
    path = Path(directory) / PLATFORMS_FILE
    if not path.is_file():
        raise RegressionError(f"no {path}: measure the platform spread first "
                              "(python -m benchmark.regression.platforms)")
    return json.loads(path.read_text())["tolerances"]
