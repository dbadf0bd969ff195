"""``ticketbench results``: the stored results exported."""

from __future__ import annotations

import argparse
import sys

from benchmark.cli.commands.common import store_root
from benchmark.store import StoreError
from benchmark.store.export import export_results
from benchmark.store.frame import load_results


def results(args: argparse.Namespace) -> None:
    """``ticketbench results``: the store (or one suite) as CSV, Parquet, JSON or Markdown; nothing to export, or
    Parquet (binary) without ``--output``, is a one-line error."""
    if args.format == "parquet" and args.output is None:
        raise StoreError("parquet is a binary format: give --output FILE")
    frame = load_results(store_root(args), args.suite)
    if frame.empty:
        which = f"of suite {args.suite!r} " if args.suite else ""
        raise StoreError(f"no results {which}in the store {store_root(args)}")
    out = export_results(frame, args.format, args.output)
    if args.output is None:
        sys.stdout.write(out)
