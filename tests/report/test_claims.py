"""The four claims judged from synthetic results frames by paired intervals over seeds: confirmed, refuted,
inconclusive, short of seeds and not measured, with the evidence and headline behind each."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.report.claims import (
    CONFIRMED,
    INCONCLUSIVE,
    INSUFFICIENT,
    NOT_MEASURED,
    REFUTED,
    STATISTICS,
    claim_verdict,
    evaluate_claims,
    interval,
    points_above,
)
from tests.report_frames import MATCHED_TAU, SEEDS, TAUS, suite_frame

INTERVAL = "95% interval (pp)"


def verdicts(frame: pd.DataFrame) -> list[str]:
    return [claim.verdict for claim in evaluate_claims(frame)]


def test_every_claim_confirmed_by_a_suite_that_supports_it():
    assert verdicts(suite_frame()) == [CONFIRMED] * 4
    assert verdicts(suite_frame(baseline_retrained=0.975)) == [CONFIRMED] * 4  # 0.5 pp behind is competitive


def test_exactly_one_point_below_counts_as_one_point():
    assert (0.98 - 0.97) * 100 > 1.0 and points_above(pd.Series([0.98]), pd.Series([0.97])).tolist() == [1.0]
    assert verdicts(suite_frame(baseline_retrained=0.98))[3] == CONFIRMED  # MIP − baseline: exactly −1 pp


@pytest.mark.parametrize("claim, changes", [
    (0, dict(mip_pruned=0.965)),  # 1.5 pp below dense at tau=0.1
    (1, dict(ablation=0.99)),  # an ablation beats the MIP
    (1, dict(ablation=0.975)),  # an ablation 0.2 pp above the MIP: close, but the MIP must beat it
    (1, dict(ablation=0.973)),  # a tie on every seed: the MIP is not strictly better
    (2, dict(ticket=0.86)),  # 1.5 pp below the dense network trained on the target
    (2, dict(random_mask=0.871)),  # the random mask transfers better than the ticket
    (3, dict(baseline_retrained=0.985)),  # 1.5 pp behind the baselines
])
def test_each_claim_is_refuted_by_numbers_against_it(claim, changes):
    found = verdicts(suite_frame(**changes))
    assert found[claim] == REFUTED
    assert found[:claim] + found[claim + 1:] == [CONFIRMED] * 3


def test_a_difference_within_the_seed_noise_is_inconclusive():
    """The FC-3 case: the ticket beats the random mask by +0.03 pp, but the per-seed differences spread by 0.5 pp."""
    steady = suite_frame(random_mask=0.8697)
    assert verdicts(steady)[2] == CONFIRMED  # +0.03 pp on every seed: the interval is the point itself
    noisy = suite_frame(random_mask=0.8697, noise=0.005)
    assert verdicts(noisy) == [INCONCLUSIVE, CONFIRMED, INCONCLUSIVE, CONFIRMED]  # 7.3 and 2.0 pp clear 1.24
    transfer = evaluate_claims(noisy)[2].evidence.set_index("reference")
    assert transfer["verdict"].to_dict() == {"dense on target": INCONCLUSIVE, "random mask": INCONCLUSIVE}


def test_the_interval_is_the_paired_t_interval():
    differences = np.array([1.0, 2.0, 4.0])
    half = stats.t.ppf(0.975, 2) * differences.std(ddof=1) / math.sqrt(3)
    low, high = interval(3, differences.mean(), differences.std(ddof=1))
    assert (low, high) == pytest.approx((7 / 3 - half, 7 / 3 + half), abs=1e-6) and half == pytest.approx(3.7947, 1e-4)
    assert np.isnan(interval(2, 1.0, 0.5)).all()  # two seeds give no interval


def test_the_evidence_shows_the_interval_computed_by_hand():
    """Ticket − random mask per seed: 0.03 + (-0.5, 0, +0.5) pp, so mean 0.03 and sample std 0.5 over 3 seeds."""
    half = stats.t.ppf(0.975, 2) * 0.5 / math.sqrt(3)
    bounds = f"[{0.03 - half:.2f}, {0.03 + half:.2f}]".replace("-", "−")
    claim = evaluate_claims(suite_frame(random_mask=0.8697, noise=0.005))[2]
    row = claim.evidence.set_index("reference").loc["random mask"]
    assert (row["seeds"], row["ticket − reference (pp)"], row[INTERVAL]) == (3, 0.03, bounds) == (3, 0.03,
                                                                                                  "[−1.21, 1.27]")
    # the deciding row: the inconclusive one reaching lowest against its margin (−1.21 below 0; −1.74 is 0.74 below −1)
    assert claim.headline == f"ticket − random mask: 0.03 pp {bounds}, 3 seeds (fc3/mnist→fashion-mnist tau=0.3)"


def test_seeds_are_paired_so_a_shared_seed_effect_cancels():
    """Each seed moves both sides by up to ±5 pp; the MIP leads every ablation by 0.3 pp on every seed."""
    frame = suite_frame(mip_pruned=0.80, ablation=0.795, spread=0.05)  # the MIP at tau=0.3: 0.80 − 0.002
    claim = evaluate_claims(frame)[1]
    assert claim.verdict == CONFIRMED and set(claim.evidence[INTERVAL]) == {"[0.30, 0.30]"}
    evaluate = frame[frame["stage"] == "evaluate"]
    mip = evaluate.query(f"method == 'mip' and point == 'tau={MATCHED_TAU}'")["pruned_accuracy"] * 100
    unpaired = stats.ttest_ind(mip, evaluate.query("method == 'random'")["pruned_accuracy"] * 100)
    assert unpaired.confidence_interval().low < 0  # unpaired, the interval would straddle 0


@pytest.mark.parametrize("seeds", [(0,), (0, 1)])
def test_fewer_than_three_seeds_are_insufficient(seeds):
    claims = evaluate_claims(suite_frame(seeds=seeds))
    assert [claim.verdict for claim in claims] == [INSUFFICIENT] * 4
    assert set(claims[0].evidence["seeds"]) == {len(seeds)} and set(claims[0].evidence[INTERVAL]) == {"–"}
    plural = "s" * (len(seeds) > 1)
    assert claims[0].headline == f"MIP − dense: −0.90 pp, no interval from {len(seeds)} seed{plural} " \
                                 "(fc3/mnist tau=0.5)"
    assert verdicts(suite_frame(seeds=seeds, mip_pruned=0.90)) == [INSUFFICIENT] * 4  # nor refutes


def test_one_row_short_of_seeds_holds_back_the_claim():
    frame = suite_frame(noise=0.005)  # claim 1's rows are inconclusive
    short = (frame["stage"] == "evaluate") & (frame["method"] == "mip") & (frame["point"] == f"tau={TAUS[0]}")
    assert verdicts(frame)[0] == INCONCLUSIVE
    assert verdicts(frame[~(short & (frame["seed"] == SEEDS[-1]))])[0] == INSUFFICIENT


@pytest.mark.parametrize("rows, complete, expected", [
    ([CONFIRMED, CONFIRMED], True, CONFIRMED),
    ([CONFIRMED, INCONCLUSIVE], True, INCONCLUSIVE),
    ([INCONCLUSIVE, INSUFFICIENT], True, INSUFFICIENT),
    ([INSUFFICIENT, NOT_MEASURED], True, NOT_MEASURED),
    ([CONFIRMED], False, NOT_MEASURED),
    ([], True, NOT_MEASURED),
    ([REFUTED, NOT_MEASURED, INSUFFICIENT], False, REFUTED),
])
def test_a_claims_verdict_from_its_rows(rows, complete, expected):
    assert claim_verdict(pd.Series(rows, dtype=object), complete) == expected


@pytest.mark.parametrize("claim, changes", [
    (1, dict(ablations=("random",))),  # critical never run
    (1, dict(matched_removed=0.35)),  # no MIP row removes the same neurons, so nothing to pair with
    (2, dict(controls=("ticket",))),  # no random-mask control
    (3, dict(baselines=("snip", "magnitude"))),  # IMP never run
])
def test_a_claim_missing_its_comparison_is_not_measured(claim, changes):
    claims = evaluate_claims(suite_frame(**changes))
    assert claims[claim].verdict == NOT_MEASURED and claims[claim].gaps
    assert claims[claim].headline == claims[claim].gaps
    assert not claims[0].gaps  # the MIP's own rows are all there


@pytest.mark.parametrize("claim, changes", [
    (1, dict(ablation=0.99, ablations=("random",))),
    (2, dict(ticket=0.86, controls=("ticket",))),
    (3, dict(baseline_retrained=0.985, baselines=("snip",))),
])
def test_a_failing_row_refutes_even_when_a_comparison_is_missing(claim, changes):
    assert verdicts(suite_frame(**changes))[claim] == REFUTED


def test_transfer_claim_ignores_retraining_on_the_source_itself():
    frame = suite_frame()
    same_dataset = frame[frame["stage"] == "transfer"].assign(target_dataset="mnist", transfer_accuracy=0.5)
    claims = evaluate_claims(pd.concat([frame, same_dataset]))
    assert claims[2].verdict == CONFIRMED and set(claims[2].evidence["target_dataset"]) == {"fashion-mnist"}


def test_claims_of_an_empty_frame_are_not_measured():
    claims = evaluate_claims(pd.DataFrame())
    assert [c.verdict for c in claims] == [NOT_MEASURED] * 4
    assert [c.gaps for c in claims] == ["no rows to judge", "no random, critical rows at match=mip paired with a MIP "
                                        "row", "no rows to judge", "no snip, magnitude, lottery rows at match=mip "
                                        "paired with a MIP row"]


def test_claim_evidence_shows_the_rows_and_margins():
    marginal, ablations, transfer, baselines = evaluate_claims(suite_frame())
    first = marginal.evidence.iloc[0]
    assert (first["point"], first["seeds"], first["MIP − dense (pp)"], first[INTERVAL], first["verdict"]) == (
        "tau=0.1", 3, -0.5, "[−0.50, −0.50]", CONFIRMED)
    assert set(ablations.evidence["method"]) == {"random", "critical"}
    assert set(ablations.evidence["point"]) == {f"tau={MATCHED_TAU}"}
    assert ablations.evidence["MIP − baseline (pp)"].tolist() == [7.3, 7.3]  # 97.30 at tau=0.3 vs 90.00
    assert transfer.evidence[["reference", "ticket − reference (pp)"]].values.tolist() == [
        ["dense on target", -0.5], ["random mask", 2.0]]
    assert baselines.evidence["MIP − baseline (pp)"].tolist() == [2.0, 2.0, 2.0]
    assert marginal.headline == "MIP − dense: −0.90 pp [−0.90, −0.90], 3 seeds (fc3/mnist tau=0.5)"  # the weakest


def test_rules_are_worded_as_rules_and_the_method_is_documented():
    assert all(claim.rule.startswith("Passes when") for claim in evaluate_claims(suite_frame()))
    assert "paired t interval" in STATISTICS and "fewer than 3" in STATISTICS


def test_marginal_loss_is_judged_at_the_primary_point_when_rows_say_which():
    """A sweep trades accuracy on purpose at its far points; the paper's claim is about its own setting."""
    frame = suite_frame()
    far = frame["point"] == f"tau={TAUS[-1]}"
    frame.loc[far & (frame["method"] == "mip"), "pruned_accuracy"] = 0.5  # 48 pp lost at the far point
    assert verdicts(frame)[0] == REFUTED
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


def test_the_matched_point_columns_pair_rows_whatever_their_label_says():
    """Rows written since the operating point has columns pair by ``matched`` and ``matched_point``; the label is
    only for display (here it names neither the method nor the point)."""
    frame = suite_frame()
    matched = frame["point"] == "match=mip"
    frame["matched"], frame["matched_point"] = "", ""
    frame.loc[matched, ["point", "matched", "matched_point"]] = ["copied counts", "mip", f"tau={MATCHED_TAU}"]
    other = (frame["method"] == "mip") & (frame["point"] == f"tau={TAUS[0]}")
    frame.loc[other, ["neurons_removed", "pruned_accuracy"]] = [MATCHED_TAU, 0.5]  # same counts, far worse
    claim = evaluate_claims(frame)[1]
    assert claim.verdict == CONFIRMED and set(claim.evidence["point"]) == {f"tau={MATCHED_TAU}"}
    frame.loc[matched, "matched"] = "magnitude"  # matched to another method: no pairs with the MIP
    assert evaluate_claims(frame)[1].verdict != CONFIRMED


def test_a_fine_tuned_evaluation_beside_the_plain_one_counts_once_per_seed():
    frame = suite_frame(noise=0.001)  # differences 0.1 pp apart, so a seed counted twice would narrow the interval
    mip = frame[(frame["stage"] == "evaluate") & (frame["method"] == "mip")]
    frame = pd.concat([frame, mip.assign(finetuned_accuracy=0.99)], ignore_index=True)
    evidence = evaluate_claims(frame)[0].evidence
    assert evidence.loc[0, "seeds"] == 3 and evidence.loc[0, "dense (%)"] == "98.00 ± 0.10"
    assert evidence.loc[0, INTERVAL] == evaluate_claims(suite_frame(noise=0.001))[0].evidence.loc[0, INTERVAL]


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


def stopped_run(status: str, removed: float) -> pd.DataFrame:
    """The suite with seed 0's MIP run at the matched point marked with solver ``status`` and ``removed``; where it
    pruned nothing its accuracy is the dense start's, as is its baselines' that copy its counts."""
    frame = suite_frame()
    run = (frame["seed"] == SEEDS[0]) & (frame["point"] == f"tau={MATCHED_TAU}") & (frame["stage"] == "evaluate")
    frame.loc[run, "solver.status"] = status
    frame.loc[run, "neurons_removed"] = removed
    if removed == 0:
        copies = (frame["seed"] == SEEDS[0]) & (frame["point"] == "match=mip")
        frame.loc[run | copies, "pruned_accuracy"] = frame.loc[run, "dense_accuracy"].iloc[0]
        frame.loc[copies, "neurons_removed"] = 0.0
    return frame


def test_a_solver_limit_that_pruned_nothing_is_left_out_and_counted():
    claims = evaluate_claims(stopped_run("gaplimit", 0.0))
    assert [claim.verdict for claim in claims] == [INSUFFICIENT] * 4  # the matched point keeps 2 seeds that ran
    assert all(claim.gaps.endswith("1 MIP run left out: the solver stopped at a limit and pruned nothing")
               for claim in claims)
    assert claims[0].evidence.set_index("point").loc[f"tau={MATCHED_TAU}", "seeds"] == 2


@pytest.mark.parametrize("status, removed", [("gaplimit", MATCHED_TAU), ("optimal", 0.0)])
def test_a_run_that_pruned_or_solved_is_kept(status, removed):
    claims = evaluate_claims(stopped_run(status, removed))
    assert claims[0].evidence.set_index("point").loc[f"tau={MATCHED_TAU}", "seeds"] == 3
    assert not any(claim.excluded for claim in claims) and not claims[0].gaps
