"""The four claims judged from synthetic results frames: confirmed, refuted and not measured, with evidence."""

from __future__ import annotations

import pandas as pd
import pytest
from report_frames import MATCHED_TAU, TAUS, suite_frame

from benchmark.report.claims import CONFIRMED, NOT_CONFIRMED, NOT_MEASURED, evaluate_claims, points_above


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
