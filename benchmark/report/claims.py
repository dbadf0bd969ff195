"""The paper's four claims, each judged from the results frame with an explicit rule and its evidence rows.

Every verdict is computed from means over seeds. A claim is "not confirmed" as soon as one evidence row fails
its rule; "confirmed" only when every row passes and every comparison the claim names was measured; and
"not measured" otherwise (no rows, or a named comparison missing with nothing failing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.report.contract import KEYS, stage_rows
from benchmark.report.tables import in_reading_order, mean_std, pruning_per_seed, transfer_per_seed

CONFIRMED, NOT_CONFIRMED, NOT_MEASURED = "confirmed", "not confirmed", "not measured"
MARGINAL_PP = 1.0  # "marginal loss": at most this many percentage points below the reference
ABLATIONS = ("random", "critical")
BASELINES = ("snip", "magnitude", "lottery")
MATCHED = "match=mip"


@dataclass
class Claim:
    """One claim: what the paper says, how it is judged here, the verdict, and the rows behind it."""

    statement: str
    rule: str
    verdict: str
    evidence: pd.DataFrame
    missing: str = ""

    @property
    def gaps(self) -> str:
        """What was not measured: a named comparison without rows, no rows at all, or rows marked n/a."""
        if self.missing or self.evidence.empty:
            return self.missing or "no rows to judge"
        return "rows marked n/a lack a comparison" if (self.evidence["passes"] == "n/a").any() else ""


def verdict(passes: pd.Series, complete: bool) -> str:
    """Three-valued verdict from a column of ``"yes"``/``"no"``/``"n/a"`` (see the module docstring)."""
    if (passes == "no").any():
        return NOT_CONFIRMED
    if complete and len(passes) and (passes == "yes").all():
        return CONFIRMED
    return NOT_MEASURED


def points_above(better: pd.Series, worse: pd.Series) -> pd.Series:
    """``better - worse`` in percentage points, rounded to 1e-6 so that exactly 1 pp compares as 1 pp."""
    return ((better - worse) * 100).round(6)


def judged(condition: pd.Series, measured: pd.Series) -> pd.Series:
    """``"yes"``/``"no"`` where ``measured``, else ``"n/a"``."""
    return pd.Series(np.where(~measured, "n/a", np.where(condition, "yes", "no")), index=condition.index)


def summary(per_seed: pd.DataFrame, keys: list[str], columns: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per group of ``keys``: mean of each column (fractions) and a display table of mean ± std in %."""
    groups = per_seed.groupby(keys, sort=False)
    means = groups[list(columns)].mean().reset_index()
    shown = groups["seed"].nunique().rename("seeds").to_frame()
    for column, header in columns.items():
        shown[header] = groups[column].agg(mean_std)
    order = in_reading_order(means.assign(_row=range(len(means))), keys)["_row"]
    return means.iloc[order].reset_index(drop=True), shown.reset_index().iloc[order].reset_index(drop=True)


def marginal_loss(frame: pd.DataFrame) -> Claim:
    """Claim 1: MIP pruning keeps accuracy with marginal loss, without fine-tuning."""
    rows = stage_rows(frame, "evaluate").query("method == 'mip'")
    rows = rows[rows["primary"].ne(False)]  # the primary (paper's) point where rows say; a sweep trades accuracy
    rows = rows.groupby(list(KEYS), sort=False, as_index=False).first()  # one row per seed, fine-tuned or not
    means, shown = summary(rows, ["model", "dataset", "point"], {"dense_accuracy": "dense (%)",
                                                                  "pruned_accuracy": "MIP pruned (%)"})
    loss = points_above(means["dense_accuracy"], means["pruned_accuracy"])
    shown["loss (pp)"] = loss.round(2)
    shown["passes"] = judged(loss <= MARGINAL_PP, loss.notna())
    return Claim("MIP pruning keeps accuracy with marginal loss, without fine-tuning.",
                 f"The MIP at its primary operating point (the paper's λ and τ) loses at most {MARGINAL_PP:g} "
                 "percentage point of mean test accuracy "
                 "against the dense network, without fine-tuning (Table 1, method mip).",
                 verdict(shown["passes"], complete=True), shown)


def matched_comparison(per_seed: pd.DataFrame, accuracy: str, methods: tuple[str, ...]) -> pd.DataFrame:
    """Rows of ``methods`` at ``match=mip`` beside the MIP row (same model, dataset, seed, neuron fraction)."""
    mip = per_seed.query("method == 'mip'")[["model", "dataset", "seed", "point", "neurons_removed", accuracy]]
    others = per_seed[per_seed["method"].isin(methods) & per_seed["point"].str.startswith(MATCHED)]
    reference = others["point"].map(lambda p: p.partition("@")[2].partition("[")[0])  # "match=mip@tau=0.3[...]"
    pairs = others.assign(reference=reference).drop(columns="point").merge(
        mip, on=["model", "dataset", "seed"], suffixes=("", "_mip"))
    same_point = (pairs["reference"] == "") | (pairs["reference"] == pairs["point"])
    same_counts = np.isclose(pairs["neurons_removed"].astype(float), pairs["neurons_removed_mip"].astype(float))
    return pairs[same_point & same_counts].drop(columns="reference").rename(
        columns={accuracy: "baseline", f"{accuracy}_mip": "mip"})


def against_methods(frame: pd.DataFrame, accuracy: str, methods: tuple[str, ...], strictly_better: bool,
                    statement: str, rule: str) -> Claim:
    """The MIP's mean ``accuracy`` beats ``methods`` at its counts (``strictly_better``) or is marginally below."""
    pairs = matched_comparison(pruning_per_seed(frame), accuracy, methods)
    pairs = pairs.dropna(subset=["mip", "baseline"], how="all")  # points where neither side was measured
    means, shown = summary(pairs, ["model", "dataset", "point", "method"], {"mip": "MIP (%)",
                                                                             "baseline": "baseline (%)"})
    margin = points_above(means["mip"], means["baseline"])
    shown["MIP - baseline (pp)"] = margin.round(2)
    shown["passes"] = judged(margin > 0 if strictly_better else margin >= -MARGINAL_PP, margin.notna())
    absent = [method for method in methods if method not in set(pairs["method"])]
    missing = f"no {', '.join(absent)} rows at {MATCHED} paired with a MIP row" if absent else ""
    return Claim(statement, rule, verdict(shown["passes"], complete=not absent), shown, missing)


def transfer(frame: pd.DataFrame) -> Claim:
    """Claim 3: MIP tickets rewound to θ₀ transfer about as well as dense training and better than random masks."""
    per_seed = transfer_per_seed(frame).query("method == 'mip' and dataset != target_dataset")
    means, shown = summary(per_seed, ["model", "dataset", "target_dataset", "point"], {
        "ticket": "MIP ticket (%)", "dense": "dense on target (%)", "random": "random mask (%)"})
    gap, lead = points_above(means["ticket"], means["dense"]), points_above(means["ticket"], means["random"])
    shown["ticket - dense (pp)"], shown["ticket - random (pp)"] = gap.round(2), lead.round(2)
    shown["passes"] = judged((gap >= -MARGINAL_PP) & (lead > 0), gap.notna() & lead.notna())
    shown.loc[gap.lt(-MARGINAL_PP) | lead.le(0), "passes"] = "no"
    return Claim("MIP masks rewound to θ₀ transfer to other datasets about as well as dense training, and better "
                 "than random masks with the same per-layer counts.",
                 f"On every source → target pair, the retrained MIP ticket is at most {MARGINAL_PP:g} percentage "
                 "point below the dense network trained on the target, and above the random-mask control "
                 "(Table 2, method mip).", verdict(shown["passes"], complete=True), shown)


def evaluate_claims(frame: pd.DataFrame) -> list[Claim]:
    """All four claims, judged from ``frame``."""
    return [
        marginal_loss(frame),
        against_methods(frame, "pruned_accuracy", ABLATIONS, True,
                        "MIP importance scores beat random and 'critical' (highest-score) ablations that prune "
                        "the same number of neurons per layer.",
                        "Without fine-tuning, the MIP's mean accuracy is strictly above that of random and "
                        f"critical at point {MATCHED} (Table 1), for every model, dataset and MIP point."),
        transfer(frame),
        against_methods(frame, "retrained_accuracy", BASELINES, False,
                        "The MIP is competitive with SNIP, magnitude pruning and IMP (lottery) at matched neuron "
                        "sparsity.",
                        f"Rewound to θ₀ and retrained, the MIP ticket is at most {MARGINAL_PP:g} percentage point "
                        f"below snip, magnitude and lottery tickets at point {MATCHED} (Table 1, retrained column)."),
    ]
