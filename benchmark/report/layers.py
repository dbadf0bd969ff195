"""Where the pruning went: units kept per layer, and where the MIP's scores fall, from the prune rows.

Prune rows carry ``kept.<layer>`` and ``sizes.<layer>`` (units kept and units in the layer) and, for scores in
[0, 1], ``score_levels.<layer>.{zero,between,one}``. Rows at a ``match=`` point copy another method's
per-layer counts, so they are left out of the per-layer figures (the table keeps them).
"""

from __future__ import annotations

import re

import pandas as pd
from matplotlib.figure import Figure

from benchmark.report.contract import KEYS, with_point_columns
from benchmark.report.tables import in_reading_order, mean_std

LEVELS = ("zero", "between", "one")
LEVEL_LABELS = {"zero": "at 0", "between": "between 0 and 1", "one": "at 1"}


def layer_order(name: str) -> tuple:
    """Convolutions before fully connected layers, each in numeric order (``conv2_1`` after ``conv1_2``): the
    order of every registered model's prunable layers."""
    return (not name.startswith("conv"), tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)))


def prune_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The successful neuron-level prune rows, one per (model, dataset, seed, method, point)."""
    if "stage" not in frame or "neurons_removed" not in frame:
        return with_point_columns(pd.DataFrame(columns=list(KEYS)))
    rows = frame[(frame["stage"] == "prune") & frame["neurons_removed"].notna()]
    if "status" in rows:
        rows = rows[rows["status"] == "ok"]
    return with_point_columns(rows.groupby(list(KEYS), sort=False, as_index=False).first())


def units_per_layer(frame: pd.DataFrame) -> pd.DataFrame:
    """Long form: ``KEYS``, ``layer``, ``kept`` and ``units`` per seed, for the neuron masks in ``frame``."""
    rows = prune_rows(frame)
    layers = sorted({c.removeprefix("sizes.") for c in rows.columns if c.startswith("sizes.")}, key=layer_order)
    parts = [rows[[*KEYS, "matched"]].assign(layer=layer, kept=rows[f"kept.{layer}"], units=rows[f"sizes.{layer}"])
             for layer in layers if f"kept.{layer}" in rows]
    if not parts:
        return pd.DataFrame(columns=[*KEYS, "matched", "layer", "kept", "units"])
    long = pd.concat(parts, ignore_index=True).dropna(subset=["kept", "units"])
    return long.assign(order=long["layer"].map(layer_order))


def layer_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model, dataset, method, point and layer: the units, the units kept (mean ± std over seeds) and the
    share kept (%)."""
    long = units_per_layer(frame)
    if long.empty:
        return pd.DataFrame(columns=["Model", "Dataset", "Method", "Point", "Layer", "Seeds", "Units",
                                     "Units kept", "Kept (%)"])
    groups = long.groupby(["model", "dataset", "method", "point", "layer"], sort=False)
    table = groups.agg(seeds=("seed", "nunique"), units=("units", "first"), order=("order", "first")).reset_index()
    table["kept"] = groups["kept"].agg(mean_std, scale=1.0, digits=1).to_numpy()
    table["share"] = (groups["kept"].mean() / groups["units"].first() * 100).round(1).to_numpy()
    table = in_reading_order(table, ["model", "dataset", "method", "point", "order"]).drop(columns="order")
    return table.astype({"units": int}).rename(columns={
        "model": "Model", "dataset": "Dataset", "method": "Method", "point": "Point", "layer": "Layer",
        "seeds": "Seeds", "units": "Units", "kept": "Units kept", "share": "Kept (%)"})


def own_points(long: pd.DataFrame) -> pd.DataFrame:
    """Rows at a method's own operating points (not matched ones, whose counts are another method's)."""
    return long[long["matched"].fillna("").eq("")]


def kept_figure(frame: pd.DataFrame, panels, colours) -> Figure | None:
    """Units kept per layer (% of the layer, mean ± std over seeds): a panel per model, dataset and method, a line
    per operating point, layers in network order."""
    long = own_points(units_per_layer(frame))
    if long.empty:
        return None
    long = long.assign(share=long["kept"] / long["units"] * 100)
    keys = in_reading_order(long[["model", "dataset", "method"]].drop_duplicates(), ["model", "dataset", "method"])
    figure, axes = panels(len(keys), width=4.6, height=3.4)
    for ax, key in zip(axes, keys.itertuples(index=False)):
        panel = long[(long["model"] == key.model) & (long["dataset"] == key.dataset) & (long["method"] == key.method)]
        layers = sorted(panel["layer"].unique(), key=layer_order)
        points = sorted(panel["point"].unique())
        shades = colours(points)
        for point in points:
            curve = panel[panel["point"] == point].groupby("layer")["share"].agg(["mean", "std"]).reindex(layers)
            ax.errorbar(range(len(layers)), curve["mean"], yerr=curve["std"].fillna(0.0), marker="o",
                        capsize=3, color=shades[point], label=point)
        ax.set_xticks(range(len(layers)), layers, rotation=45 if len(layers) > 6 else 0, ha="right"
                      if len(layers) > 6 else "center")
        ax.set(title=f"{key.method}: {key.model} on {key.dataset}", ylabel="units kept (% of the layer)",
               ylim=(0, 105))
        ax.legend(fontsize="x-small", title="point", title_fontsize="x-small")
    return figure


def score_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model, dataset, method, seed and layer: how many units score 0, between 0 and 1, and 1. Scores do not
    depend on the operating point they are cut at, so each seed counts once."""
    rows = prune_rows(frame)
    columns = [c for c in rows.columns if c.startswith("score_levels.")]
    if not columns:
        return pd.DataFrame(columns=["model", "dataset", "method", "seed", "layer", *LEVELS])
    rows = own_points(rows).dropna(subset=columns, how="all")
    rows = rows.groupby(["model", "dataset", "method", "seed"], sort=False, as_index=False).first()
    layers = sorted({c.split(".")[1] for c in columns}, key=layer_order)
    parts = [rows[["model", "dataset", "method", "seed"]].assign(
        layer=layer, **{level: rows.get(f"score_levels.{layer}.{level}") for level in LEVELS}) for layer in layers]
    return pd.concat(parts, ignore_index=True).dropna(subset=list(LEVELS))


def score_figure(frame: pd.DataFrame, panels) -> Figure | None:
    """Stacked bars per layer: the share of units whose score is 0, strictly between, and 1 (mean over seeds), a
    panel per model, dataset and method that recorded scores in [0, 1]."""
    levels = score_levels(frame)
    if levels.empty:
        return None
    keys = in_reading_order(levels[["model", "dataset", "method"]].drop_duplicates(),
                            ["model", "dataset", "method"])
    figure, axes = panels(len(keys), width=4.6, height=3.4)
    shades = dict(zip(LEVELS, ("#b03a2e", "#d9a441", "#2a7d3b")))
    for ax, key in zip(axes, keys.itertuples(index=False)):
        panel = levels[(levels["model"] == key.model) & (levels["dataset"] == key.dataset)
                       & (levels["method"] == key.method)]
        means = panel.groupby("layer")[list(LEVELS)].mean()
        means = means.reindex(sorted(means.index, key=layer_order))
        shares = means.div(means.sum(axis=1), axis=0) * 100
        bottom = pd.Series(0.0, index=shares.index)
        for level in LEVELS:
            ax.bar(range(len(shares)), shares[level], bottom=bottom, color=shades[level], label=LEVEL_LABELS[level])
            bottom += shares[level]
        ax.set_xticks(range(len(shares)), shares.index, rotation=45 if len(shares) > 6 else 0)
        ax.set(title=f"{key.method}: {key.model} on {key.dataset}", ylabel="units (% of the layer)", ylim=(0, 100))
        ax.legend(fontsize="x-small", loc="lower right")
    return figure
