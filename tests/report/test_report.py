"""Reports from synthetic results frames: table cells, figures and the HTML page."""

from __future__ import annotations

import html
import math
import re
import warnings

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from benchmark.report import ReportError
from benchmark.report.html import TITLES, write_report
from benchmark.report.layers import layer_table, score_levels
from benchmark.report.plots import (
    FIGURES,
    accuracy_curves,
    accuracy_figure,
    short_curves,
    solve_time_figure,
    transfer_figure,
    write_plots,
)
from benchmark.report.tables import build_tables, main_table, mean_std, table1, table2, write_tables
from benchmark.store.db import ResultStore
from benchmark.store.frame import load_results
from tests.report_frames import SEEDS, TAUS, cells, row, suite_frame


def test_mean_std_over_seeds():
    assert mean_std(pd.Series([0.97, 0.98, 0.99])) == "98.00 ± 1.00"
    assert mean_std(pd.Series([0.9745, 0.9745])) == "97.45 ± 0.00"
    assert mean_std(pd.Series([0.5, math.nan])) == "50.00 ± n/a"
    assert mean_std(pd.Series([math.nan])) == "–"
    assert mean_std(pd.Series([2.0, 4.0]), scale=1.0) == "3.00 ± 1.41"


def test_table1_cells():
    table = table1(suite_frame())
    assert any("dead outgoing weights" in header for header in table.columns)
    mip = cells(table, Method="mip", Point="tau=0.1")
    assert mip["Seeds"] == 3 and mip["Dense (%)"] == "98.00 ± 0.10"
    assert mip["Pruned, no fine-tuning (%)"] == "97.50 ± 0.10" and mip["Fine-tuned (%)"] == "–"
    assert mip["Ticket retrained from θ₀ (%)"] == "97.00 ± 0.10" and mip["MIP solve (s)"] == "3.00 ± 1.00"
    assert mip["Neurons removed (%)"] == "10.00 ± 0.00"
    assert mip["Params removed, incl. dead outgoing weights (%)"] == "20.00 ± 0.00"
    snip = cells(table, Method="snip", Point="match=mip")
    assert snip["Fine-tuned (%)"] == "97.00 ± 0.10" and snip["Ticket retrained from θ₀ (%)"] == "95.00 ± 0.10"
    assert snip["MIP solve (s)"] == "–"
    assert list(table["Method"].drop_duplicates()) == ["mip", "magnitude", "snip", "lottery", "random", "critical"]


def test_table1_keeps_points_that_were_only_retrained():
    retrained_only = pd.DataFrame([row("retrain", "lottery", "sparsity=0.9", seed, retrained_accuracy=0.9,
                                       neurons_removed=0.9, params_removed=0.95) for seed in SEEDS])
    lottery = cells(table1(pd.concat([suite_frame(), retrained_only])), Method="lottery", Point="sparsity=0.9")
    assert lottery["Ticket retrained from θ₀ (%)"] == "90.00 ± 0.00" and lottery["Pruned, no fine-tuning (%)"] == "–"
    assert lottery["Neurons removed (%)"] == "90.00 ± 0.00" and lottery["Seeds"] == 3


def test_table2_sets_ticket_beside_dense_target_and_random_mask():
    table = table2(suite_frame())
    assert len(table) == 1
    cell = cells(table, Method="mip")
    assert (cell["Source"], cell["Target"], cell["Point"], cell["Seeds"]) == ("mnist", "fashion-mnist", "tau=0.3", 3)
    assert cell["Ticket (%)"] == "87.00 ± 0.10" and cell["Random mask, same counts (%)"] == "85.00 ± 0.10"
    assert cell["Dense trained on target (%)"] == "87.50 ± 0.10"


def test_failed_rows_are_skipped_and_missing_columns_are_one_line_errors():
    frame = suite_frame()
    failed = pd.DataFrame([{**row("evaluate", "mip", "tau=0.1", seed=5), "status": "failed"}])
    pd.testing.assert_frame_equal(table1(pd.concat([frame, failed])), table1(frame))
    with pytest.raises(ReportError, match="^evaluate rows lack the columns pruned_accuracy;"):
        table1(frame.drop(columns="pruned_accuracy"))


def test_table_writers(tmp_path):
    paths = write_tables(build_tables(suite_frame()), tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"table{n}.{s}" for n in ("0_main", "1_pruning", "2_transfer")
                                                  for s in ("md", "csv", "tex"))
    assert pd.read_csv(tmp_path / "table1_pruning.csv").loc[0, "Pruned, no fine-tuning (%)"] == "97.50 ± 0.10"
    latex = (tmp_path / "table1_pruning.tex").read_text()
    assert r"97.50 $\pm$ 0.10" in latex and r"\%" in latex and r"$\theta_0$" in latex
    markdown = (tmp_path / "table1_pruning.md").read_text().splitlines()
    cells_of = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown]
    assert cells_of[0][:6] == ["Model", "Dataset", "Method", "Point", "Seeds", "Dense (%)"]
    assert set(cells_of[1][0]) <= {"-", ":"} and cells_of[2][:6] == ["fc3", "mnist", "mip", "tau=0.1", "3",
                                                                    "98.00 ± 0.10"]


def test_accuracy_curves_and_short_curves():
    curves = accuracy_curves(suite_frame())
    mip = curves[(curves["method"] == "mip") & (curves["point"] == "tau=0.1")].iloc[0]
    assert (mip["x"], mip["y"], mip["dense"]) == pytest.approx((20.0, 97.5, 98.0))
    assert mip["sd"] == pytest.approx(0.1)
    assert short_curves(suite_frame()) == ["fc3/mnist/critical", "fc3/mnist/lottery", "fc3/mnist/magnitude",
                                           "fc3/mnist/random", "fc3/mnist/snip"]


def test_the_std_band_counts_each_seed_once_beside_its_fine_tuned_row():
    """An evaluate stage with fine-tuning stores a second row per seed; a std over both rows is 0.894x too small."""
    frame = suite_frame()
    fine_tuned = frame[frame["stage"] == "evaluate"].assign(finetuned_accuracy=0.99)
    curves = accuracy_curves(pd.concat([frame, fine_tuned], ignore_index=True))
    mip = curves[(curves["method"] == "mip") & (curves["point"] == "tau=0.1")].iloc[0]
    assert mip["sd"] == pytest.approx(0.1)


def test_plots_skip_figures_without_data(tmp_path):
    no_transfer = suite_frame(controls=())
    assert sorted(write_plots(no_transfer, tmp_path)) == ["accuracy_vs_params", "mip_solve_time", "summary"]
    assert write_plots(pd.DataFrame(), tmp_path) == {}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report of the synthetic suite, written from a real store through load_results."""
    root = tmp_path_factory.mktemp("store")
    store = ResultStore(root)
    for i, record in enumerate(suite_frame().to_dict("records")):
        stage, status = record.pop("stage"), record.pop("status")
        store.put(f"{i:016x}", stage, record, wall_seconds=1.0, status=status, suites=["smoke"])
    return write_report(load_results(root, "smoke"), "smoke <test>", root / "report")


def test_report_writes_every_file(report):
    names = {path.name for path in report.parent.iterdir()}
    for stem in ("accuracy_vs_params", "transfer_heatmap", "mip_solve_time"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
        assert (report.parent / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (report.parent / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    assert {"table1_pruning.md", "table1_pruning.csv", "table1_pruning.tex", "table2_transfer.tex", "claims.md",
            "report.html"} <= names
    assert "**confirmed**" in (report.parent / "claims.md").read_text()


def test_report_html_is_self_contained(report):
    page = report.read_text()
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/]{1000,}=*"', page)) == 4
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"https?:|//[a-z]|<link|<script|@import|url\(", text, re.IGNORECASE)
    assert re.findall(r'(?:src|href)="', text) == ['src="'] * 4
    assert "smoke &lt;test&gt;" in page and "<test>" not in page
    assert page.count('<span class="verdict confirmed">confirmed</span>') == 8  # at a glance and in detail
    assert "97.50 ± 0.10" in page and "87.50 ± 0.10" in page
    assert "Fewer than 5 operating points" in page and "fc3/mnist/snip" in page


def test_the_main_table_keeps_the_primary_points_only():
    frame = suite_frame()
    assert set(main_table(frame)["Point"]) == set(table1(frame)["Point"])  # rows that do not say: all kept
    frame["primary"] = (frame["method"] != "mip") | (frame["point"] == f"tau={TAUS[0]}")
    assert set(main_table(frame).query("Method == 'mip'")["Point"]) == {f"tau={TAUS[0]}"}


def test_table1_shows_the_compacted_tickets_cost_and_the_speedup_figure_draws_it(tmp_path):
    cost = {"compacted_parameters": 395017, "macs": 394824, "latency_speedup_b1": 1.4,
            "throughput_speedup_b256": 2.0}
    frame = suite_frame()
    rows = frame.index[(frame["stage"] == "evaluate") & (frame["method"] == "mip") & (frame["point"] == "tau=0.1")]
    for column, value in cost.items():
        frame.loc[rows, column] = value + frame.loc[rows, "seed"] * (0.1 if value < 10 else 1)
    mip = cells(table1(frame), Method="mip", Point="tau=0.1")
    assert mip["Compacted params"] == "395,018 ± 1" and mip["MACs / image"] == "394,825 ± 1"
    assert mip["Latency speed-up, batch 1 (×)"] == "1.50 ± 0.10"
    assert mip["Throughput speed-up, batch 256 (×)"] == "2.10 ± 0.10"
    assert cells(table1(frame), Method="snip", Point="match=mip")["Compacted params"] == "–"
    assert "accuracy_vs_speedup" in write_plots(frame, tmp_path)
    assert "accuracy_vs_speedup" not in write_plots(suite_frame(), tmp_path)
    page = write_report(frame, "cost", tmp_path / "report").read_text()
    assert "measured CPU speed-up" in page and "Throughput speed-up, batch 256" in page


def prune_rows(kept_fc1=(30, 32, 34), kept_fc2=(10, 10, 10), levels=(5, 20, 75)) -> pd.DataFrame:
    """Prune rows of the MIP at tau=0.1 (fc1: 300 units, fc2: 100) per seed, with score levels of fc1."""
    zero, between, one = levels
    return pd.DataFrame([row("prune", "mip", f"tau={TAUS[0]}", seed, neurons_removed=0.5, params_removed=0.6,
                             **{"kept.fc1": fc1, "kept.fc2": fc2, "sizes.fc1": 300, "sizes.fc2": 100,
                                "score_levels.fc1.zero": zero, "score_levels.fc1.between": between,
                                "score_levels.fc1.one": one})
                         for seed, fc1, fc2 in zip(SEEDS, kept_fc1, kept_fc2)])


def texts_outside(figure) -> list[str]:
    """The drawn texts of ``figure`` that stick out of its canvas by more than a pixel (tick labels of ticks
    outside their axis's view are not drawn, so they do not count)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer, bounds = canvas.get_renderer(), figure.bbox
    hidden = {id(tick.label1) for ax in figure.axes for axis in (ax.xaxis, ax.yaxis)
              for tick in axis.get_major_ticks() + axis.get_minor_ticks()
              if not min(axis.get_view_interval()) <= tick.get_loc() <= max(axis.get_view_interval())}
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text") and a.get_visible())
            if t.get_text().strip() and id(t) not in hidden and not (
                (box := t.get_window_extent(renderer)).x0 >= bounds.x0 - 1 and box.x1 <= bounds.x1 + 1
                and box.y0 >= bounds.y0 - 1 and box.y1 <= bounds.y1 + 1)]


def test_the_transfer_heatmap_colours_each_cell_by_its_difference_from_dense_and_has_a_colour_bar():
    """Coloured by accuracy alone, a shared scale mostly shows which target a cell is; the difference from the
    dense net on the same target shows ticket against random against dense."""
    figure = transfer_figure(suite_frame(ticket=0.87, random_mask=0.85, dense_target=0.875))
    mip_panel = next(ax for ax in figure.axes if ax.get_title() == "mip")
    rows = [label.get_text() for label in mip_panel.get_yticklabels()]
    colours = dict(zip(rows, mip_panel.collections[0].get_array().ravel()))
    assert colours == pytest.approx({"fc3 dense on target": 0.0, "fc3 mnist tau=0.3: ticket": -0.5,
                                     "fc3 mnist tau=0.3: random mask": -2.5})
    assert any(ax.get_xlabel().startswith("accuracy − dense") for ax in figure.axes)  # the colour bar
    assert texts_outside(figure) == []


@pytest.mark.parametrize("draw", ["summary", "accuracy_vs_params", "transfer_heatmap", "mip_solve_time",
                                  "kept_per_layer", "score_levels"])
def test_no_text_of_a_figure_is_cut_off(draw):
    assert texts_outside(FIGURES[draw](pd.concat([suite_frame(), prune_rows()], ignore_index=True))) == []


def test_the_solve_time_of_relaxed_programs_is_plotted_against_variables():
    """Relaxed programs have no binaries: plotted against binaries, every point sat at 0."""
    frame = suite_frame()
    mip = (frame["stage"] == "evaluate") & (frame["method"] == "mip")
    frame.loc[mip, "binaries"] = 0
    frame.loc[mip, "solver.variables"] = 500 + 100 * frame.loc[mip, "seed"]
    (ax,) = solve_time_figure(frame).axes
    assert "variables" in ax.get_xlabel()
    assert sorted(ax.collections[0].get_offsets()[:, 0]) == [500, 600, 700]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\d+", label) for label in labels)  # one plain format, no "6e−02"


def test_a_curve_of_one_point_shows_its_spread():
    """The band needs two x; an error bar does not (the smoke and GPU figures have one point per method)."""
    frame = suite_frame()
    frame = frame[frame["point"].isin(["", f"tau={TAUS[0]}", "match=mip"])]
    ax = accuracy_figure(frame).axes[0]
    bars = [c for c in ax.containers if c.has_yerr and c.get_label() == "snip"]
    (segment,) = bars[0].lines[2][0].get_segments()
    assert segment[1][1] - segment[0][1] == pytest.approx(0.2)  # ±0.1 pp


def test_per_layer_kept_units_and_score_levels_come_from_the_prune_rows():
    frame = pd.concat([suite_frame(), prune_rows()], ignore_index=True)
    table = layer_table(frame)
    fc1 = cells(table, Layer="fc1")
    assert (fc1["Units"], fc1["Units kept"], fc1["Kept (%)"]) == (300, "32.0 ± 2.0", 10.7)
    assert list(table["Layer"]) == ["fc1", "fc2"]
    levels = score_levels(frame)
    assert set(levels["layer"]) == {"fc1"} and levels[["zero", "between", "one"]].iloc[0].tolist() == [5, 20, 75]
    bars = FIGURES["score_levels"](frame).axes[0].patches
    assert [round(b.get_height(), 6) for b in bars] == [5.0, 20.0, 75.0]  # % of the layer at 0, between, 1


def test_the_page_opens_with_the_verdicts_and_says_what_was_run(tmp_path):
    from benchmark.pipeline.suites import load_suite

    suite = load_suite("smoke")
    frame = pd.concat([suite_frame(), prune_rows().assign(**{"options.loss": "margin"})], ignore_index=True)
    page = write_report(frame, suite, tmp_path).read_text()
    headings = [html.unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h2>(.*?)</h2>", page)]
    assert headings[:3] == ["At a glance", "What was run", TITLES["table0_main"]]
    assert page.index("verdict confirmed") < page.index("What was run")
    assert "smoke" in page and "loss=margin" in page and "Units kept per layer" in page
    assert "<details" in page and "fc3 on mnist" in page  # Table 1 grouped per model and dataset


def test_table1_shows_the_official_rules_parameters_removed_beside_ours():
    frame = suite_frame()
    mip = (frame["method"] == "mip") & frame["stage"].isin(["evaluate", "retrain"])
    frame.loc[mip, "params_removed_official"] = 0.1025
    assert cells(table1(frame), Method="mip", Point="tau=0.1")["Params removed, official rule (%)"] == "10.25 ± 0.00"
    assert cells(table1(frame), Method="snip", Point="match=mip")["Params removed, official rule (%)"] == "–"


def test_a_suite_of_weight_level_methods_only_has_a_report(tmp_path):
    """Weight masks remove no whole neurons, so their rows carry no ``neurons_removed``: the column reads '–'."""
    frame = suite_frame(ablations=(), baselines=("magnitude",))
    frame = frame[frame["method"] != "mip"].drop(columns="neurons_removed")
    cell = cells(table1(frame), Method="magnitude")
    assert cell["Neurons removed (%)"] == "–"
    assert cell["Params removed, incl. dead outgoing weights (%)"] == "40.00 ± 0.00"
    assert "magnitude" in write_report(frame, "weights", tmp_path / "report").read_text()


def test_table1_shows_a_solver_limit_that_kept_the_dense_start():
    frame = suite_frame()
    evaluated = (frame["stage"] == "evaluate") & (frame["method"] == "mip") & (frame["point"] == "tau=0.1")
    frame.loc[evaluated, "solver.status"] = "optimal"
    stopped = evaluated & (frame["seed"] == 2)
    frame.loc[stopped, ["solver.status", "neurons_removed"]] = ["timelimit", 0.0]
    table = table1(frame)
    assert cells(table, Method="mip", Point="tau=0.1")["Solver status (seeds)"] == (
        "optimal ×2, limit: dense start kept ×1")
    assert cells(table, Method="mip", Point="tau=0.2")["Solver status (seeds)"] == "–"
    frame.loc[stopped, "neurons_removed"] = 0.1  # a limit that pruned: its status as it is
    assert cells(table1(frame), Method="mip", Point="tau=0.1")["Solver status (seeds)"] == "optimal ×2, timelimit ×1"


def test_a_pair_without_a_stage_yet_gets_a_panel_that_says_so_not_a_warning():
    """A suite still running: FC-4 is evaluated but not yet retrained or fine-tuned."""
    frame = suite_frame()
    evaluated = frame[frame["stage"] == "evaluate"].assign(model="fc4", finetuned_accuracy=math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = accuracy_figure(pd.concat([frame, evaluated], ignore_index=True))
    panels = {ax.get_title(): ax for ax in figure.axes}
    retrained = panels["fc4 on mnist: ticket retrained from θ₀"]
    assert [text.get_text() for text in retrained.texts] == ["no rows yet"] and not retrained.lines
    assert panels["fc4 on mnist: without fine-tuning"].get_legend() is not None
    assert not panels["fc3 on mnist: ticket retrained from θ₀"].texts
