"""The ``ticketbench`` command line. Thin: it parses, calls the library, and prints.

Every user or environment error (unknown name, bad setting, missing or corrupt data, solver failure, a full
disk or an unwritable place, a damaged store) is printed as one line, ``ticketbench: error: ...``, with exit
status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import sys

from benchmark import commands
from benchmark.cli_args import add_config_arguments
from benchmark.config import TrainConfig
from benchmark.device import DEVICES
from benchmark.errors import USER_ERRORS
from benchmark.methods import available_methods
from benchmark.regression.update import baseline_command
from benchmark.report import ReportError
from benchmark.store import StoreError
from benchmark.store.export import FORMATS
from benchmark.threads import configure_threads, default_threads

DATA_HELP = "data root (default: $TICKETBENCH_DATA, then the user cache; see README, Data)"
STORE_HELP = "results store directory (default: <cache>/store; $TICKETBENCH_CACHE moves the cache)"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage stays available with --help)."""

    def error(self, message: str):
        """Print ``prog: error: message`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def common_options() -> argparse.ArgumentParser:
    """Flags every command that computes takes: data root, store and torch threads."""
    parent = Parser(add_help=False)
    parent.add_argument("--data-dir", help=DATA_HELP)
    parent.add_argument("--store", help=STORE_HELP)
    parent.add_argument("--torch-threads", type=int, default=default_threads(), metavar="N",
                        help="torch threads of this process (default: %(default)s; raise on a machine of your own)")
    return parent


def device_options() -> argparse.ArgumentParser:
    """The ``--device`` flag of the commands that train, evaluate or take gradients."""
    parent = Parser(add_help=False)
    parent.add_argument("--device", choices=DEVICES,
                        help="where training, evaluation, fine-tuning, retraining, transfer and SNIP's gradients "
                             "run: auto (CUDA when torch sees a GPU), cpu or cuda; the MIP always runs on the CPU "
                             "(default: a suite's device, else cpu)")
    return parent


def add_prune_arguments(parser: argparse.ArgumentParser, method) -> None:
    """The target, budget, training and method-option flags of ``prune METHOD``."""
    parser.add_argument("--granularity", choices=method.granularities, default=method.granularities[0],
                        help="prune whole units (neurons, filters) or single weights")
    parser.add_argument("--sparsity", type=float, help="fraction of units (or weights) to remove, in [0, 1)")
    parser.add_argument("--scope", choices=["layer", "global"], default="layer",
                        help="rank per layer or across layers (with --sparsity)")
    parser.add_argument("--threshold", type=float, help="keep units scoring at least this, in [0, 1] "
                        "(the MIP's rule; default for the MIP: the paper's threshold for model and dataset)")
    parser.add_argument("--match", metavar="METHOD", help="keep exactly METHOD's per-layer counts (e.g. mip)")
    parser.add_argument("--match-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the --match method, e.g. loss=margin (repeatable)")
    parser.add_argument("--finetune-epochs", type=int, default=0, help="also fine-tune the pruned weights")
    parser.add_argument("--retrain-epochs", type=int, default=0,
                        help="also retrain the ticket from its rewind point (theta_0, or theta_k) under the mask")
    add_config_arguments(parser, TrainConfig, title="training (paper defaults per dataset)")
    if hasattr(method, "Options"):
        add_config_arguments(parser, method.Options, title=f"{method.name} options")
    if hasattr(method.Options if hasattr(method, "Options") else None, "preset"):
        parser.add_argument("--preset", choices=["paper", "reference-code"],
                            help="formulation preset; flags given override it")
    parser.set_defaults(func=commands.prune, method=method.name)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all sub-commands."""
    parser = Parser(prog="ticketbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common, device = common_options(), device_options()

    run = sub.add_parser("run", parents=[common, device], help="run a suite: every stage missing from the store")
    run.add_argument("suite", help="a preset suite (see: ticketbench list suites) or a suite file")
    run.add_argument("--executor", choices=["local", "dask", "inline"], default="local",
                     help="where stages run: a local process pool, Dask, or this process (default: local)")
    run.add_argument("--workers", type=int, default=2, help="worker processes (default: %(default)s)")
    run.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (with --executor dask)")
    run.add_argument("--dry-run", action="store_true", help="list the stages and estimate the time; run nothing")
    run.add_argument("--out", metavar="DIR", help="write the report to DIR/<suite>/, replacing what is there "
                     "(default: <cache>/reports/<suite>/)")
    run.set_defaults(func=commands.run)

    report = sub.add_parser("report", parents=[common], help="tables, plots, claims and report.html of a suite")
    report.add_argument("suite", help="a preset suite or a suite file")
    report.add_argument("--out", metavar="DIR", help="write the report to DIR/<suite>/, replacing what is there "
                        "(default: <cache>/reports/<suite>/; --out results for the checkout's results/<suite>/)")
    report.set_defaults(func=commands.report)

    results = sub.add_parser("results", parents=[common], help="export stored results")
    results.add_argument("--suite", help="only this suite's results")
    results.add_argument("--format", choices=FORMATS, default="markdown", help="output format")
    results.add_argument("--output", metavar="FILE",
                         help="write to this file instead of standard output (needed for parquet)")
    results.set_defaults(func=commands.results)

    train = sub.add_parser("train", parents=[common, device], help="train (or load from the cache) a dense model")
    add_config_arguments(train, TrainConfig, title="training (paper defaults per dataset)")
    train.set_defaults(func=commands.train)

    methods = available_methods()
    prune = sub.add_parser("prune", help="prune a trained model with a method, and evaluate it")
    per_method = prune.add_subparsers(dest="method", required=True, metavar="METHOD")
    for name, cls in methods.items():
        add_prune_arguments(per_method.add_parser(name, parents=[common, device], help=cls.description), cls)
    if "mip" in methods:
        add_prune_arguments(sub.add_parser("score", parents=[common, device], help="short for: prune mip"),
                            methods["mip"])

    export = sub.add_parser("export", parents=[common], help="write a stored neuron ticket, compacted, as a state "
                            "dict, its architecture and a torch.export program (loadable without ticketbench)")
    export.add_argument("suite", help="the suite that stored the ticket (a preset or a suite file)")
    export.add_argument("--method", default="mip", help="the pruning method (default: %(default)s)")
    export.add_argument("--point", help="the operating point, as the tables label it (default: the primary one)")
    export.add_argument("--model", help="the model, when the suite has several")
    export.add_argument("--dataset", help="the dataset, when the suite has several")
    export.add_argument("--seed", type=int, help="the seed, when the suite has several")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(func=commands.export)

    store = sub.add_parser("store", help="check the results store against its digests, or repair it")
    store_actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = store_actions.add_parser("check", help="read every row and check every artifact against the digest "
                                     "stored with its row; list what is damaged (exit status 1 if anything is)")
    check.add_argument("--store", help=STORE_HELP)
    check.set_defaults(func=commands.store_check)
    repair = store_actions.add_parser("repair", help="salvage a damaged database into a fresh one (keeping the old "
                                      "file) and drop damaged rows, so that the next run recomputes them")
    repair.add_argument("--store", help=STORE_HELP)
    repair.set_defaults(func=commands.store_repair)

    baseline = sub.add_parser("baseline", help="the regression records in results/baselines/")
    baseline_actions = baseline.add_subparsers(dest="action", required=True, metavar="ACTION")
    update = baseline_actions.add_parser("update", help="rerun the regression configurations and print the diff "
                                         "against results/baselines/; write them only with --yes")
    update.add_argument("--data-dir", help=DATA_HELP)
    update.add_argument("--yes", action="store_true", help="write the new records (default: only print the diff)")
    update.set_defaults(func=baseline_command)

    listing = sub.add_parser("list", help="list models, datasets, methods or preset suites")
    listing.add_argument("what", choices=["models", "datasets", "methods", "suites"])
    listing.set_defaults(func=commands.list_things)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m benchmark``."""
    args = build_parser().parse_args(argv)
    configure_threads(cores=getattr(args, "torch_threads", None) or default_threads())
    try:
        return args.func(args) or 0
    except (*USER_ERRORS, StoreError, ReportError) as exc:
        print(f"ticketbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ticketbench: interrupted; finished stages are stored", file=sys.stderr)
        return 130
