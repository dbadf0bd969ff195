"""What was run: the suite, each dense training's resolved settings, the stage budgets, and each method's options
as the prune rows stored them, for the report's first section.

The suite (when the report is made from one) says what was asked; the stored rows say what ran. Training settings
come from the suite's resolved :class:`~benchmark.core.config.TrainConfig` (the rows record only the epochs); method
options come from the prune rows' ``options.*`` columns, so a store made by other settings shows those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.report.tables import in_reading_order

TRAIN_FIELDS = {"epochs": "Epochs", "optimizer": "Optimiser", "lr": "lr", "batch_size": "Batch",
                "train_limit": "Images (train + validation)", "augment": "Augmentation", "training": "Training"}


@dataclass
class RunInfo:
    """The report's "what was run": facts as (label, value) pairs, tables, and the suite's own deviations."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    training: pd.DataFrame = field(default_factory=pd.DataFrame)
    methods: pd.DataFrame = field(default_factory=pd.DataFrame)
    deviations: tuple[str, ...] = ()


def suite_facts(suite) -> list[tuple[str, str]]:
    """The suite's name, file, description, models, datasets, seeds, budgets and transfers."""
    budget = suite.budget
    transfer = "; ".join(f"{source} → {', '.join(targets)}" for source, targets in suite.transfer.items())
    path = Path(suite.path)
    shown = "–" if str(path) == "." else str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return [("suite", suite.name), ("file", shown),
            ("description", suite.description or "–"), ("models", ", ".join(suite.models)),
            ("datasets", ", ".join(suite.datasets)), ("seeds", ", ".join(map(str, suite.seeds))),
            ("fine-tuning epochs", str(budget.finetune_epochs or "none")),
            ("retraining epochs", str(budget.retrain_epochs or "none")),
            ("transfer epochs", "the target's own" if budget.transfer_epochs is None else str(budget.transfer_epochs)),
            ("tickets at", budget.tickets_at), ("transfers", transfer or "none")]


def training_table(suite) -> pd.DataFrame:
    """Per model and dataset the suite trains: its resolved dense training settings (seed 0's config)."""
    rows = []
    for model, dataset in suite.pairs():
        config = suite.train_config(model, dataset, suite.seeds[0])
        values = {label: getattr(config, name, None) for name, label in TRAIN_FIELDS.items()}
        values["Images (train + validation)"] = f"{config.train_limit:,}" if config.train_limit else "all"
        values["lr"] = f"{config.lr:g}"  # 1e-3, not a number rounded to the table's two decimals
        rows.append({"Model": model, "Dataset": dataset, **values})
    return pd.DataFrame(rows)


def method_options(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method: every option the prune rows stored, with the distinct values it took (``a | b``)."""
    if "stage" not in frame:
        return pd.DataFrame()
    prune = frame[frame["stage"] == "prune"]
    columns = [c for c in prune.columns if c.startswith("options.")]
    rows = []
    for method, group in prune.groupby("method", sort=False):
        values = {}
        for column in columns:
            distinct = sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in group[column].dropna()})
            if distinct:
                values[column.removeprefix("options.")] = " | ".join(distinct)
        points = ", ".join(sorted({str(p) for p in group["point"].dropna()}))
        rows.append({"method": method, "points": points,
                     "options": ", ".join(f"{k}={v}" for k, v in values.items()) or "–"})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return in_reading_order(table, ["method"]).rename(columns={"method": "Method", "points": "Operating points",
                                                               "options": "Options as run"})


def epochs_as_run(frame: pd.DataFrame) -> str:
    """The dense training epochs the train rows recorded, per model and dataset."""
    if "stage" not in frame or "epochs" not in frame:
        return ""
    train = frame[frame["stage"] == "train"].dropna(subset=["epochs"])
    pairs = train.groupby(["model", "dataset"])["epochs"].agg(lambda e: " | ".join(sorted({f"{v:g}" for v in e})))
    return "; ".join(f"{model}/{dataset}: {epochs}" for (model, dataset), epochs in pairs.items())


def run_info(frame: pd.DataFrame, suite=None) -> RunInfo:
    """What was run, from ``suite`` (a :class:`~benchmark.pipeline.suites.Suite`, or None) and the stored rows."""
    info = RunInfo(methods=method_options(frame))
    if suite is not None:
        info.facts = suite_facts(suite)
        info.training = training_table(suite)
        info.deviations = tuple(getattr(suite, "deviations", ()))
    stored = epochs_as_run(frame)
    if stored:
        info.facts.append(("dense epochs as stored", stored))
    return info
