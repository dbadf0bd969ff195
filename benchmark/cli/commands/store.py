"""``ticketbench store check`` and ``ticketbench store repair``."""

from __future__ import annotations

import argparse

from benchmark.cli.commands.common import store_root
from benchmark.store.repair import check_store, repair_store


def store_check(args: argparse.Namespace) -> int:
    """``ticketbench store check``: every row read and every artifact checked against its digest; what is damaged,
    one line each (exit status 1), or that nothing is (0)."""
    root = store_root(args)
    damaged = check_store(root)
    for line in damaged:
        print(line)
    if damaged:
        print(f"{len(damaged)} damaged; repair with: ticketbench store repair --store {root}")
        return 1
    print(f"store {root}: nothing damaged")
    return 0


def store_repair(args: argparse.Namespace) -> None:
    """``ticketbench store repair``: salvage a damaged database and drop damaged rows, to be recomputed."""
    root = store_root(args)
    for line in repair_store(root) or [f"store {root}: nothing to repair"]:
        print(line)
