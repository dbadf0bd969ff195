"""Start-up cost of the command line beside ``python -c "import torch"``, measured in one run.

Each command runs ``--repeats`` times as a fresh process, in turn, with its output discarded; a run's CPU time
is the user + system seconds the child used (``resource.getrusage(RUSAGE_CHILDREN)`` before and after), its wall
time the clock around it. The table gives the medians and their ratios to ``import torch``. CPU seconds are the
figure to compare on a shared machine: wall time also counts waiting for the cores. The goals (issue 17): under
1 s for ``ticketbench --help``, under 2 s for ``ticketbench list methods``.
Run ``python -m benchmark.perf.cli_startup [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmark.store.export import markdown_table

REFERENCE = 'python -c "import torch"'


def commands() -> dict[str, list[str]]:
    """The measured command lines by label: the console script beside this Python, and ``import torch``."""
    script = shutil.which("ticketbench", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                               os.environ.get("PATH", "")]))
    if script is None:
        raise SystemExit("cli_startup: no ticketbench console script beside this Python or on PATH")
    return {"ticketbench --help": [script, "--help"],
            "ticketbench list methods": [script, "list", "methods"],
            "ticketbench run --help": [script, "run", "--help"],
            REFERENCE: [sys.executable, "-c", "import torch"]}


def timed(argv: list[str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def measure(repeats: int) -> pd.DataFrame:
    """Median CPU and wall seconds of every command over ``repeats`` interleaved runs, with ratios to torch."""
    lines = commands()
    runs = {label: [] for label in lines}
    for _ in range(repeats):
        for label, argv in lines.items():
            runs[label].append(timed(argv))
    cpu = {label: statistics.median(c for c, _ in seconds) for label, seconds in runs.items()}
    wall = {label: statistics.median(w for _, w in seconds) for label, seconds in runs.items()}
    return pd.DataFrame([{"command": label, "CPU s": f"{cpu[label]:.2f}", "wall s": f"{wall[label]:.2f}",
                          "CPU / import torch": f"{cpu[label] / cpu[REFERENCE]:.2f}",
                          "wall / import torch": f"{wall[label] / wall[REFERENCE]:.2f}"} for label in lines])


def main(argv: list[str] | None = None) -> int:
    """Measure and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    table = measure(args.repeats)
    print(f"median of {args.repeats} runs each, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(markdown_table(table), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
