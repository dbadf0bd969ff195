"""Synthetic results frames for the report and claim tests: three seeds of every stage, each value ± 0.1 pp by
default, with the same offset on every value of a seed (so paired differences are equal on every seed)."""

from __future__ import annotations

import math

import pandas as pd

SEEDS = (0, 1, 2)
TAUS = (0.1, 0.2, 0.3, 0.4, 0.5)
MATCHED_TAU = 0.3  # the MIP point whose per-layer counts the match=mip baselines copy


def row(stage, method="dense", point="", seed=0, dataset="mnist", **metrics) -> dict:
    return {"stage": stage, "status": "ok", "model": "fc3", "dataset": dataset, "seed": seed, "method": method,
            "point": point, **metrics}


def suite_frame(mip_pruned=0.975, ablation=0.90, mip_retrained=0.97, baseline_retrained=0.95, ticket=0.87,
                random_mask=0.85, dense_target=0.875, ablations=("random", "critical"),
                baselines=("snip", "magnitude", "lottery"), controls=("ticket", "random"), matched_removed=0.3,
                seeds=SEEDS, spread=0.001, noise=0.0):
    """Per seed s, every value is its mean plus (s - 1) * ``spread`` (by default -0.1, 0, +0.1 pp on the three
    ``seeds``, so every std is 0.10), and the MIP's own accuracies (pruned, retrained, ticket) a further
    (s - 1) * ``noise``: over the three seeds, every paired MIP difference has a sample std of ``noise`` * 100 pp."""
    rows = []
    for seed in seeds:
        jitter, mip = (seed - 1) * spread, (seed - 1) * (spread + noise)
        rows += [row("train", seed=seed, test_accuracy=0.98 + jitter, parameters=1000, units=100),
                 row("train", seed=seed, dataset="fashion-mnist", test_accuracy=dense_target + jitter,
                     parameters=1000, units=100)]
        for i, tau in enumerate(TAUS):
            removed = dict(neurons_removed=tau, params_removed=tau + 0.1)
            rows += [row("evaluate", "mip", f"tau={tau}", seed, dense_accuracy=0.98 + jitter,
                         pruned_accuracy=mip_pruned + mip - 0.001 * i, finetuned_accuracy=math.nan,
                         solve_seconds=2.0 + seed, binaries=10 * (i + 1), units=100, **removed),
                     row("retrain", "mip", f"tau={tau}", seed, retrained_accuracy=mip_retrained + mip, **removed)]
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
            accuracy = {"ticket": ticket + mip, "random": random_mask + jitter}[control]
            rows.append(row("transfer", "mip", f"tau={MATCHED_TAU}", seed, target_dataset="fashion-mnist",
                            transfer_accuracy=accuracy, control=control, neurons_removed=0.3,
                            params_removed=0.4))
    return pd.DataFrame(rows)


def cells(table: pd.DataFrame, **where) -> dict:
    selected = table
    for column, value in where.items():
        selected = selected[selected[column] == value]
    assert len(selected) == 1
    return selected.iloc[0].to_dict()
