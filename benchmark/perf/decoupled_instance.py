"""The instance the decoupled-MIP benchmarks share: a DGL-trained VGG-16 with its own heads, its command-line
arguments, and the writing of a benchmark's Markdown table."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from benchmark.core.config import TrainConfig
from benchmark.core.errors import USER_ERRORS
from benchmark.mip.config import PROPAGATIONS, MIPConfig
from benchmark.mip.decoupled import fitted_heads
from benchmark.nn.device import configure_device, resolve_device
from benchmark.nn.threads import configure_threads
from benchmark.pipeline.experiment import load_data
from benchmark.pipeline.model_cache import TrainedModel, get_trained
from datasets import DataSplits


@dataclass
class Instance:
    """The trained network, its data splits, the sub-MIPs' settings and heads, and the device it trained on."""

    train: TrainConfig
    trained: TrainedModel
    splits: DataSplits
    config: MIPConfig
    heads: nn.ModuleList
    device: str

    def describe(self) -> str:
        """One line naming the instance, for a benchmark's table."""
        program = f"{self.config.loss} {'relaxed' if self.config.relaxed else 'exact'}"
        return (f"VGG-16 width/{self.train.width_divisor} DGL-trained {self.train.epochs} epochs on "
                f"{self.train.train_limit or 'all'} {self.train.dataset} images ({self.device}), "
                f"N={self.config.n_samples}, {program}, block_bounds {self.config.block_bounds}, "
                f"{self.config.bound_propagation} bounds")


def add_arguments(parser: argparse.ArgumentParser, width_divisor: int, epochs: int, train_limit: int) -> None:
    """The instance's flags (with a benchmark's defaults), and --out."""
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--width-divisor", type=int, default=width_divisor)
    parser.add_argument("--epochs", type=int, default=epochs, help="DGL training epochs of the instance's network")
    parser.add_argument("--train-limit", type=int, default=train_limit, help="training images (0: all)")
    parser.add_argument("--block-bounds", default="network", choices=("network", "local"))
    parser.add_argument("--bound-propagation", default="interval", choices=PROPAGATIONS,
                        help="how the sub-MIPs' bounds (and the network's at each block input) are propagated")
    parser.add_argument("--samples", type=int, default=10, help="images per sub-MIP batch (N)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here, as Markdown")


def load_instance(args: argparse.Namespace, **options) -> Instance:
    """Train (on ``--device``) or load the instance; ``options`` are the sub-MIPs' settings beyond the paper's
    (ce loss, relaxed, no NLP heuristics). One torch thread."""
    configure_threads(cores=1)
    device = resolve_device(args.device)
    configure_device(device)
    train = TrainConfig.paper("vgg16", args.dataset, epochs=args.epochs, width_divisor=args.width_divisor,
                              train_limit=args.train_limit)
    splits = load_data(train, args.data_dir)
    trained = get_trained(train, splits, device=device)
    config = MIPConfig(loss="ce", relaxed=True, decoupled=True, nlp_heuristics=False, block_bounds=args.block_bounds,
                       bound_propagation=args.bound_propagation, n_samples=args.samples, **options).for_seed(train.seed)
    heads, _ = fitted_heads(trained.model, trained.heads, splits.train, config, train.seed)
    return Instance(train, trained, splits, config, heads, device)


def write_table(text: str, out: Path | None) -> None:
    """Print a benchmark's table and write it to ``out`` when given."""
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


def run(main) -> None:
    """Run a benchmark's ``main``: a data, configuration or solver error ends it with one line, not a traceback."""
    try:
        main()
    except USER_ERRORS as error:
        raise SystemExit(f"error: {error}") from None
