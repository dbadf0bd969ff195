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
# the operating point as facts (benchmark.harness.plan.Point); ``point`` is their display label
POINT = ("threshold", "sparsity", "scope", "matched", "matched_point", "sweep")
OPTIONAL = {"evaluate": ("finetuned_accuracy", "solve_seconds", "binaries", "units", "primary", *NEURONS, *OFFICIAL,
                         *SOLVER, *COST, *POINT), "retrain": (*NEURONS, *OFFICIAL, *POINT),
            "transfer": (*NEURONS, *POINT)}


def with_point_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the matched method and point as columns. Rows stored before the operating point had columns
    of its own get them from their label, ``match=X``, ``match=X@P`` or ``match=X@P[sweep]`` (with no ``@P``,
    ``matched_point`` is empty: the matched method had one point). This is the one place a label is read."""
    if rows.empty:
        return rows.assign(matched=pd.Series(dtype=object), matched_point=pd.Series(dtype=object))
    labels = rows["point"].fillna("").astype(str)
    legacy = rows["matched"].isna() if "matched" in rows else pd.Series(True, index=rows.index)
    matched = labels.where(labels.str.startswith("match="), "").str.removeprefix("match=")
    matched = matched.str.partition("[")[0]
    by_label = {"matched": matched.str.partition("@")[0], "matched_point": matched.str.partition("@")[2]}
    columns = {name: rows[name].where(~legacy, by_label[name]) if name in rows else by_label[name]
               for name in by_label}
    return rows.assign(**columns)


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
    return with_point_columns(rows.reindex(columns=columns).reset_index(drop=True))


def dense_start_kept(rows: pd.DataFrame) -> pd.Series:
    """Per evaluate row of :func:`stage_rows`: whether its solver stopped at a limit (``solver.status``
    ``"timelimit"``, ``"gaplimit"``, ...) having pruned nothing, so that the evaluation is the dense start's."""
    stopped = rows["solver.status"].astype("string").str.endswith("limit").fillna(False).astype(bool)
    return stopped & rows["neurons_removed"].eq(0)
