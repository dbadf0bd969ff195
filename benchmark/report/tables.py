"""Table 1 (pruning, per model, dataset, method and point) and Table 2 (ticket transfer), as Markdown, CSV, LaTeX.

Every cell is mean ± sample std over seeds (see ``benchmark.report``); the per-seed numbers behind a cell are
in the results frame itself (``ticketbench results --export``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.core.paper import TABLE_ORDER
from benchmark.report.contract import KEYS, dense_start_kept, stage_rows
from benchmark.store.export import markdown_table

MATCHED = ("matched", "matched_point")  # which method's counts a row keeps, at which of its points
POINT_KEYS = {"model": "Model", "dataset": "Dataset", "method": "Method", "point": "Point"}
TABLE1_COLUMNS = {
    "dense_accuracy": "Dense (%)",
    "pruned_accuracy": "Pruned, no fine-tuning (%)",
    "finetuned_accuracy": "Fine-tuned (%)",
    "retrained_accuracy": "Ticket retrained from θ₀ (%)",
    "neurons_removed": "Neurons removed (%)",
    "params_removed": "Params removed, incl. dead outgoing weights (%)",
    "params_removed_official": "Params removed, official rule (%)",
    "solve_seconds": "MIP solve (s)",
    "solver_outcome": "Solver status (seeds)",
    "compacted_parameters": "Compacted params",
    "macs": "MACs / image",
    "latency_speedup_b1": "Latency speed-up, batch 1 (×)",
    "throughput_speedup_b256": "Throughput speed-up, batch 256 (×)",
}
# how a column's values are shown (scale, decimals); every other column is a fraction shown in %
FORMATS = {"solve_seconds": (1.0, 2), "compacted_parameters": (1.0, 0), "macs": (1.0, 0),
           "latency_speedup_b1": (1.0, 2), "throughput_speedup_b256": (1.0, 2)}
LIMIT_KEPT_DENSE = "limit: dense start kept"  # a solver limit that pruned nothing: the row is the dense net's
TRANSFER_KEYS = {"model": "Model", "method": "Method", "point": "Point", "dataset": "Source",
                 "target_dataset": "Target"}
TABLE2_COLUMNS = {
    "ticket": "Ticket (%)",
    "random": "Random mask, same counts (%)",
    "dense": "Dense trained on target (%)",
}


def mean_std(values: pd.Series, scale: float = 100.0, digits: int = 2) -> str:
    """``"97.45 ± 0.12"``: mean ± sample std of the non-NaN ``values`` times ``scale``, with ``digits`` decimals
    (and thousands separators); ``± n/a`` for one value."""
    values = pd.to_numeric(values, errors="coerce").dropna() * scale
    if values.empty:
        return "–"
    spread = f"{values.std(ddof=1):,.{digits}f}" if len(values) > 1 else "n/a"
    return f"{values.mean():,.{digits}f} ± {spread}"


def tally(values: pd.Series) -> str:
    """``"optimal ×2, limit: dense start kept ×1"``: each distinct non-NaN value with its count, most frequent
    first; "–" for none."""
    counts = values.dropna().value_counts(sort=False).sort_values(ascending=False, kind="stable")
    return ", ".join(f"{value} ×{count}" for value, count in counts.items()) or "–"


def in_reading_order(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows sorted by ``by``, with the methods in the paper's order (:data:`benchmark.core.paper.TABLE_ORDER`, the
    MIP first) and others after."""

    def method_rank(column: pd.Series) -> pd.Series:
        if column.name != "method":
            return column
        return column.map(lambda m: f"{TABLE_ORDER.index(m):02d}" if m in TABLE_ORDER else f"99 {m}")

    return table.sort_values(by, key=method_rank).reset_index(drop=True)


def summarise(per_seed: pd.DataFrame, keys: dict[str, str], columns: dict[str, str]) -> pd.DataFrame:
    """One row per group of ``keys``: the seed count and mean ± std of each of ``columns``, under their headers."""
    groups = per_seed.groupby(list(keys), sort=False, dropna=False)
    table = groups["seed"].nunique().rename("Seeds").to_frame()
    for column in columns:
        if column == "solver_outcome":
            table[column] = groups[column].agg(tally)
            continue
        scale, digits = FORMATS.get(column, (100.0, 2))
        table[column] = groups[column].agg(mean_std, scale=scale, digits=digits)
    return in_reading_order(table.reset_index(), list(keys)).rename(columns={**keys, **columns})


def solver_outcome(evaluated: pd.DataFrame) -> pd.Series:
    """Per evaluate row: its solver's status, :data:`LIMIT_KEPT_DENSE` where a limit left the dense start, and NaN
    for a method without a solver."""
    status = evaluated["solver.status"].astype("object")
    return status.where(~dense_start_kept(evaluated), LIMIT_KEPT_DENSE)


def pruning_per_seed(frame: pd.DataFrame) -> pd.DataFrame:
    """Evaluate and retrain rows joined per (model, dataset, method, point, seed); removed fractions from either."""
    evaluated = stage_rows(frame, "evaluate")
    evaluated = evaluated.assign(solver_outcome=solver_outcome(evaluated))
    parts = [rows for rows in (evaluated, stage_rows(frame, "retrain")) if not rows.empty]
    if not parts:
        return pd.DataFrame(columns=[*KEYS, *MATCHED, *TABLE1_COLUMNS])
    joined = pd.concat(parts, ignore_index=True).groupby(list(KEYS), sort=False).first().reset_index()
    return joined.reindex(columns=[*KEYS, *MATCHED, *TABLE1_COLUMNS])


def table1(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 1: accuracies, removed neurons and parameters, MIP solve time, and the compacted ticket's parameters,
    MACs and measured CPU speed-ups per model, dataset, method and point."""
    return summarise(pruning_per_seed(frame), POINT_KEYS, TABLE1_COLUMNS)


def transfer_per_seed(frame: pd.DataFrame) -> pd.DataFrame:
    """Per transfer and seed: ``ticket`` and ``random`` accuracy on the target, and ``dense`` trained on it."""
    transfer = stage_rows(frame, "transfer")
    if transfer.empty:
        return pd.DataFrame(columns=[*TRANSFER_KEYS, "seed", *TABLE2_COLUMNS])
    per_seed = transfer.pivot_table(index=[*TRANSFER_KEYS, "seed"], columns="control", values="transfer_accuracy",
                                    aggfunc="mean").reindex(columns=["ticket", "random"]).reset_index()
    dense = stage_rows(frame, "train").rename(columns={"dataset": "target_dataset", "test_accuracy": "dense"})
    dense = dense.groupby(["model", "target_dataset", "seed"], as_index=False)["dense"].mean()
    return per_seed.merge(dense, on=["model", "target_dataset", "seed"], how="left")


def table2(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 2: per method, source × target accuracy of the ticket beside the dense target net and a random mask."""
    return summarise(transfer_per_seed(frame), TRANSFER_KEYS, TABLE2_COLUMNS)


def main_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 1 at each method's primary operating point only (every row where rows do not say)."""
    return table1(frame[frame["primary"].ne(False)] if "primary" in frame else frame)


def build_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables, keyed by the file stem they are written under."""
    return {"table0_main": main_table(frame), "table1_pruning": table1(frame), "table2_transfer": table2(frame)}


def latex_table(table: pd.DataFrame) -> str:
    """A LaTeX ``tabular`` of ``table`` (needs jinja2), with ± and θ₀ as math."""
    latex = table.to_latex(index=False, escape=True, na_rep="–")
    return latex.replace("±", r"$\pm$").replace("θ₀", r"$\theta_0$")


def write_tables(tables: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write each table as ``<name>.md``, ``<name>.csv`` and ``<name>.tex`` under ``out_dir``; return the paths."""
    paths = []
    for name, table in tables.items():
        for suffix, text in (("md", markdown_table(table, missing="–")), ("csv", table.to_csv(index=False)),
                             ("tex", latex_table(table))):
            paths.append(Path(out_dir) / f"{name}.{suffix}")
            paths[-1].write_text(text, encoding="utf-8")
    return paths
