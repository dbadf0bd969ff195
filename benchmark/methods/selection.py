"""Turning per-unit scores into masks: shared by every method, so methods only score.

* :func:`threshold_mask` keeps units scoring at least ``tau`` (the MIP's rule).
* :func:`top_k_mask` keeps the highest-scored entries at a global or per-layer sparsity, or exactly the
  per-layer counts of a reference mask (matched sparsity).

No rule ever empties a layer: at least its best entry is kept, and the layers where that guard fired
are reported.
"""

from __future__ import annotations

import torch

Scores = dict[str, torch.Tensor]


def _guard(keep: torch.Tensor, scores: torch.Tensor) -> bool:
    """Keep the best entry of an otherwise empty layer; True if the guard fired."""
    if keep.any():
        return False
    keep.view(-1)[int(torch.argmax(scores.reshape(-1)))] = True
    return True


def threshold_mask(scores: Scores, tau: float) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Keep ``score >= tau``; returns the mask and the layers where the empty-layer guard fired."""
    mask, guarded = {}, []
    for name, s in scores.items():
        mask[name] = s >= tau
        if _guard(mask[name], s):
            guarded.append(name)
    return mask, guarded


def top_k_mask(scores: Scores, sparsity: float | None = None, counts: dict[str, int] | None = None,
               scope: str = "layer", total: int | None = None) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Keep the highest scores: ``counts[name]`` per layer, or ``total`` entries ranked across layers, else
    remove ``sparsity`` of all entries, ranked within each layer (``scope="layer"``) or across layers
    (``scope="global"``). Ties break by position."""
    if counts is None:
        if total is None and scope == "global":
            n = sum(s.numel() for s in scores.values())
            total = n - int(round(sparsity * n))
        if total is not None:
            counts = _global_counts(scores, total)
        else:
            counts = {name: s.numel() - int(round(sparsity * s.numel())) for name, s in scores.items()}
    mask, guarded = {}, []
    for name, s in scores.items():
        keep = torch.zeros(s.numel(), dtype=torch.bool)
        keep[torch.argsort(s.reshape(-1).double(), descending=True, stable=True)[:counts[name]]] = True
        mask[name] = keep.view(s.shape)
        if _guard(mask[name], s):
            guarded.append(name)
    return mask, guarded


def _global_counts(scores: Scores, total: int) -> dict[str, int]:
    """Per layer, how many of the ``total`` highest scores across all layers it holds."""
    flat = torch.cat([s.reshape(-1).double() for s in scores.values()])
    kept = torch.zeros(flat.numel(), dtype=torch.bool)
    kept[torch.argsort(flat, descending=True, stable=True)[:total]] = True
    return {name: int(part.sum()) for name, part in zip(scores, kept.split([s.numel() for s in scores.values()]))}
