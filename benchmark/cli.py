"""The ``ticketbench`` command line. Thin: it parses, calls the library, and prints.

Every user error (unknown name, bad setting, missing or corrupt data, solver failure) is printed as one
line, ``ticketbench: error: ...``, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import sys

from benchmark import commands
from benchmark.cli_args import add_config_arguments
from benchmark.config import TrainConfig
from benchmark.errors import USER_ERRORS
from benchmark.mip.config import PRESETS, MIPConfig


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all sub-commands."""
    parser = argparse.ArgumentParser(prog="ticketbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="quick real demo: train LeNet-5 on MNIST, score it with the MIP")
    demo.add_argument("--data-dir", help="data root (default: $TICKETBENCH_DATA, then the user cache)")
    demo.add_argument("--epochs", type=int, default=1)
    demo.set_defaults(func=commands.demo)

    train = sub.add_parser("train", help="train (or load from the cache) a dense model")
    train.add_argument("--data-dir")
    add_config_arguments(train, TrainConfig)
    train.set_defaults(func=commands.train)

    score = sub.add_parser("score", help="score a trained model with the MIP and report the pruned network")
    score.add_argument("--data-dir")
    score.add_argument("--preset", choices=list(PRESETS), default="paper")
    score.add_argument("--export", help="write the MIP instance to this .cip/.mps/.lp file before solving")
    score.add_argument("--finetune-epochs", type=int, default=0, help="fine-tune the pruned weights")
    score.add_argument("--retrain-epochs", type=int, default=0, help="retrain the ticket from theta_0 under the mask")
    add_config_arguments(score, TrainConfig)
    add_config_arguments(score, MIPConfig)
    score.set_defaults(func=commands.score)

    prune = sub.add_parser("prune", help="prune a trained model with any registered method")
    prune.add_argument("method", help="a method name (see: ticketbench list methods)")
    prune.add_argument("--data-dir")
    prune.add_argument("--granularity", choices=["neuron", "weight"], default="neuron")
    prune.add_argument("--sparsity", type=float, help="fraction of units (or weights) to remove")
    prune.add_argument("--scope", choices=["layer", "global"], default="layer")
    prune.add_argument("--match", metavar="METHOD", help="match the per-layer counts of METHOD's mask (e.g. mip)")
    prune.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="method option, e.g. norm=l1, prune_fraction=0.2, rewind_iteration=100")
    prune.add_argument("--finetune-epochs", type=int, default=0, help="fine-tune the pruned weights")
    prune.add_argument("--retrain-epochs", type=int, default=0, help="retrain the ticket from theta_0 under the mask")
    add_config_arguments(prune, TrainConfig)
    prune.set_defaults(func=commands.prune)

    listing = sub.add_parser("list", help="list models, datasets or methods")
    listing.add_argument("what", choices=["models", "datasets", "methods"])
    listing.set_defaults(func=commands.list_things)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m benchmark``."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except USER_ERRORS as exc:
        print(f"ticketbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ticketbench: interrupted", file=sys.stderr)
        return 130
    return 0
