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
               scope: str = "layer") -> tuple[dict[str, torch.Tensor], list[str]]:
    """Keep the highest scores: ``counts[name]`` per layer, else remove ``sparsity`` of all entries, ranked
    within each layer (``scope="layer"``) or across layers (``scope="global"``). Ties break by position."""
    if counts is None:
        if scope == "global":
            flat = torch.cat([s.reshape(-1).double() for s in scores.values()])
            n_keep = flat.numel() - int(round(sparsity * flat.numel()))
            kept = torch.zeros(flat.numel(), dtype=torch.bool)
            kept[torch.argsort(flat, descending=True, stable=True)[:n_keep]] = True
            counts, start = {}, 0
            for name, s in scores.items():
                counts[name] = int(kept[start:start + s.numel()].sum())
                start += s.numel()
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
