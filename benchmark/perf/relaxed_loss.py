"""Do the relaxed program's scores depend on its loss? The relaxed ce program beside the relaxed margin LP (each on
``solver = auto``) on the same trained network and batch, side by side in one run: per program its objective and
loss term, and between the two the largest score difference and how many units fall on different sides of the
threshold.

Instance: the committed regression fixture LeNet-5 (``benchmark/regression/frozen/lenet5-mnist.pt.gz``, trained
3 epochs on 6,000 MNIST images) and its batch at each ``--samples`` (beyond its 10 images, picked from its
validation split as the prune stage picks one), the paper's defaults otherwise (lambda 5, tau 0.2), one thread.
Run ``python -m benchmark.perf.relaxed_loss`` (``--out`` also writes the table as Markdown).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import score_network
from benchmark.perf.decoupled_instance import run, write_table
from benchmark.pipeline.experiment import load_data
from benchmark.regression.fixtures import load_fixture
from datasets import pick_one_per_class

TAU = 0.2  # the paper's threshold for LeNet-5 on the digit sets


def scores_of(model, inputs, labels, loss: str) -> tuple[torch.Tensor, float, float]:
    """The relaxed program's scores (all layers, in order), its objective and its seconds."""
    config = MIPConfig(loss=loss, relaxed=True, n_samples=len(labels), nlp_heuristics=False)
    result = score_network(model, inputs, labels, config, threshold=TAU)
    return torch.cat(list(result.scores.values())), result.solver.primal_bound, result.solver.solve_seconds


def main(argv: list[str] | None = None) -> None:
    """Both programs at each batch size; print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here, as Markdown")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    fixture = load_fixture("lenet5-mnist")
    lines = ["| N | ce objective | margin objective | ce s | margin s | largest score difference | "
             "units on different sides of tau | units pruned, ce / margin |", "|---|---|---|---|---|---|---|---|"]
    for n in args.samples:
        inputs, labels = fixture.inputs, fixture.labels
        if n > len(labels):
            inputs, labels, _ = pick_one_per_class(fixture.model, load_data(fixture.config, args.data_dir).val, n,
                                                   fixture.config.seed)
        ce, ce_objective, ce_seconds = scores_of(fixture.model, inputs[:n], labels[:n], "ce")
        margin, margin_objective, margin_seconds = scores_of(fixture.model, inputs[:n], labels[:n], "margin")
        differ = int(((ce < TAU) != (margin < TAU)).sum())
        lines.append(f"| {n} | {ce_objective:.6f} | {margin_objective:.6f} | {ce_seconds:.1f} | {margin_seconds:.1f} | "
                     f"{float((ce - margin).abs().max()):.3g} | {differ} / {len(ce)} | "
                     f"{int((ce < TAU).sum())} / {int((margin < TAU).sum())} |")
        print(lines[-1], flush=True)
    write_table("\n".join(lines), args.out)


if __name__ == "__main__":
    run(main)
