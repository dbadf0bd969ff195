"""The column contract of ``benchmark.report`` as code: which columns each stage's rows must carry, derived from the
stages' typed records (:mod:`benchmark.core.records`: the fields each names as ``REPORTED``, required where the field
has no default) and the columns the report reads beyond them."""

from __future__ import annotations

import pandas as pd

from benchmark.core.records import EvaluateRecord, RetrainRecord, TrainRecord, TransferRecord
from benchmark.report import ReportError

KEYS = ("model", "dataset", "seed", "method", "point")
RECORDS = {"train": TrainRecord, "evaluate": EvaluateRecord, "retrain": RetrainRecord, "transfer": TransferRecord}
COST = ("compacted_parameters", "macs", "latency_speedup_b1", "throughput_speedup_b256")  # neuron tickets
SOLVER = ("solve_seconds", "binaries", "units", "solver.status", "solver.variables")  # the MIP's solver statistics
# the operating point as facts (benchmark.pipeline.plan.Point); ``point`` is their display label
POINT = ("threshold", "sparsity", "scope", "matched", "matched_point", "sweep")
# what the report reads beyond the records' own fields: their flattened columns (the compacted ticket's cost, the
# columns of a method's evaluation_columns hook: the MIP's), the operating point's facts and the primary flag
EXTRA = {"evaluate": ("primary", *SOLVER, *COST, *POINT), "retrain": POINT, "transfer": POINT}
REQUIRED = {stage: record.reported(required=True) for stage, record in RECORDS.items()}
OPTIONAL = {stage: (*record.reported(required=False), *EXTRA.get(stage, ())) for stage, record in RECORDS.items()}


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
