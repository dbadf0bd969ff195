"""Figures from the results frame: accuracy vs parameters removed and vs measured speed-up, the transfer heatmap,
MIP solve time vs size.

Figures are drawn on ``matplotlib.figure.Figure`` objects (the Agg canvas, no pyplot state, no display needed)
with seaborn's styles and palette, and saved as PNG and PDF.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from benchmark.report.contract import stage_rows
from benchmark.report.tables import METHOD_ORDER, in_reading_order, transfer_per_seed

MIN_POINTS = 5  # ShrinkBench's rule: a curve needs at least five operating points


def method_colours(methods) -> dict[str, tuple]:
    """One colour-blind-safe colour per method, stable across figures (the MIP always gets the first)."""
    ordered = [*METHOD_ORDER, *sorted(set(methods) - set(METHOD_ORDER))]
    return dict(zip(ordered, sns.color_palette("colorblind", len(ordered))))


def panels(count: int, width: float = 5.0, height: float = 4.0, per_row: int = 3) -> tuple[Figure, list]:
    """A figure with ``count`` axes, at most ``per_row`` to a row, in seaborn's whitegrid style."""
    columns, rows = min(count, per_row), -(-count // per_row)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    with sns.axes_style("whitegrid"):
        axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for unused in axes[count:]:
        unused.set_visible(False)
    return figure, axes[:count]


def accuracy_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model, dataset, method and point: mean % parameters removed, mean and std of pruned accuracy (%)."""
    rows = stage_rows(frame, "evaluate")
    rows = rows.assign(x=rows["params_removed"] * 100, y=rows["pruned_accuracy"] * 100,
                       dense=rows["dense_accuracy"] * 100)
    curves = rows.groupby(["model", "dataset", "method", "point"], as_index=False).agg(
        x=("x", "mean"), y=("y", "mean"), sd=("y", "std"), dense=("dense", "mean"))
    return curves.assign(sd=curves["sd"].fillna(0.0))


def short_curves(frame: pd.DataFrame) -> list[str]:
    """``"model/dataset/method"`` of every accuracy curve with fewer than :data:`MIN_POINTS` points."""
    counts = accuracy_curves(frame).groupby(["model", "dataset", "method"]).size()
    return ["/".join(key) for key, count in counts.items() if count < MIN_POINTS]


def accuracy_figure(frame: pd.DataFrame) -> Figure | None:
    """Accuracy without fine-tuning vs % parameters removed: a line per method, a ±1 std band over seeds."""
    curves = accuracy_curves(frame)
    if curves.empty:
        return None
    colours = method_colours(curves["method"])
    pairs = sorted(curves.groupby(["model", "dataset"]).groups)
    figure, axes = panels(len(pairs))
    for ax, (model, dataset) in zip(axes, pairs):
        panel = curves[(curves["model"] == model) & (curves["dataset"] == dataset)]
        ax.axhline(panel["dense"].mean(), color="grey", linestyle="--", label="dense")
        for method, curve in in_reading_order(panel, ["method", "x"]).groupby("method", sort=False):
            ax.plot(curve["x"], curve["y"], marker="o", color=colours[method], label=method)
            ax.fill_between(curve["x"], curve["y"] - curve["sd"], curve["y"] + curve["sd"], color=colours[method],
                            alpha=0.2, linewidth=0)
        ax.set(title=f"{model} on {dataset}", xlabel="parameters removed (%, incl. dead outgoing weights)",
               ylabel="test accuracy, no fine-tuning (%)")
        ax.legend(fontsize="small")
    return figure


def speedup_figure(frame: pd.DataFrame) -> Figure | None:
    """Accuracy without fine-tuning against the compacted ticket's measured CPU speed-up (throughput at batch 256,
    one thread), beside the same accuracy against % parameters removed: a point per method and operating point,
    error bars of ±1 std over seeds on both axes."""
    rows = stage_rows(frame, "evaluate").dropna(subset=["throughput_speedup_b256"])
    if rows.empty:
        return None
    rows = rows.assign(accuracy=rows["pruned_accuracy"] * 100, removed=rows["params_removed"] * 100)
    points = rows.groupby(["model", "dataset", "method", "point"], as_index=False).agg(
        speedup=("throughput_speedup_b256", "mean"), speedup_sd=("throughput_speedup_b256", "std"),
        removed=("removed", "mean"), removed_sd=("removed", "std"), y=("accuracy", "mean"), sd=("accuracy", "std"))
    points = points.fillna({"speedup_sd": 0.0, "removed_sd": 0.0, "sd": 0.0})
    colours = method_colours(points["method"])
    pairs = sorted(points.groupby(["model", "dataset"]).groups)
    figure, axes = panels(2 * len(pairs), per_row=2)
    for (model, dataset), (left, right) in zip(pairs, zip(axes[::2], axes[1::2])):
        panel = points[(points["model"] == model) & (points["dataset"] == dataset)]
        for method, group in in_reading_order(panel, ["method", "speedup"]).groupby("method", sort=False):
            for ax, x, xerr in ((left, "speedup", "speedup_sd"), (right, "removed", "removed_sd")):
                ax.errorbar(group[x], group["y"], xerr=group[xerr], yerr=group["sd"], marker="o", linestyle="",
                            color=colours[method], label=method, capsize=3)
        left.set(title=f"{model} on {dataset}", xlabel="CPU throughput speed-up of the compacted ticket (×, batch "
                 "256, one thread)", ylabel="test accuracy, no fine-tuning (%)")
        right.set(title=f"{model} on {dataset}", xlabel="parameters removed (%, incl. dead outgoing weights)",
                  ylabel="test accuracy, no fine-tuning (%)")
        left.legend(fontsize="small")
    return figure


def transfer_matrix(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy (%) on each target (columns) of each source ticket, its random control and the dense nets."""
    source = per_seed["model"] + ": " + per_seed["dataset"] + " " + per_seed["point"]
    labelled = [per_seed.assign(row=source + " ticket", accuracy=per_seed["ticket"]),
                per_seed.assign(row=source + " random mask", accuracy=per_seed["random"]),
                per_seed.assign(row=per_seed["model"] + ": dense trained on target", accuracy=per_seed["dense"])]
    return pd.concat(labelled).pivot_table(index="row", columns="target_dataset", values="accuracy") * 100


def transfer_figure(frame: pd.DataFrame) -> Figure | None:
    """Heatmap per method: mean target accuracy (%) of tickets rewound to θ₀, random masks and dense nets."""
    per_seed = transfer_per_seed(frame)
    if per_seed.empty:
        return None
    methods = in_reading_order(per_seed[["method"]].drop_duplicates(), ["method"])["method"]
    matrices = {method: transfer_matrix(per_seed[per_seed["method"] == method]) for method in methods}
    low, high = min(m.min().min() for m in matrices.values()), max(m.max().max() for m in matrices.values())
    figure, axes = panels(len(methods), width=5.5, height=1.2 + 0.45 * max(len(m) for m in matrices.values()))
    for ax, (method, matrix) in zip(axes, matrices.items()):
        sns.heatmap(matrix, ax=ax, annot=True, fmt=".1f", cmap="viridis", vmin=low, vmax=high, cbar=False)
        ax.set(title=f"{method}: accuracy on target (%)", xlabel="target dataset", ylabel="")
    return figure


def solve_time_figure(frame: pd.DataFrame) -> Figure | None:
    """MIP solve seconds against network size: binaries when recorded, else prunable units."""
    mip = stage_rows(frame, "evaluate").query("method == 'mip'").dropna(subset=["solve_seconds"])
    size = "binaries" if mip["binaries"].notna().any() else "units"
    mip = mip.dropna(subset=[size])
    if mip.empty:
        return None
    figure, (ax,) = panels(1, width=6.0)
    sns.scatterplot(data=mip, x=size, y="solve_seconds", hue="model", style="dataset", ax=ax, s=60)
    ax.set_xscale("log" if (mip[size] > 0).all() else "symlog")
    ax.set(yscale="log", xlabel=f"MIP size ({size})", ylabel="solve time (s)", title="MIP solve time vs size")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))
    return figure


FIGURES = {"accuracy_vs_params": accuracy_figure, "accuracy_vs_speedup": speedup_figure,
           "transfer_heatmap": transfer_figure, "mip_solve_time": solve_time_figure}


def write_plots(frame: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Save every figure that has data as ``<name>.png`` and ``<name>.pdf``; return the PNG paths by name."""
    written = {}
    for name, draw in FIGURES.items():
        figure = draw(frame)
        if figure is not None:
            figure.savefig(Path(out_dir) / f"{name}.pdf")
            figure.savefig(Path(out_dir) / f"{name}.png", dpi=110)
            written[name] = Path(out_dir) / f"{name}.png"
    return written
