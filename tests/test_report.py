"""Reports from synthetic results frames: table cells, claim verdicts both ways, figures and the HTML page."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from benchmark.report import ReportError
from benchmark.report.claims import CONFIRMED, NOT_CONFIRMED, NOT_MEASURED, evaluate_claims, points_above
from benchmark.report.html import write_report
from benchmark.report.plots import accuracy_curves, short_curves, write_plots
from benchmark.report.tables import build_tables, main_table, mean_std, table1, table2, write_tables
from benchmark.store.db import ResultStore
from benchmark.store.frame import load_results

SEEDS = (0, 1, 2)
TAUS = (0.1, 0.2, 0.3, 0.4, 0.5)
MATCHED_TAU = 0.3  # the MIP point whose per-layer counts the match=mip baselines copy


def row(stage, method="dense", point="", seed=0, dataset="mnist", **metrics) -> dict:
    return {"stage": stage, "status": "ok", "model": "fc3", "dataset": dataset, "seed": seed, "method": method,
            "point": point, **metrics}


def suite_frame(mip_pruned=0.975, ablation=0.90, mip_retrained=0.97, baseline_retrained=0.95, ticket=0.87,
                random_mask=0.85, dense_target=0.875, ablations=("random", "critical"),
                baselines=("snip", "magnitude", "lottery"), controls=("ticket", "random"), matched_removed=0.3):
    """Three seeds at mean value ± 0.1 pp each (seed offsets -0.001, 0, +0.001), so every std is 0.10."""
    rows = []
    for seed in SEEDS:
        jitter = (seed - 1) * 0.001
        rows += [row("train", seed=seed, test_accuracy=0.98 + jitter, parameters=1000, units=100),
                 row("train", seed=seed, dataset="fashion-mnist", test_accuracy=dense_target + jitter,
                     parameters=1000, units=100)]
        for i, tau in enumerate(TAUS):
            removed = dict(neurons_removed=tau, params_removed=tau + 0.1)
            rows += [row("evaluate", "mip", f"tau={tau}", seed, dense_accuracy=0.98 + jitter,
                         pruned_accuracy=mip_pruned + jitter - 0.001 * i, finetuned_accuracy=math.nan,
                         solve_seconds=2.0 + seed, binaries=10 * (i + 1), units=100, **removed),
                     row("retrain", "mip", f"tau={tau}", seed, retrained_accuracy=mip_retrained + jitter, **removed)]
        matched = dict(neurons_removed=matched_removed, params_removed=0.4)
        for method in ablations:
            rows.append(row("evaluate", method, "match=mip", seed, dense_accuracy=0.98 + jitter,
                            pruned_accuracy=ablation + jitter, **matched))
        for method in baselines:
            rows += [row("evaluate", method, "match=mip", seed, dense_accuracy=0.98 + jitter,
                         pruned_accuracy=0.96 + jitter, finetuned_accuracy=0.97 + jitter, **matched),
                     row("retrain", method, "match=mip", seed, retrained_accuracy=baseline_retrained + jitter,
                         **matched)]
        for control in controls:
            accuracy = {"ticket": ticket, "random": random_mask}[control]
            rows.append(row("transfer", "mip", f"tau={MATCHED_TAU}", seed, target_dataset="fashion-mnist",
                            transfer_accuracy=accuracy + jitter, control=control, neurons_removed=0.3,
                            params_removed=0.4))
    return pd.DataFrame(rows)


def cells(table: pd.DataFrame, **where) -> dict:
    selected = table
    for column, value in where.items():
        selected = selected[selected[column] == value]
    assert len(selected) == 1
    return selected.iloc[0].to_dict()


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
    assert "| fc3 | mnist | mip | tau=0.1 | 3 | 98.00 ± 0.10 |" in (tmp_path / "table1_pruning.md").read_text()


def verdicts(frame: pd.DataFrame) -> list[str]:
    return [claim.verdict for claim in evaluate_claims(frame)]


def test_every_claim_confirmed_by_a_suite_that_supports_it():
    assert verdicts(suite_frame()) == [CONFIRMED] * 4
    assert verdicts(suite_frame(baseline_retrained=0.975)) == [CONFIRMED] * 4  # 0.5 pp behind is competitive


def test_exactly_one_point_below_counts_as_one_point():
    assert (0.98 - 0.97) * 100 > 1.0 and points_above(pd.Series([0.98]), pd.Series([0.97])).tolist() == [1.0]


@pytest.mark.parametrize("claim, changes", [
    (0, dict(mip_pruned=0.965)),  # 1.5 pp below dense at tau=0.1
    (1, dict(ablation=0.99)),  # an ablation beats the MIP
    (1, dict(ablation=0.975)),  # an ablation 0.2 pp above the MIP: close, but the MIP must beat it
    (2, dict(ticket=0.86)),  # 1.5 pp below the dense network trained on the target
    (2, dict(random_mask=0.871)),  # the random mask transfers better than the ticket
    (3, dict(baseline_retrained=0.985)),  # 1.5 pp behind the baselines
])
def test_each_claim_is_refuted_by_numbers_against_it(claim, changes):
    found = verdicts(suite_frame(**changes))
    assert found[claim] == NOT_CONFIRMED
    assert found[:claim] + found[claim + 1:] == [CONFIRMED] * 3


@pytest.mark.parametrize("claim, changes", [
    (1, dict(ablations=("random",))),  # critical never run
    (1, dict(matched_removed=0.35)),  # no MIP row removes the same neurons, so nothing to pair with
    (2, dict(controls=("ticket",))),  # no random-mask control
    (3, dict(baselines=("snip", "magnitude"))),  # IMP never run
])
def test_a_claim_missing_its_comparison_is_not_measured(claim, changes):
    claims = evaluate_claims(suite_frame(**changes))
    assert claims[claim].verdict == NOT_MEASURED and claims[claim].gaps
    assert not claims[0].gaps  # the MIP's own rows are all there


@pytest.mark.parametrize("claim, changes", [
    (1, dict(ablation=0.99, ablations=("random",))),
    (2, dict(ticket=0.86, controls=("ticket",))),
    (3, dict(baseline_retrained=0.985, baselines=("snip",))),
])
def test_a_failing_row_refutes_even_when_a_comparison_is_missing(claim, changes):
    assert verdicts(suite_frame(**changes))[claim] == NOT_CONFIRMED


def test_transfer_claim_ignores_retraining_on_the_source_itself():
    frame = suite_frame()
    same_dataset = frame[frame["stage"] == "transfer"].assign(target_dataset="mnist", transfer_accuracy=0.5)
    claims = evaluate_claims(pd.concat([frame, same_dataset]))
    assert claims[2].verdict == CONFIRMED and list(claims[2].evidence["target_dataset"]) == ["fashion-mnist"]


def test_claims_of_an_empty_frame_are_not_measured():
    claims = evaluate_claims(pd.DataFrame())
    assert [c.verdict for c in claims] == [NOT_MEASURED] * 4
    assert [c.gaps for c in claims] == ["no rows to judge", "no random, critical rows at match=mip paired with a MIP "
                                        "row", "no rows to judge", "no snip, magnitude, lottery rows at match=mip "
                                        "paired with a MIP row"]


def test_claim_evidence_shows_the_rows_and_margins():
    marginal, ablations, transfer, baselines = evaluate_claims(suite_frame())
    first = marginal.evidence.iloc[0]
    assert (first["point"], first["loss (pp)"], first["passes"]) == ("tau=0.1", 0.5, "yes")
    assert set(ablations.evidence["method"]) == {"random", "critical"}
    assert set(ablations.evidence["point"]) == {f"tau={MATCHED_TAU}"}
    assert ablations.evidence["MIP - baseline (pp)"].tolist() == [7.3, 7.3]  # 97.30 at tau=0.3 vs 90.00
    assert transfer.evidence.iloc[0][["ticket - dense (pp)", "ticket - random (pp)"]].tolist() == [-0.5, 2.0]
    assert baselines.evidence["MIP - baseline (pp)"].tolist() == [2.0, 2.0, 2.0]


def test_accuracy_curves_and_short_curves():
    curves = accuracy_curves(suite_frame())
    mip = curves[(curves["method"] == "mip") & (curves["point"] == "tau=0.1")].iloc[0]
    assert (mip["x"], mip["y"], mip["dense"]) == pytest.approx((20.0, 97.5, 98.0))
    assert mip["sd"] == pytest.approx(0.1)
    assert short_curves(suite_frame()) == ["fc3/mnist/critical", "fc3/mnist/lottery", "fc3/mnist/magnitude",
                                           "fc3/mnist/random", "fc3/mnist/snip"]


def test_plots_skip_figures_without_data(tmp_path):
    no_transfer = suite_frame(controls=())
    assert sorted(write_plots(no_transfer, tmp_path)) == ["accuracy_vs_params", "mip_solve_time"]
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
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/]{1000,}=*"', page)) == 3
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"https?:|//[a-z]|<link|<script|@import|url\(", text, re.IGNORECASE)
    assert re.findall(r'(?:src|href)="', text) == ['src="'] * 3
    assert "smoke &lt;test&gt;" in page and "<test>" not in page
    assert page.count('<span class="verdict confirmed">confirmed</span>') == 4
    assert "97.50 ± 0.10" in page and "87.50 ± 0.10" in page
    assert "Fewer than 5 operating points" in page and "fc3/mnist/snip" in page


def test_marginal_loss_is_judged_at_the_primary_point_when_rows_say_which():
    """A sweep trades accuracy on purpose at its far points; the paper's claim is about its own setting."""
    frame = suite_frame()
    far = frame["point"] == f"tau={TAUS[-1]}"
    frame.loc[far & (frame["method"] == "mip"), "pruned_accuracy"] = 0.5  # 48 pp lost at the far point
    assert verdicts(frame)[0] == "not confirmed"
    frame["primary"] = frame["point"] == f"tau={TAUS[0]}"
    assert verdicts(frame)[0] == CONFIRMED


def test_matched_labels_pair_with_the_mip_point_they_name():
    """``match=mip@tau=0.3`` pairs with the MIP row at tau=0.3 only, even where another MIP point removes the same
    fraction of neurons."""
    frame = suite_frame()
    matched = frame["point"] == "match=mip"
    frame.loc[matched, "point"] = f"match=mip@tau={MATCHED_TAU}"
    other = (frame["method"] == "mip") & (frame["point"] == f"tau={TAUS[0]}")
    frame.loc[other, ["neurons_removed", "pruned_accuracy"]] = [MATCHED_TAU, 0.5]  # same counts, far worse
    claim = evaluate_claims(frame)[1]
    assert claim.verdict == CONFIRMED and set(claim.evidence["point"]) == {f"tau={MATCHED_TAU}"}


def test_the_main_table_keeps_the_primary_points_only():
    frame = suite_frame()
    assert set(main_table(frame)["Point"]) == set(table1(frame)["Point"])  # rows that do not say: all kept
    frame["primary"] = (frame["method"] != "mip") | (frame["point"] == f"tau={TAUS[0]}")
    assert set(main_table(frame).query("Method == 'mip'")["Point"]) == {f"tau={TAUS[0]}"}


def test_a_fine_tuned_evaluation_beside_the_plain_one_counts_once_per_seed():
    frame = suite_frame()
    mip = frame[(frame["stage"] == "evaluate") & (frame["method"] == "mip")]
    frame = pd.concat([frame, mip.assign(finetuned_accuracy=0.99)], ignore_index=True)
    evidence = evaluate_claims(frame)[0].evidence
    assert evidence.loc[0, "seeds"] == 3 and evidence.loc[0, "dense (%)"] == "98.00 ± 0.10"


def test_points_where_neither_side_was_retrained_are_left_out_of_claim_4():
    """Tickets are retrained at the primary point only; the other points are not missing comparisons."""
    frame = suite_frame()
    frame.loc[frame["point"] == "match=mip", "point"] = f"match=mip@tau={MATCHED_TAU}"  # labelled as in a sweep
    extra = frame[(frame["stage"] == "evaluate") & (frame["point"] == f"match=mip@tau={MATCHED_TAU}")].assign(
        point="match=mip@tau=0.9")
    mip = frame[(frame["stage"] == "evaluate") & (frame["method"] == "mip") & (frame["point"] == f"tau={TAUS[0]}")]
    frame = pd.concat([frame, extra, mip.assign(point="tau=0.9", neurons_removed=0.3)], ignore_index=True)
    claim = evaluate_claims(frame)[3]
    assert claim.verdict == CONFIRMED and "tau=0.9" not in set(claim.evidence["point"])


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
