"""The arguments of each ``ticketbench`` sub-command. :mod:`benchmark.cli.main` calls only the named command's
function, so the modules a command's choices, defaults and help come from (torch for devices and threads, the
method plug-ins for ``prune``) load only for that command. Each names the function that runs it as
``"module:function"`` (``func``), imported only to run it, not to show its help.
"""

from __future__ import annotations

import argparse

from benchmark.cli.args import add_config_arguments

DATA_HELP = "data root (default: $TICKETBENCH_DATA, then the user cache; see README, Data)"
STORE_HELP = "results store directory (default: <cache>/store; $TICKETBENCH_CACHE moves the cache)"
BASELINES_HELP = ("the regression records, a checkout's results/baselines (default: $TICKETBENCH_BASELINES, "
                  "else results/baselines under the current directory)")


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags every command that computes takes: data root, store and torch threads."""
    from benchmark.nn.threads import default_threads

    parser.add_argument("--data-dir", help=DATA_HELP)
    parser.add_argument("--store", help=STORE_HELP)
    parser.add_argument("--torch-threads", type=int, default=default_threads(), metavar="N",
                        help="torch threads of this process (default: %(default)s; raise on a machine of your own)")


def add_device(parser: argparse.ArgumentParser) -> None:
    """The ``--device`` flag of the commands that train, evaluate or take gradients."""
    from benchmark.nn.device import DEVICES

    parser.add_argument("--device", choices=DEVICES,
                        help="where training, evaluation, fine-tuning, retraining, transfer and SNIP's gradients "
                             "run: auto (CUDA when torch sees a GPU), cpu or cuda; the MIP always runs on the CPU "
                             "(default: a suite's device, else cpu)")


def add_prune_arguments(parser: argparse.ArgumentParser, method) -> None:
    """The common and device flags, and the target, budget, training and method-option flags of ``prune METHOD``."""
    from benchmark.core.config import TrainConfig

    add_common(parser)
    add_device(parser)
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
    parser.set_defaults(func="benchmark.cli.commands.prune:prune", method=method.name)


def add_run(parser: argparse.ArgumentParser) -> None:
    """``run SUITE``."""
    add_common(parser)
    add_device(parser)
    parser.add_argument("suite", help="a preset suite (see: ticketbench list suites) or a suite file")
    parser.add_argument("--executor", choices=["local", "dask", "inline"], default="local",
                        help="where stages run: a local process pool, Dask, or this process (default: local)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: %(default)s)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (with --executor dask)")
    parser.add_argument("--dry-run", action="store_true", help="list the stages and estimate the time; run nothing")
    parser.add_argument("--out", metavar="DIR", help="write the report to DIR/<suite>/, replacing what is there "
                        "(default: <cache>/reports/<suite>/)")
    parser.set_defaults(func="benchmark.cli.commands.suite:run")


def add_report(parser: argparse.ArgumentParser) -> None:
    """``report SUITE``."""
    add_common(parser)
    parser.add_argument("suite", help="a preset suite or a suite file")
    parser.add_argument("--out", metavar="DIR", help="write the report to DIR/<suite>/, replacing what is there "
                        "(default: <cache>/reports/<suite>/; --out results for the checkout's results/<suite>/)")
    parser.set_defaults(func="benchmark.cli.commands.suite:report")


def add_results(parser: argparse.ArgumentParser) -> None:
    """``results``."""
    from benchmark.store.export import FORMATS

    add_common(parser)
    parser.add_argument("--suite", help="only this suite's results")
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="output format")
    parser.add_argument("--output", metavar="FILE",
                        help="write to this file instead of standard output (needed for parquet)")
    parser.set_defaults(func="benchmark.cli.commands.results:results")


def add_train(parser: argparse.ArgumentParser) -> None:
    """``train``."""
    from benchmark.core.config import TrainConfig

    add_common(parser)
    add_device(parser)
    add_config_arguments(parser, TrainConfig, title="training (paper defaults per dataset)")
    parser.set_defaults(func="benchmark.cli.commands.prune:train")


def add_prune(parser: argparse.ArgumentParser) -> None:
    """``prune METHOD``: one sub-command per method plug-in (all of them loaded)."""
    from benchmark.methods import available_methods

    per_method = parser.add_subparsers(dest="method", required=True, metavar="METHOD")
    for name, cls in available_methods().items():
        add_prune_arguments(per_method.add_parser(name, help=cls.description), cls)


def add_score(parser: argparse.ArgumentParser) -> None:
    """``score``: ``prune mip``."""
    from benchmark.methods import available_methods

    add_prune_arguments(parser, available_methods()["mip"])


def add_export(parser: argparse.ArgumentParser) -> None:
    """``export SUITE``."""
    add_common(parser)
    parser.add_argument("suite", help="the suite that stored the ticket (a preset or a suite file)")
    parser.add_argument("--method", default="mip", help="the pruning method (default: %(default)s)")
    parser.add_argument("--point", help="the operating point, as the tables label it (default: the primary one)")
    parser.add_argument("--model", help="the model, when the suite has several")
    parser.add_argument("--dataset", help="the dataset, when the suite has several")
    parser.add_argument("--seed", type=int, help="the seed, when the suite has several")
    parser.add_argument("--out", required=True, help="output folder")
    parser.set_defaults(func="benchmark.cli.commands.export:export")


def add_store(parser: argparse.ArgumentParser) -> None:
    """``store check`` and ``store repair``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="read every row and check every artifact against the digest stored "
                               "with its row; list what is damaged (exit status 1 if anything is)")
    check.add_argument("--store", help=STORE_HELP)
    check.set_defaults(func="benchmark.cli.commands.store:store_check")
    repair = actions.add_parser("repair", help="salvage a damaged database into a fresh one (keeping the old "
                                "file) and drop damaged rows, so that the next run recomputes them")
    repair.add_argument("--store", help=STORE_HELP)
    repair.set_defaults(func="benchmark.cli.commands.store:store_repair")


def add_baseline(parser: argparse.ArgumentParser) -> None:
    """``baseline check`` and ``baseline update [--yes]``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="rerun the regression configurations and compare them with the "
                               "records as CI does; print what is off (exit status 1 if anything is)")
    update = actions.add_parser("update", help="rerun the regression configurations and print the diff "
                                "against the records; write them only with --yes")
    for action, func in ((check, "check_command"), (update, "update_command")):
        action.add_argument("--data-dir", help=DATA_HELP)
        action.add_argument("--baselines", metavar="DIR", help=BASELINES_HELP)
        action.set_defaults(func=f"benchmark.regression.update:{func}")
    update.add_argument("--yes", action="store_true", help="write the new records (default: only print the diff)")


def add_list(parser: argparse.ArgumentParser) -> None:
    """``list WHAT``."""
    from benchmark.cli.commands.listing import LISTS

    parser.add_argument("what", choices=list(LISTS))
    parser.set_defaults(func="benchmark.cli.commands.listing:list_things")
