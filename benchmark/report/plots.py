"""Figures from the results frame: the summary, accuracy vs parameters removed (without fine-tuning, fine-tuned,
retrained), accuracy vs measured speed-up, the transfer heatmap, MIP solve time vs size, and (from
:mod:`benchmark.report.layers`) units kept per layer and the MIP's score levels.

Figures are drawn on ``matplotlib.figure.Figure`` objects (the Agg canvas, no pyplot state, no display needed)
with seaborn's styles and palette, and saved as PNG and PDF. Every mean carries an error bar of ±1 sample std
over seeds, so a curve of one point shows its spread too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from benchmark.core.paper import TABLE_ORDER
from benchmark.report import layers
from benchmark.report.contract import stage_rows
from benchmark.report.tables import in_reading_order, pruning_per_seed, transfer_per_seed

MIN_POINTS = 5  # ShrinkBench's rule: a curve needs at least five operating points
ACCURACIES = {"pruned_accuracy": "without fine-tuning", "finetuned_accuracy": "fine-tuned",
              "retrained_accuracy": "ticket retrained from θ₀"}
REMOVED = "parameters removed (%, incl. dead outgoing weights)"


def method_colours(methods) -> dict[str, tuple]:
    """One colour-blind-safe colour per method, stable across figures (the MIP always gets the first)."""
    ordered = [*TABLE_ORDER, *sorted(set(methods) - set(TABLE_ORDER))]
    return dict(zip(ordered, sns.color_palette("colorblind", len(ordered))))


def point_colours(points) -> dict[str, tuple]:
    """A sequential colour per operating point, in the order given."""
    points = list(points)
    return dict(zip(points, sns.color_palette("viridis", len(points))))


def panels(count: int, width: float = 5.0, height: float = 4.0, per_row: int = 3,
           style: str = "whitegrid") -> tuple[Figure, list]:
    """A figure with ``count`` axes, at most ``per_row`` to a row, in a seaborn style (whitegrid by default)."""
    columns, rows = min(count, per_row), -(-count // per_row)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    with sns.axes_style(style):
        axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for unused in axes[count:]:
        unused.set_visible(False)
    return figure, axes[:count]


def accuracy_curves(frame: pd.DataFrame, accuracy: str = "pruned_accuracy") -> pd.DataFrame:
    """Per model, dataset, method and point: mean % parameters removed, mean and std of ``accuracy`` (%) over
    seeds, each seed counted once (an evaluation with fine-tuning stores a second row per seed)."""
    rows = pruning_per_seed(frame).dropna(subset=[accuracy])
    dense = stage_rows(frame, "evaluate").groupby(["model", "dataset"])["dense_accuracy"].mean() * 100
    rows = rows.assign(x=rows["params_removed"].astype(float) * 100, y=rows[accuracy].astype(float) * 100)
    curves = rows.groupby(["model", "dataset", "method", "point"], as_index=False).agg(
        x=("x", "mean"), y=("y", "mean"), sd=("y", "std"), seeds=("seed", "nunique"))
    curves["dense"] = [dense.get((m, d)) for m, d in zip(curves["model"], curves["dataset"])]
    return curves.assign(sd=curves["sd"].fillna(0.0))


def short_curves(frame: pd.DataFrame) -> list[str]:
    """``"model/dataset/method"`` of every accuracy curve with fewer than :data:`MIN_POINTS` points."""
    counts = accuracy_curves(frame).groupby(["model", "dataset", "method"]).size()
    return ["/".join(key) for key, count in counts.items() if count < MIN_POINTS]


def draw_curves(ax, curves: pd.DataFrame, colours: dict) -> None:
    """A line per method through its points, with ±1 std error bars and, where it has several points, a band."""
    for method, curve in in_reading_order(curves, ["method", "x"]).groupby("method", sort=False):
        ax.errorbar(curve["x"], curve["y"], yerr=curve["sd"], marker="o", capsize=3, color=colours[method],
                    label=method)
        if len(curve) > 1:
            ax.fill_between(curve["x"], curve["y"] - curve["sd"], curve["y"] + curve["sd"], color=colours[method],
                            alpha=0.15, linewidth=0)


def accuracy_figure(frame: pd.DataFrame) -> Figure | None:
    """Accuracy vs % parameters removed: a row per model and dataset, a column per accuracy (without fine-tuning,
    fine-tuned, retrained from θ₀) that was measured; a line per method, ±1 std over seeds."""
    curves = {name: accuracy_curves(frame, name) for name in ACCURACIES}
    curves = {name: c for name, c in curves.items() if not c.empty}
    if not curves:
        return None
    colours = method_colours(pd.concat(curves.values())["method"])
    pairs = sorted(set().union(*(c.groupby(["model", "dataset"]).groups for c in curves.values())))
    figure, axes = panels(len(pairs) * len(curves), per_row=len(curves))
    cells = iter(axes)
    for model, dataset in pairs:
        for name, table in curves.items():
            ax = next(cells)
            panel = table[(table["model"] == model) & (table["dataset"] == dataset)]
            ax.set(title=f"{model} on {dataset}: {ACCURACIES[name]}", xlabel=REMOVED, ylabel="test accuracy (%)")
            if panel.empty:  # a suite still running: this pair has no such stage stored yet
                ax.text(0.5, 0.5, "no rows yet", ha="center", va="center", transform=ax.transAxes)
                continue
            if panel["dense"].notna().any():
                ax.axhline(panel["dense"].mean(), color="grey", linestyle="--", label="dense")
            draw_curves(ax, panel, colours)
            ax.legend(fontsize="small")
    return figure


def summary_figure(frame: pd.DataFrame) -> Figure | None:
    """The first screen: at each method's primary operating point, accuracy without fine-tuning and of the
    retrained ticket (mean ± std over seeds), a panel per model and dataset, the dense network dashed."""
    per_seed = pruning_per_seed(frame[frame["primary"].ne(False)] if "primary" in frame else frame)
    if per_seed.empty:
        return None
    melted = per_seed.melt(id_vars=["model", "dataset", "method", "seed"], var_name="accuracy",
                           value_vars=["pruned_accuracy", "retrained_accuracy"]).dropna(subset=["value"])
    if melted.empty:
        return None
    melted = melted.assign(value=melted["value"].astype(float) * 100, accuracy=melted["accuracy"].map(ACCURACIES))
    dense = stage_rows(frame, "evaluate").groupby(["model", "dataset"])["dense_accuracy"].mean() * 100
    pairs = sorted(melted.groupby(["model", "dataset"]).groups)
    figure, axes = panels(len(pairs), width=5.5, height=3.6)
    for ax, (model, dataset) in zip(axes, pairs):
        panel = melted[(melted["model"] == model) & (melted["dataset"] == dataset)]
        order = list(in_reading_order(panel[["method"]].drop_duplicates(), ["method"])["method"])
        sns.pointplot(data=panel, x="method", y="value", hue="accuracy", order=order, errorbar="sd",
                      dodge=0.3 if panel["accuracy"].nunique() > 1 else False,
                      linestyle="none", capsize=0.15, ax=ax, palette="colorblind")
        if (model, dataset) in dense:
            ax.axhline(dense[(model, dataset)], color="grey", linestyle="--", label="dense")
        ax.set(title=f"{model} on {dataset}, primary point", xlabel="", ylabel="test accuracy (%)")
        ax.legend(fontsize="x-small")
    return figure


def speedup_figure(frame: pd.DataFrame) -> Figure | None:
    """Accuracy without fine-tuning against the compacted ticket's measured CPU speed-up (throughput at batch 256,
    one thread), beside the same accuracy against % parameters removed: a point per method and operating point,
    error bars of ±1 std over seeds on both axes."""
    rows = pruning_per_seed(frame).dropna(subset=["throughput_speedup_b256"])
    if rows.empty:
        return None
    rows = rows.assign(accuracy=rows["pruned_accuracy"].astype(float) * 100,
                       removed=rows["params_removed"].astype(float) * 100)
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
        right.set(title=f"{model} on {dataset}", xlabel=REMOVED, ylabel="test accuracy, no fine-tuning (%)")
        left.legend(fontsize="small")
    return figure


def transfer_matrices(per_seed: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean accuracy (%) on each target (columns) of each source ticket, its random control and the dense net, and
    the same cells minus the dense net trained on that target (pp), the quantity the colours show."""
    source = per_seed["model"] + " " + per_seed["dataset"] + " " + per_seed["point"]
    labelled = [per_seed.assign(row=source + ": ticket", accuracy=per_seed["ticket"]),
                per_seed.assign(row=source + ": random mask", accuracy=per_seed["random"]),
                per_seed.assign(row=per_seed["model"] + " dense on target", accuracy=per_seed["dense"])]
    accuracy = pd.concat(labelled).pivot_table(index=["model", "row"], columns="target_dataset",
                                               values="accuracy") * 100
    dense = per_seed.groupby(["model", "target_dataset"])["dense"].mean().unstack() * 100
    gap = accuracy - dense.reindex(accuracy.index.get_level_values("model")).set_axis(accuracy.index)
    return accuracy.droplevel("model"), gap.reindex(columns=accuracy.columns).droplevel("model")


def transfer_figure(frame: pd.DataFrame) -> Figure | None:
    """Heatmap per method: each cell the mean target accuracy (%) of a ticket rewound to θ₀, of its random-mask
    control, or of the dense net, coloured by its difference from the dense net trained on that target (pp, one
    diverging scale and colour bar for all panels)."""
    per_seed = transfer_per_seed(frame)
    if per_seed.empty:
        return None
    methods = in_reading_order(per_seed[["method"]].drop_duplicates(), ["method"])["method"]
    matrices = {method: transfer_matrices(per_seed[per_seed["method"] == method]) for method in methods}
    reach = max(float(gap.abs().max().max()) for _, gap in matrices.values() if gap.notna().any().any()) \
        if any(gap.notna().any().any() for _, gap in matrices.values()) else 1.0
    rows = max(len(accuracy) for accuracy, _ in matrices.values())
    figure, axes = panels(len(matrices), width=6.0, height=1.6 + 0.42 * rows, per_row=2, style="white")
    for ax, (method, (accuracy, gap)) in zip(axes, matrices.items()):
        notes = accuracy.map(lambda v: "" if pd.isna(v) else f"{v:.1f}") + gap.map(
            lambda v: "" if pd.isna(v) or v == 0 else f"\n{v:+.1f}")
        sns.heatmap(gap, ax=ax, annot=notes, fmt="", cmap="RdBu", center=0.0, vmin=-reach, vmax=reach, cbar=False,
                    annot_kws={"fontsize": "small"}, linewidths=0.5)
        ax.set(title=method, xlabel="target dataset", ylabel="")
        ax.tick_params(axis="x", labelrotation=0)
    figure.colorbar(axes[0].collections[0], ax=axes, label="accuracy − dense trained on the target (pp)",
                    location="bottom", shrink=0.6, aspect=40)
    return figure


def solve_time_figure(frame: pd.DataFrame) -> Figure | None:
    """MIP solve seconds against the program's size: its binaries where the program has any, else (relaxed
    programs, the paper's setting) its variables, on log axes with plain numbers. The rows are those that carry
    solver statistics (a method's ``evaluation_columns``), whichever method wrote them."""
    mip = stage_rows(frame, "evaluate")
    if "solve_seconds" not in mip:
        return None
    mip = mip.dropna(subset=["solve_seconds"])
    exact = mip["binaries"].fillna(0).gt(0).any()
    size, label = ("binaries", "binaries") if exact else ("solver.variables", "variables (relaxed: no binaries)")
    mip = mip.dropna(subset=[size]).drop_duplicates(["model", "dataset", "seed", size, "solve_seconds"])  # one
    # point per solve: the operating points cut one solve's scores at several thresholds
    mip = mip[mip[size].astype(float) > 0]
    if mip.empty:
        return None
    figure, (ax,) = panels(1, width=6.5)
    sns.scatterplot(data=mip, x=size, y="solve_seconds", hue="model", style="dataset", ax=ax, s=60)
    ax.set(xscale="log", yscale="log", xlabel=f"MIP size ({label})", ylabel="solve time (s)",
           title="MIP solve time vs size")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for axis in (ax.xaxis, ax.yaxis):  # after the scale, which resets them: one plain format, 1-2-5 ticks
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    for axis, column in (("x", size), ("y", "solve_seconds")):  # a margin of a quarter decade on each side
        low, high = mip[column].astype(float).min(), mip[column].astype(float).max()
        getattr(ax, f"set_{axis}lim")(low / 10 ** 0.25, high * 10 ** 0.25)
    ax.legend(fontsize="small")
    return figure


def kept_figure(frame: pd.DataFrame) -> Figure | None:
    """Units kept per layer (:func:`benchmark.report.layers.kept_figure`)."""
    return layers.kept_figure(frame, panels, point_colours)


def score_figure(frame: pd.DataFrame) -> Figure | None:
    """Score levels per layer (:func:`benchmark.report.layers.score_figure`)."""
    return layers.score_figure(frame, panels)


FIGURES = {"summary": summary_figure, "accuracy_vs_params": accuracy_figure, "accuracy_vs_speedup": speedup_figure,
           "kept_per_layer": kept_figure, "score_levels": score_figure, "transfer_heatmap": transfer_figure,
           "mip_solve_time": solve_time_figure}


def write_plots(frame: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Save every figure that has data as ``<name>.png`` and ``<name>.pdf``; return the PNG paths by name."""
    written = {}
    for name, draw in FIGURES.items():
        figure = draw(frame)
        if figure is not None:
            figure.savefig(Path(out_dir) / f"{name}.pdf", metadata={"CreationDate": None})  # same bytes each time
            figure.savefig(Path(out_dir) / f"{name}.png", dpi=110)
            written[name] = Path(out_dir) / f"{name}.png"
    return written
