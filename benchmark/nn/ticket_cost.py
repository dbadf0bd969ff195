"""What a ticket costs to run: its compacted size, multiply-accumulates, and CPU speed against the dense network.

The speed-ups are measured with ``torch.utils.benchmark`` on one torch thread, the dense and the compacted network
timed in alternation within one call (so a busy machine slows both alike), each round's ratio of median times
kept and the median round reported: latency at batch 1 and throughput at batch 256.
"""

from __future__ import annotations

import statistics

import torch
from torch import nn

from benchmark.nn.compact import compact, count_macs
from benchmark.nn.models import count_parameters

BATCHES = {"latency_speedup_b1": 1, "throughput_speedup_b256": 256}


def _median_seconds(model: nn.Module, x: torch.Tensor, min_run_time: float) -> float:
    from torch.utils import benchmark

    timer = benchmark.Timer("with torch.no_grad(): model(x)", globals={"model": model, "x": x, "torch": torch},
                            num_threads=1)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def speedups(dense: nn.Module, compacted: nn.Module, input_shape: tuple[int, ...], rounds: int = 3,
             min_run_time: float = 0.05, seed: int = 0) -> dict[str, float]:
    """Dense time / compacted time at batch 1 (latency) and 256 (throughput), one torch thread, measured side
    by side: ``rounds`` alternations, the median of the per-round ratios."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key, batch in BATCHES.items():
        x = torch.rand((batch,) + tuple(input_shape), generator=generator)
        ratios = [_median_seconds(dense.eval(), x, min_run_time) / _median_seconds(compacted.eval(), x, min_run_time)
                  for _ in range(rounds)]
        out[key] = statistics.median(ratios)
    return out


def ticket_cost(model: nn.Module, mask: dict[str, torch.Tensor], input_shape: tuple[int, ...],
                timed: bool = True, **timing) -> dict:
    """The compacted ticket's parameters and MACs beside the dense network's, the units the mask kept but
    compaction removed (``dead_units``), and (``timed``) the measured speed-ups (:func:`speedups`, which takes
    ``timing``: rounds, min_run_time)."""
    compacted = compact(model, mask, input_shape)
    cost = {"compacted_parameters": count_parameters(compacted.model), "dense_parameters": count_parameters(model),
            "macs": count_macs(compacted.model, input_shape), "dense_macs": count_macs(model, input_shape),
            "dead_units": sum(compacted.dead.values()), "widths": compacted.widths}
    if timed:
        cost.update(speedups(model, compacted.model, input_shape, **timing))
    return cost
