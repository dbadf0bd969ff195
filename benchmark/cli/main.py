"""The ``ticketbench`` command line. Thin: it parses, calls the library, and prints.

Every user or environment error (unknown name, bad setting, missing or corrupt data, solver failure, a full
disk or an unwritable place, a damaged store) is printed as one line, ``ticketbench: error: ...``, with exit
status 2 and no traceback. Only the named command's arguments are built (:mod:`benchmark.cli.parsers`), so
``ticketbench --help`` and ``ticketbench list methods`` load no torch.
"""

from __future__ import annotations

import argparse
import logging
import pkgutil
import sys

from benchmark.cli import parsers as cli_parsers
from benchmark.core import errors
from benchmark.core.log import cli_logging
from benchmark.core.plugins import method_entry_points
from benchmark.report import ReportError
from benchmark.store import StoreError

COMMANDS = {
    "run": ("run a suite: every stage missing from the store", cli_parsers.add_run),
    "report": ("tables, plots, claims and report.html of a suite", cli_parsers.add_report),
    "results": ("export stored results", cli_parsers.add_results),
    "train": ("train (or load from the cache) a dense model", cli_parsers.add_train),
    "prune": ("prune a trained model with a method, and evaluate it", cli_parsers.add_prune),
    "score": ("short for: prune mip", cli_parsers.add_score),
    "export": ("write a stored neuron ticket, compacted, as a state dict, its architecture and a torch.export "
               "program (loadable without ticketbench)", cli_parsers.add_export),
    "store": ("check the results store against its digests, or repair it", cli_parsers.add_store),
    "baseline": ("the regression records (a checkout's results/baselines/): check or update them",
                 cli_parsers.add_baseline),
    "list": ("list models, datasets, methods or preset suites", cli_parsers.add_list),
}


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage stays available with --help)."""

    def error(self, message: str):
        """Print ``prog: error: message`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def command_of(argv: list[str]) -> str | None:
    """The sub-command ``argv`` names: its first word that is not a flag (the top level's flags take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every sub-command with its one-line help, and the arguments of ``command`` only
    (``score`` only where the ``mip`` method is installed)."""
    parser = Parser(prog="ticketbench", description=__doc__.splitlines()[0])
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", dest="log_level", action="store_const", const=logging.DEBUG,
                           default=logging.INFO, help="also log details (default: progress, warnings, errors)")
    verbosity.add_argument("-q", "--quiet", dest="log_level", action="store_const", const=logging.WARNING,
                           help="log only warnings and errors, no progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (text, add_arguments) in COMMANDS.items():
        if name == "score" and "mip" not in method_entry_points():
            continue
        child = sub.add_parser(name, help=text)
        if name == command:
            add_arguments(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m benchmark``."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(command_of(argv))
    except errors.TicketbenchError as exc:  # a method plug-in that fails to load
        return fail(exc)
    args = parser.parse_args(argv)
    with cli_logging(args.log_level):
        return run_command(args)


def fail(exc: Exception) -> int:
    """Print ``ticketbench: error: <exc>`` on standard error; the exit status 2."""
    print(f"ticketbench: error: {exc}", file=sys.stderr)
    return 2


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command's function (``args.func``, ``"module:function"``, imported now) on
    ``--torch-threads`` threads where the command has the flag. User errors become one line and exit status 2
    (the dataset layer's errors are looked up only once an error is raised: their package loads torch)."""
    try:
        if hasattr(args, "torch_threads"):
            from benchmark.nn.threads import configure_threads

            configure_threads(cores=args.torch_threads)
        return pkgutil.resolve_name(args.func)(args) or 0
    except KeyboardInterrupt:
        print("ticketbench: interrupted; finished stages are stored", file=sys.stderr)
        return 130
    except (*errors.USER_ERRORS, StoreError, ReportError) as exc:
        return fail(exc)
