"""Speed of compacted MIP tickets against the dense network, FC-3 and LeNet-5, on one torch thread.

For each model: train on the MNIST slice of the regression suites (3 epochs, 6,000 images; the fixture slice with
``--data-dir tests/fixtures/data``), score it with the MIP (margin loss, the paper's tau, 10 images), compact the
ticket and time it side by side with the dense network (:func:`benchmark.nn.ticket_cost.speedups`): latency at
batch 1 and throughput at batch 256, as ratios. Parameters and multiply-accumulates are counted.
Run ``python -m benchmark.perf.compact_speedup [--data-dir DIR] [--rounds 5] [--out FILE.md]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmark.core.config import TrainConfig
from benchmark.core.paper import paper_threshold
from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import score_network
from benchmark.nn.threads import configure_threads
from benchmark.nn.ticket_cost import ticket_cost
from benchmark.pipeline import experiment

MODELS = ("fc3", "lenet5")


def measure(model_name: str, data_dir: str | None, rounds: int) -> dict:
    """Train, score, compact and time one model's MIP ticket; its cost row."""
    config = TrainConfig.paper(model_name, "mnist", epochs=3, train_limit=6000)
    exp = experiment.prepare(config, data_dir)
    model = exp.trained.model.eval()
    inputs, labels = exp.batch
    tau = paper_threshold(model_name, "mnist")
    result = score_network(model, inputs, labels, MIPConfig(loss="margin", time_limit=120.0), tau)
    cost = ticket_cost(model, result.mask, tuple(inputs.shape[1:]), rounds=rounds, min_run_time=0.2)
    return {"model": model_name, "tau": tau, **cost}


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| model | tau | units kept | parameters (dense → compacted) | MACs (dense → compacted) | "
             "latency speed-up, batch 1 | throughput speed-up, batch 256 |", "|---|---|---|---|---|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['tau']:g} | {row['widths']} | {row['dense_parameters']:,d} → "
                     f"{row['compacted_parameters']:,d} | {row['dense_macs']:,d} → {row['macs']:,d} | "
                     f"{row['latency_speedup_b1']:.2f}× | {row['throughput_speedup_b256']:.2f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every model and print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    configure_threads(cores=1)
    torch.manual_seed(0)
    table = markdown([measure(name, args.data_dir, args.rounds) for name in MODELS])
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
