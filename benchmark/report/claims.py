"""The paper's four claims, each judged from the results frame by a statistical test over seeds.

Every evidence row pairs the two sides it compares by seed and puts a 95% paired t interval on the mean
per-seed difference in percentage points; the row is confirmed, refuted, inconclusive or short of seeds by where
that interval lies against the claim's margin, and the claim's verdict is aggregated from its rows. The method, in
the words the report prints, is :data:`STATISTICS`; the margins are in each claim's ``rule``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.core.paper import ABLATIONS, BASELINES, PAPER_METHOD
from benchmark.report.contract import KEYS, dense_start_kept, stage_rows
from benchmark.report.tables import in_reading_order, mean_std, pruning_per_seed, transfer_per_seed

CONFIRMED, REFUTED, INCONCLUSIVE = "confirmed", "refuted", "inconclusive"
INSUFFICIENT, NOT_MEASURED = "insufficient seeds", "not measured"
PRECEDENCE = (REFUTED, NOT_MEASURED, INSUFFICIENT, INCONCLUSIVE, CONFIRMED)  # the first one among a claim's rows
CONFIDENCE = 0.95
MIN_SEEDS = 3  # fewer paired seeds give no interval
MARGINAL_PP = 1.0  # "marginal loss": at most this many percentage points below the reference
MATCHED = f"match={PAPER_METHOD}"
INTERNAL = ["_gap", "_headline"]  # columns of a judged table that feed the headline, not the evidence
STATISTICS = (
    "Each evidence row pairs its two sides by seed (the dense and the pruned network of one seed; the MIP and "
    "a baseline at the same seed and per-layer counts; a ticket and the dense or random-mask network on the target "
    "at the same seed) and takes the per-seed differences in percentage points (pp). Their mean gets a two-sided "
    f"{CONFIDENCE:.0%} paired t interval, mean ± t(0.975, n − 1) · s / √n over the n paired seeds (s the sample "
    "standard deviation; t(0.975, 2) = 4.30, so three seeds give a wide interval). A row is confirmed when the "
    "whole interval lies on the passing side of the claim's margin, refuted when it lies wholly on the failing side, "
    f"inconclusive when it straddles the margin, and short of seeds (no interval) with fewer than {MIN_SEEDS} "
    "paired seeds. A claim is refuted when any row is; not measured when it has no rows, misses a comparison it "
    "names, or has a row with no paired seed; otherwise it has insufficient seeds when any row has, is "
    "inconclusive when any row is, and is confirmed only when every row is. MIP runs whose solver stopped at a "
    "limit having pruned nothing (it kept the dense start) did not prune: they are left out of every claim, "
    "and each claim counts those it left out."
)
WHERE = "{model}/{dataset} {point}"


@dataclass
class Claim:
    """One claim: what the paper says, the rule that judges it, the verdict, the rows behind it, and a headline:
    the deciding row's difference, interval and seeds (the row with the claim's verdict whose interval sits lowest
    against its margin), or the gaps when no row decides."""

    statement: str
    rule: str
    verdict: str
    evidence: pd.DataFrame
    missing: str = ""
    excluded: int = 0  # MIP runs left out: the solver stopped at a limit having pruned nothing
    headline: str = ""

    @property
    def gaps(self) -> str:
        """What was not measured or left out: a named comparison without rows, no rows at all, rows with no paired
        seed, and the MIP runs left out for stopping at a solver limit having pruned nothing."""
        if self.missing or self.evidence.empty:
            reason = self.missing or "no rows to judge"
        else:
            unpaired = (self.evidence["verdict"] == NOT_MEASURED).any()
            reason = "rows marked not measured lack a comparison" if unpaired else ""
        runs = f"{self.excluded} MIP run{'s' * (self.excluded > 1)}" if self.excluded else ""
        left_out = f"{runs} left out: the solver stopped at a limit and pruned nothing" if runs else ""
        return "; ".join(part for part in (reason, left_out) if part)


@dataclass(frozen=True)
class Comparison:
    """Per seed, ``a − b`` in pp, which passes when above ``threshold`` (or at it, when ``inclusive``). ``a`` and
    ``b`` are (per-seed column, word in the tables); ``versus`` names ``b`` in the headline and ``where`` the row,
    both with the row's keys as placeholders."""

    a: tuple[str, str]
    b: tuple[str, str]
    threshold: float
    inclusive: bool
    versus: str
    where: str = WHERE

    def passes(self, difference):
        """Whether ``difference`` (pp; a number or a Series) is on the passing side of the margin."""
        return difference >= self.threshold if self.inclusive else difference > self.threshold


def points_above(better: pd.Series, worse: pd.Series) -> pd.Series:
    """``better - worse`` in percentage points, rounded to 1e-6 so that exactly 1 pp compares as 1 pp."""
    return ((better - worse) * 100).round(6)


def interval(seeds, mean, std) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided :data:`CONFIDENCE` paired t interval (low, high) of a mean difference over ``seeds`` paired
    seeds with sample std ``std`` (numbers or arrays alike), rounded to 1e-6; NaN below :data:`MIN_SEEDS` seeds."""
    seeds, mean, std = (np.asarray(values, dtype=float) for values in (seeds, mean, std))
    quantile = stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(seeds, MIN_SEEDS) - 1)
    half = np.where(seeds >= MIN_SEEDS, quantile * std / np.sqrt(np.maximum(seeds, 1)), np.nan)
    return np.round(mean - half, 6), np.round(mean + half, 6)


def row_verdicts(seeds: pd.Series, low: pd.Series, high: pd.Series, comparison: Comparison) -> np.ndarray:
    """Per row: not measured without a paired seed, insufficient seeds below :data:`MIN_SEEDS`, confirmed when
    the whole interval passes, refuted when it wholly fails, inconclusive otherwise."""
    conditions = [seeds == 0, seeds < MIN_SEEDS, comparison.passes(low), ~comparison.passes(high)]
    return np.select(conditions, [NOT_MEASURED, INSUFFICIENT, CONFIRMED, REFUTED], INCONCLUSIVE)


def signed(value: float) -> str:
    """``value`` with two decimals and a true minus sign."""
    return f"{value:.2f}".replace("-", "−")


def bracket(low: float, high: float) -> str:
    """``"[−0.61, −0.09]"``, or ``"–"`` where there is no interval."""
    return "–" if np.isnan(low) else f"[{signed(low)}, {signed(high)}]"


def row_headline(row: dict, comparison: Comparison) -> str:
    """One evidence row in a line: the difference, its interval and seeds, and where it was measured."""
    versus = f"{comparison.a[1]} − {comparison.versus.format(**row)}"
    seeds = f"{row['seeds']} seed{'s' * (row['seeds'] != 1)}"
    span = bracket(row["low"], row["high"])
    detail = f" {span}, {seeds}" if row["seeds"] >= MIN_SEEDS else f", no interval from {seeds}"
    return f"{versus}: {signed(row['mean'])} pp{detail} ({comparison.where.format(**row)})"


def judge(per_seed: pd.DataFrame, keys: list[str], comparison: Comparison) -> pd.DataFrame:
    """One evidence row per group of ``keys``: the seeds where both sides were measured, each side's mean ± std over
    those seeds, the mean difference and its interval in pp, the row verdict, and the :data:`INTERNAL` columns."""
    (a, a_word), (b, b_word) = comparison.a, comparison.b
    difference = points_above(per_seed[a], per_seed[b])
    paired = per_seed.assign(**{a: per_seed[a].where(difference.notna()), b: per_seed[b].where(difference.notna()),
                                "difference": difference})
    groups = paired.groupby(keys, sort=False)
    table = groups["difference"].agg(["count", "mean", "std"]).rename(columns={"count": "seeds"})
    table["low"], table["high"] = interval(table["seeds"], table["mean"], table["std"])
    shown = table[["seeds"]].copy()
    shown[f"{a_word} (%)"], shown[f"{b_word} (%)"] = groups[a].agg(mean_std), groups[b].agg(mean_std)
    shown[f"{a_word} − {b_word} (pp)"] = table["mean"].round(2)
    shown[f"{CONFIDENCE:.0%} interval (pp)"] = [bracket(low, high) for low, high in zip(table["low"], table["high"])]
    shown["verdict"] = row_verdicts(table["seeds"], table["low"], table["high"], comparison)
    shown["_gap"] = table["low"].fillna(table["mean"]) - comparison.threshold
    rows = table.reset_index().to_dict("records")
    shown["_headline"] = [row_headline(row, comparison) for row in rows]
    return in_reading_order(shown.reset_index(), keys)


def claim_verdict(rows: pd.Series, complete: bool) -> str:
    """The claim's verdict from its rows' (see :data:`STATISTICS`): the first of :data:`PRECEDENCE` among them,
    with not measured added when the claim misses a comparison or has no rows."""
    found = set(rows) | (set() if complete and len(rows) else {NOT_MEASURED})
    return next(verdict for verdict in PRECEDENCE if verdict in found)


def make_claim(statement: str, rule: str, judged: pd.DataFrame, missing: str = "", excluded: int = 0) -> Claim:
    """The claim judged from its rows, with the headline of the deciding row."""
    verdict = claim_verdict(judged["verdict"], complete=not missing)
    claim = Claim(statement, rule, verdict, judged.drop(columns=INTERNAL), missing, excluded)
    deciding = judged[judged["verdict"] == verdict].sort_values("_gap", kind="stable")
    claim.headline = claim.gaps if verdict == NOT_MEASURED else deciding["_headline"].iloc[0]
    return claim


def limit_runs(frame: pd.DataFrame) -> pd.MultiIndex:
    """The :data:`KEYS` of MIP runs whose solver stopped at a limit (``solver.status`` ``"timelimit"``,
    ``"gaplimit"``, ...) having pruned nothing, so that the evaluation is the dense start's."""
    rows = stage_rows(frame, "evaluate")
    return pd.MultiIndex.from_frame(rows.loc[dense_start_kept(rows), list(KEYS)])


def that_ran(rows: pd.DataFrame, frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``rows`` without those of :func:`limit_runs` in ``frame``, and how many such runs that left out."""
    left_out = pd.MultiIndex.from_frame(rows[list(KEYS)]).isin(limit_runs(frame))
    return rows[~left_out], len(rows.loc[left_out, list(KEYS)].drop_duplicates())


def marginal_loss(frame: pd.DataFrame) -> Claim:
    """Claim 1: MIP pruning keeps accuracy with marginal loss, without fine-tuning."""
    rows = stage_rows(frame, "evaluate")
    rows = rows[rows["method"].eq(PAPER_METHOD)]
    rows = rows[rows["primary"].ne(False)]  # the primary (paper's) point where rows say; a sweep trades accuracy
    rows = rows.groupby(list(KEYS), sort=False, as_index=False).first()  # one row per seed, fine-tuned or not
    rows, excluded = that_ran(rows, frame)
    comparison = Comparison(("pruned_accuracy", "MIP"), ("dense_accuracy", "dense"), -MARGINAL_PP, True, "dense")
    return make_claim("MIP pruning keeps accuracy with marginal loss, without fine-tuning.",
                      "Passes when, at the MIP's primary operating point (the paper's λ and τ) and without "
                      f"fine-tuning, the interval of MIP − dense (the same seed's network) lies at or above "
                      f"−{MARGINAL_PP:g} pp, a loss of at most {MARGINAL_PP:g} point, for every model and dataset "
                      f"(Table 1, method {PAPER_METHOD}); fails when it lies below −{MARGINAL_PP:g} pp for one.",
                      judge(rows, ["model", "dataset", "point"], comparison), excluded=excluded)


def matched_comparison(per_seed: pd.DataFrame, accuracy: str, methods: tuple[str, ...]) -> pd.DataFrame:
    """Rows of ``methods`` at :data:`MATCHED` beside the MIP row (same model, dataset, seed, neuron fraction),
    the MIP's accuracy in column ``subject`` and theirs in ``baseline``."""
    mip = per_seed[per_seed["method"].eq(PAPER_METHOD)]
    mip = mip[["model", "dataset", "seed", "point", "neurons_removed", accuracy]]
    others = per_seed[per_seed["method"].isin(methods) & per_seed["matched"].eq(PAPER_METHOD)]
    pairs = others.drop(columns="point").merge(mip, on=["model", "dataset", "seed"], suffixes=("", "_paper"))
    same_point = pairs["matched_point"].fillna("").eq("") | pairs["matched_point"].eq(pairs["point"])
    same_counts = np.isclose(pairs["neurons_removed"].astype(float), pairs["neurons_removed_paper"].astype(float))
    return pairs[same_point & same_counts].rename(columns={accuracy: "baseline", f"{accuracy}_paper": "subject"})


def against_methods(frame: pd.DataFrame, accuracy: str, methods: tuple[str, ...], strictly_better: bool,
                    statement: str, rule: str) -> Claim:
    """MIP − each of ``methods`` in ``accuracy`` at its counts: above 0 pp (``strictly_better``) or at or above
    −:data:`MARGINAL_PP`."""
    per_seed, excluded = that_ran(pruning_per_seed(frame), frame)
    pairs = matched_comparison(per_seed, accuracy, methods)
    pairs = pairs.dropna(subset=["subject", "baseline"], how="all")  # points where neither side was measured
    comparison = Comparison(("subject", "MIP"), ("baseline", "baseline"), 0.0 if strictly_better else -MARGINAL_PP,
                            not strictly_better, "{method}")
    absent = [method for method in methods if method not in set(pairs["method"])]
    missing = f"no {', '.join(absent)} rows at {MATCHED} paired with a MIP row" if absent else ""
    return make_claim(statement, rule, judge(pairs, ["model", "dataset", "point", "method"], comparison), missing,
                      excluded)


def transfer(frame: pd.DataFrame) -> Claim:
    """Claim 3: MIP tickets rewound to θ₀ transfer about as well as dense training and better than random masks."""
    per_seed = transfer_per_seed(frame)
    per_seed = per_seed[per_seed["method"].eq(PAPER_METHOD) & per_seed["dataset"].ne(per_seed["target_dataset"])]
    per_seed, excluded = that_ran(per_seed, frame)
    keys = ["model", "dataset", "target_dataset", "point", "reference"]
    where = "{model}/{dataset}→{target_dataset} {point}"
    halves = [judge(per_seed.assign(reference=name, versus=per_seed[column]), keys,
                    Comparison(("ticket", "ticket"), ("versus", "reference"), threshold, inclusive, name, where))
              for column, name, threshold, inclusive in (("dense", "dense on target", -MARGINAL_PP, True),
                                                         ("random", "random mask", 0.0, False))]
    return make_claim("MIP masks rewound to θ₀ transfer to other datasets about as well as dense training, and "
                      "better than random masks with the same per-layer counts.",
                      "Passes when, on every source → target pair (Table 2, method "
                      f"{PAPER_METHOD}), the interval of ticket − "
                      f"dense on target (the dense network trained on the target, same seed) lies at or above "
                      f"−{MARGINAL_PP:g} pp and that of ticket − random mask (the same per-layer counts rewound to "
                      "the same θ₀) lies above 0 pp; fails when either lies wholly on the other side for one pair.",
                      in_reading_order(pd.concat(halves, ignore_index=True), keys), excluded=excluded)


def evaluate_claims(frame: pd.DataFrame) -> list[Claim]:
    """All four claims, judged from ``frame``."""
    return [
        marginal_loss(frame),
        against_methods(frame, "pruned_accuracy", ABLATIONS, True,
                        "MIP importance scores beat random and 'critical' (highest-score) ablations that prune "
                        "the same number of neurons per layer.",
                        "Passes when, without fine-tuning, the interval of MIP − random and of MIP − critical (at "
                        f"point {MATCHED}: the same seed and neurons removed) lies above 0 pp for every model, "
                        "dataset and MIP point (Table 1); fails when it lies at or below 0 pp for one."),
        transfer(frame),
        against_methods(frame, "retrained_accuracy", BASELINES, False,
                        "The MIP is competitive with SNIP, magnitude pruning and IMP (lottery) at matched neuron "
                        "sparsity.",
                        "Passes when, rewound to θ₀ and retrained, the interval of MIP − snip, magnitude and "
                        f"lottery tickets (at point {MATCHED}: the same seed and neurons removed) lies at or above "
                        f"−{MARGINAL_PP:g} pp for every model, dataset and MIP point (Table 1, retrained column); "
                        f"fails when it lies below −{MARGINAL_PP:g} pp for one."),
    ]
