"""The column contract of ``benchmark.report`` as code: which columns each stage's rows must carry."""

from __future__ import annotations

import pandas as pd

from benchmark.report import ReportError

KEYS = ("model", "dataset", "seed", "method", "point")
REQUIRED = {
    "train": ("test_accuracy", "parameters", "units"),
    "evaluate": ("dense_accuracy", "pruned_accuracy", "params_removed"),
    "retrain": ("retrained_accuracy", "params_removed"),
    "transfer": ("target_dataset", "transfer_accuracy", "control", "params_removed"),
}
NEURONS = ("neurons_removed",)  # neuron masks only: a suite of weight-level methods has none
COST = ("compacted_parameters", "macs", "latency_speedup_b1", "throughput_speedup_b256")  # neuron tickets
SOLVER = ("solver.status", "solver.variables")  # the MIP's nested solver statistics the reports read
OFFICIAL = ("params_removed_official",)  # the official code's count (the pruned units' incoming weights)
OPTIONAL = {"evaluate": ("finetuned_accuracy", "solve_seconds", "binaries", "units", "primary", *NEURONS, *OFFICIAL,
                         *SOLVER, *COST), "retrain": (*NEURONS, *OFFICIAL), "transfer": NEURONS}


def stage_rows(frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The successful rows of ``stage`` with exactly the contract's columns (absent optional ones are NaN)."""
    columns = [*KEYS, *REQUIRED[stage], *OPTIONAL.get(stage, ())]
    if "stage" not in frame:
        return pd.DataFrame(columns=columns)
    rows = frame[frame["stage"] == stage]
    if "status" in rows:
        rows = rows[rows["status"] == "ok"]
    missing = [column for column in (*KEYS, *REQUIRED[stage]) if column not in rows]
    if missing and not rows.empty:
        raise ReportError(f"{stage} rows lack the columns {', '.join(missing)}; see the contract in benchmark.report")
    return rows.reindex(columns=columns).reset_index(drop=True)


def dense_start_kept(rows: pd.DataFrame) -> pd.Series:
    """Per evaluate row of :func:`stage_rows`: whether its solver stopped at a limit (``solver.status``
    ``"timelimit"``, ``"gaplimit"``, ...) having pruned nothing, so that the evaluation is the dense start's."""
    stopped = rows["solver.status"].astype("string").str.endswith("limit").fillna(False).astype(bool)
    return stopped & rows["neurons_removed"].eq(0)
